// Embedding lookup (a learned table of vectors indexed by integer codes).
//
//   forward   out[p, :] = W[idx[p], :]                      p = 0 .. n_idx − 1
//   backward  dW[r, :] (+)= Σ_{p : idx[p] = r} g[p, :]       (summed in increasing p)
//
// The backward pass is a scatter-add done without atomics: the positions are first bucketed by
// table row (a stable counting sort), then each row's gradient is summed over its positions in
// increasing order, rows split over threads. Every row's sum therefore has one fixed order, and
// the result is bit-identical whatever the thread count.
#pragma once
#include <cstdint>

#include "core/check.hpp"

namespace pyssl::nn {

// Throws std::invalid_argument naming the first index outside [0, num).
void embedding_check_indices(const std::int64_t* idx, index_t n_idx, index_t num);

template <class T>
void embedding_forward(const T* weight, const std::int64_t* idx, T* out, index_t n_idx, index_t num, index_t dim);

// accumulate = false overwrites dW (rows no index points at become 0).
template <class T>
void embedding_backward(const std::int64_t* idx, const T* grad, T* dweight, index_t n_idx, index_t num,
                        index_t dim, bool accumulate);

}  // namespace pyssl::nn
