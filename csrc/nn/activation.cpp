#include "nn/activation.hpp"

#include <cmath>

#include "core/elementwise.hpp"
#include "core/instantiate.hpp"

namespace pyssl::nn {
namespace {
template <class T>
inline T sigmoid(T x) {
  // Stable for large |x|.
  if (x >= T(0)) return T(1) / (T(1) + std::exp(-x));
  const T e = std::exp(x);
  return e / (T(1) + e);
}
constexpr double kInvSqrt2 = 0.70710678118654752440;
constexpr double kInvSqrt2Pi = 0.39894228040143267794;
}  // namespace

template <class T>
void activation_forward(Activation act, const T* x, T* y, index_t n) {
  switch (act) {
    case Activation::ReLU:
      map_unary(x, y, n, [](T v) { return v > T(0) ? v : T(0); });
      break;
    case Activation::GELU:
      map_unary(x, y, n, [](T v) { return T(0.5) * v * (T(1) + std::erf(v * T(kInvSqrt2))); }, 16);
      break;
    case Activation::Tanh:
      map_unary(x, y, n, [](T v) { return std::tanh(v); }, 16);
      break;
    case Activation::Sigmoid:
      map_unary(x, y, n, [](T v) { return sigmoid(v); }, 16);
      break;
    default:
      fail("unknown activation id ", int(act));
  }
}

template <class T>
void activation_backward(Activation act, const T* x, const T* y, const T* dy, T* dx, index_t n) {
  switch (act) {
    case Activation::ReLU:
      map_binary(x, dy, dx, n, [](T v, T g) { return v > T(0) ? g : T(0); });
      break;
    case Activation::GELU:
      map_binary(x, dy, dx, n, [](T v, T g) {
        const T cdf = T(0.5) * (T(1) + std::erf(v * T(kInvSqrt2)));
        const T pdf = T(kInvSqrt2Pi) * std::exp(T(-0.5) * v * v);
        return g * (cdf + v * pdf);
      }, 16);
      break;
    case Activation::Tanh:
      map_binary(y, dy, dx, n, [](T t, T g) { return g * (T(1) - t * t); });
      break;
    case Activation::Sigmoid:
      map_binary(y, dy, dx, n, [](T s, T g) { return g * s * (T(1) - s); });
      break;
    default:
      fail("unknown activation id ", int(act));
  }
}

#define PYSSL_ACT(T)                                                          \
  template void activation_forward<T>(Activation, const T*, T*, index_t);     \
  template void activation_backward<T>(Activation, const T*, const T*, const T*, T*, index_t);
PYSSL_INSTANTIATE_FLOATS(PYSSL_ACT)
#undef PYSSL_ACT

}  // namespace pyssl::nn
