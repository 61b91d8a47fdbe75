// Dense (fully connected) layer: Y = X W + b.
//   X (N, I), W (I, O), b (O), Y (N, O).
// Backward: dX = dY Wᵀ, dW (+)= Xᵀ dY, db (+)= Σ_n dY[n, :].
// Gradients of parameters are accumulated when `accumulate` is true (two views through one
// encoder add their contributions), overwritten otherwise.
#pragma once
#include "core/bf16.hpp"
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

// Mixed precision (float32 layer, bfloat16 products with float32 sums; Micikevicius et al., 2018,
// "Mixed Precision Training", with bf16 in place of fp16 as in Kalamkar et al., 2019):
//   xb = bf16(X), wb = bf16(W)        (written for backward; w == nullptr: wb already holds bf16(W),
//                                     the copy an optimizer step wrote, optim/flat.hpp)
//   Y  = b + xb · wb
// Backward with dyb = bf16(dY) (scratch, (N, O)):
//   dX = dyb · wbᵀ,  dW (+)= xbᵀ · dyb,  db (+)= Σ_n dY[n, :] (float32, from dY itself).
void dense_forward_bf16(const float* x, const float* w, const float* b, float* y, bf16_t* xb, bf16_t* wb,
                        index_t n, index_t in, index_t out);
void dense_backward_bf16(const bf16_t* xb, const bf16_t* wb, const float* dy, bf16_t* dyb, float* dx,
                         float* dw, float* db, index_t n, index_t in, index_t out, bool accumulate);

}  // namespace pyssl::nn
