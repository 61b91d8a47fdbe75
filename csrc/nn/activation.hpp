// Pointwise activations and their derivatives.
//   relu(x)    = max(x, 0)                      relu'(x) = [x > 0]
//   gelu(x)    = x Φ(x) (exact, erf form;       gelu'(x) = Φ(x) + x φ(x)
//                Hendrycks & Gimpel 2016)
//   tanh(x)                                      tanh'(x) = 1 − tanh(x)²
//   sigmoid(x) = 1 / (1 + e^−x)                  σ'(x) = σ(x)(1 − σ(x))
#pragma once
#include "core/check.hpp"

namespace pyssl::nn {

enum class Activation : int { ReLU = 0, GELU = 1, Tanh = 2, Sigmoid = 3 };

template <class T>
void activation_forward(Activation act, const T* x, T* y, index_t n);

// dx = dy * act'(x); y = act(x) is passed in so tanh/sigmoid reuse it.
template <class T>
void activation_backward(Activation act, const T* x, const T* y, const T* dy, T* dx, index_t n);

}  // namespace pyssl::nn
