#include "loss/negative_cosine.hpp"

#include <algorithm>
#include <cmath>

#include "core/instantiate.hpp"
#include "loss/rows.hpp"

namespace pyssl::loss {

template <class T>
double negative_cosine(const T* p, const T* z, index_t n, index_t d, T shift, T scale, T* dp, T* partial) {
  const T coef = -scale / T(n);
  parallel_for(n, 6 * d, [&](index_t b0, index_t b1) {
    for (index_t i = b0; i < b1; ++i) {
      const T* pi = p + i * d;
      const T* zi = z + i * d;
      T pp = T(0), zz = T(0), pz = T(0);
#pragma omp simd reduction(+ : pp, zz, pz)
      for (index_t j = 0; j < d; ++j) {
        pp += pi[j] * pi[j];
        zz += zi[j] * zi[j];
        pz += pi[j] * zi[j];
      }
      const T pn = std::sqrt(pp), zn = std::sqrt(zz);
      const T ip = T(1) / std::max(pn, T(kNormEps)), iz = T(1) / std::max(zn, T(kNormEps));
      const T cos = pz * ip * iz;
      partial[i] = cos;
      // d cos / dp = (ẑ − cos p̂) / |p|  (= ẑ / eps for a clamped p)
      const T a = coef * iz * ip;                          // multiplies z
      const T b = pn > T(kNormEps) ? coef * cos * ip : T(0);  // the −cos p̂ / |p| term
      const T bb = b * ip;
      T* o = dp + i * d;
#pragma omp simd
      for (index_t j = 0; j < d; ++j) o[j] = a * zi[j] - bb * pi[j];
    }
  });
  return double(shift) - double(scale) * sum_serial(partial, n) / double(n);
}

#define PYSSL_NEGCOS(T) \
  template double negative_cosine<T>(const T*, const T*, index_t, index_t, T, T, T*, T*);
PYSSL_INSTANTIATE_FLOATS(PYSSL_NEGCOS)
#undef PYSSL_NEGCOS

}  // namespace pyssl::loss
