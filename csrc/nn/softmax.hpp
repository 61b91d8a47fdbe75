// Softmax and log-softmax over the last dimension, max-shifted (log-sum-exp) for stability.
//   x, y, dy, dx (N, K) row-major (any leading shape flattened into N rows).
//   softmax:     y_k = exp(x_k − m − log Σ_j exp(x_j − m)),  m = max_j x_j
//                dx_k = y_k (dy_k − Σ_j dy_j y_j)
//   log_softmax: y_k = x_k − m − log Σ_j exp(x_j − m)
//                dx_k = dy_k − exp(y_k) Σ_j dy_j
// Backward takes the forward output y (not x). A row with a +inf entry or all −inf is
// undefined (NaN), as in PyTorch; the Python layer rejects non-finite input.
#pragma once
#include "core/check.hpp"

namespace pyssl::nn {

template <class T>
void softmax_forward(const T* x, T* y, index_t n, index_t k, bool log);

template <class T>
void softmax_backward(const T* y, const T* dy, T* dx, index_t n, index_t k, bool log);

}  // namespace pyssl::nn
