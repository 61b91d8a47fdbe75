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
#include <cstddef>
#include <cstdint>

#include "core/check.hpp"
#include "core/workspace.hpp"

namespace pyssl::nn {

// Throws std::invalid_argument naming the first index outside [0, num).
void embedding_check_indices(const std::int64_t* idx, index_t n_idx, index_t num);

template <class T>
void embedding_forward(const T* weight, const std::int64_t* idx, T* out, index_t n_idx, index_t num, index_t dim);

// Scratch of the backward pass: the bucket starts (num + 1), the sorted positions (n_idx) and the
// fill cursors (num), all index_t.
struct EmbeddingBackwardWork {
  index_t* start;
  index_t* order;
  index_t* fill;
};

template <class Carver>
EmbeddingBackwardWork embedding_backward_layout(Carver& c, index_t n_idx, index_t num) {
  EmbeddingBackwardWork w;
  w.start = c.template take<index_t>(num + 1);
  w.order = c.template take<index_t>(n_idx);
  w.fill = c.template take<index_t>(num);
  return w;
}

// Bytes of `workspace` embedding_backward needs.
template <class T>
std::size_t embedding_backward_workspace(index_t n_idx, index_t num) {
  return workspace_bytes([&](auto& c) { embedding_backward_layout(c, n_idx, num); });
}

// accumulate = false overwrites dW (rows no index points at become 0). `workspace`: at least
// embedding_backward_workspace<T>(n_idx, num) bytes.
template <class T>
void embedding_backward(const std::int64_t* idx, const T* grad, T* dweight, index_t n_idx, index_t num,
                        index_t dim, bool accumulate, void* workspace);

}  // namespace pyssl::nn
