// Pointwise activations and their derivatives.
//   relu(x)    = max(x, 0)                      relu'(x) = [x > 0]
//   gelu(x)    = x Φ(x) (exact, erf form;       gelu'(x) = Φ(x) + x φ(x)
//                Hendrycks & Gimpel 2016)
//   tanh(x)                                      tanh'(x) = 1 − tanh(x)²
//   sigmoid(x) = 1 / (1 + e^−x)                  σ'(x) = σ(x)(1 − σ(x))
#pragma once
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "core/check.hpp"

namespace pyssl::nn {

// The ReLU's backward for one entry, g [y > 0] (y = relu(x), so y > 0 ⇔ x > 0), as a bitwise
// select: +0 where y ≤ 0 whatever g holds (inf, NaN), as `y > 0 ? g : 0`. Fused kernels call it
// inside loops that do more work per entry, where GCC leaves `y > 0 ? g[i] : 0` a branch ("control
// flow in loop", ~12× slower on random signs) but vectorizes the select.
template <class T>
inline T relu_grad(T y, T g) {
  using Bits = std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>;
  static_assert(sizeof(Bits) == sizeof(T), "relu_grad: float or double");
  Bits b;
  std::memcpy(&b, &g, sizeof(T));
  b &= y > T(0) ? ~Bits(0) : Bits(0);
  T r;
  std::memcpy(&r, &b, sizeof(T));
  return r;
}

enum class Activation : int { ReLU = 0, GELU = 1, Tanh = 2, Sigmoid = 3 };

template <class T>
void activation_forward(Activation act, const T* x, T* y, index_t n);

// dx = dy * act'(x); y = act(x) is passed in so tanh/sigmoid reuse it.
template <class T>
void activation_backward(Activation act, const T* x, const T* y, const T* dy, T* dx, index_t n);

}  // namespace pyssl::nn
