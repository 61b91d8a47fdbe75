// Numerically safe helpers used by the loss and layer kernels.
#pragma once
#include <algorithm>
#include <cmath>
#include <limits>

namespace pyssl {

// log(sum(exp(x[i]))) over a strided run, max-shifted.
template <class T>
inline T log_sum_exp(const T* x, long n) {
  T m = -std::numeric_limits<T>::infinity();
  for (long i = 0; i < n; ++i) m = std::max(m, x[i]);
  if (!std::isfinite(m)) return m;
  T s = 0;
  for (long i = 0; i < n; ++i) s += std::exp(x[i] - m);
  return m + std::log(s);
}

// Norm clamped from below, as torch.nn.functional.normalize does (eps = 1e-12 by default).
template <class T>
inline T clamped_norm(T sq, T eps) {
  return std::max(std::sqrt(sq), eps);
}

}  // namespace pyssl
