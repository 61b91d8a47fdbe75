#include "nn/softmax.hpp"

#include <cmath>

#include "core/fast_math.hpp"
#include "core/instantiate.hpp"
#include "parallel/parallel.hpp"

namespace pyssl::nn {

template <class T>
void softmax_forward(const T* x, T* y, index_t n, index_t k, bool log) {
  parallel_for(n, 12 * k, [&](index_t r0, index_t r1) {
    for (index_t r = r0; r < r1; ++r) {
      const T* xr = x + r * k;
      T* yr = y + r * k;
      T m = xr[0];
#pragma omp simd reduction(max : m)
      for (index_t c = 1; c < k; ++c) m = xr[c] > m ? xr[c] : m;
      if (log) {
        T s = 0;
#pragma omp simd reduction(+ : s)
        for (index_t c = 0; c < k; ++c) s += fast_exp(xr[c] - m);
        const T shift = m + std::log(s);
#pragma omp simd
        for (index_t c = 0; c < k; ++c) yr[c] = xr[c] - shift;
      } else {
        T s = 0;
#pragma omp simd reduction(+ : s)
        for (index_t c = 0; c < k; ++c) {
          const T e = fast_exp(xr[c] - m);
          yr[c] = e;
          s += e;
        }
        const T inv = T(1) / s;
#pragma omp simd
        for (index_t c = 0; c < k; ++c) yr[c] *= inv;
      }
    }
  });
}

template <class T>
void softmax_backward(const T* y, const T* dy, T* dx, index_t n, index_t k, bool log) {
  parallel_for(n, log ? 12 * k : 4 * k, [&](index_t r0, index_t r1) {
    for (index_t r = r0; r < r1; ++r) {
      const T* yr = y + r * k;
      const T* gr = dy + r * k;
      T* dxr = dx + r * k;
      T s = 0;
      if (log) {
#pragma omp simd reduction(+ : s)
        for (index_t c = 0; c < k; ++c) s += gr[c];
#pragma omp simd
        for (index_t c = 0; c < k; ++c) dxr[c] = gr[c] - fast_exp(yr[c]) * s;
      } else {
#pragma omp simd reduction(+ : s)
        for (index_t c = 0; c < k; ++c) s += gr[c] * yr[c];
#pragma omp simd
        for (index_t c = 0; c < k; ++c) dxr[c] = yr[c] * (gr[c] - s);
      }
    }
  });
}

#define PYSSL_SOFTMAX(T)                                                      \
  template void softmax_forward<T>(const T*, T*, index_t, index_t, bool);     \
  template void softmax_backward<T>(const T*, const T*, T*, index_t, index_t, bool);
PYSSL_INSTANTIATE_FLOATS(PYSSL_SOFTMAX)
#undef PYSSL_SOFTMAX

}  // namespace pyssl::nn
