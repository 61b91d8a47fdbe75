// Dense (fully connected) layer: Y = X W + b.
//   X (N, I), W (I, O), b (O), Y (N, O).
// Backward: dX = dY Wᵀ, dW (+)= Xᵀ dY, db (+)= Σ_n dY[n, :].
// Gradients of parameters are accumulated when `accumulate` is true (two views through one
// encoder add their contributions), overwritten otherwise.
#pragma once
#include "core/check.hpp"

namespace pyssl::nn {

template <class T>
void dense_forward(const T* x, const T* w, const T* b, T* y, index_t n, index_t in, index_t out);

// dx may be null (first layer: no input gradient needed).
template <class T>
void dense_backward(const T* x, const T* w, const T* dy, T* dx, T* dw, T* db, index_t n, index_t in,
                    index_t out, bool accumulate);

// Column sums of a (n, d) row-major matrix in a fixed order (deterministic for any thread count).
template <class T>
void column_sum(const T* a, T* out, index_t n, index_t d, bool accumulate);

}  // namespace pyssl::nn
