#include "loss/barlow_twins.hpp"

#include <cmath>

#include "blas/blas_api.hpp"
#include "core/instantiate.hpp"
#include "loss/rows.hpp"

namespace pyssl::loss {

namespace {
// zt = (z − mean) / sqrt(var_biased + eps); writes inv_std.
template <class T>
void standardize(const T* z, T* zt, T* mean, T* inv_std, double* ssd, index_t n, index_t d, T eps) {
  column_moments(z, n, d, mean, ssd);
  for (index_t c = 0; c < d; ++c) inv_std[c] = T(1.0 / std::sqrt(ssd[c] / double(n) + double(eps)));
  center_scale_columns(z, mean, inv_std, zt, n, d);
}
}  // namespace

template <class T>
double barlow_twins(const T* z1, const T* z2, index_t n, index_t d, T lambd, T scale, T eps, T* dz1, T* dz2,
                    const BarlowTwinsWork<T>& w) {
  standardize(z1, w.zt1, w.mean, w.inv_std1, w.ssd, n, d, eps);
  standardize(z2, w.zt2, w.mean, w.inv_std2, w.ssd, n, d, eps);
  const T inv_n = T(1) / T(n);
  blas::gemm<T>(blas::Trans::Yes, blas::Trans::No, d, d, n, inv_n, w.zt1, d, w.zt2, d, T(0), w.corr, d);
  // Row pass over C: loss partials, and C is replaced by dL/dC.
  parallel_for(d, 3 * d, [&](index_t b0, index_t b1) {
    for (index_t i = b0; i < b1; ++i) {
      T* row = w.corr + i * d;
      const T cii = row[i];
      row[i] = T(0);
      T off = T(0);
#pragma omp simd reduction(+ : off)
      for (index_t j = 0; j < d; ++j) off += row[j] * row[j];
      w.partial[i] = (T(1) - cii) * (T(1) - cii) + lambd * off;
      const T g = T(2) * lambd * scale;
#pragma omp simd
      for (index_t j = 0; j < d; ++j) row[j] *= g;
      row[i] = -T(2) * scale * (T(1) - cii);
    }
  });
  const double loss = double(scale) * sum_serial(w.partial, d);
  // dz̃1 = z̃2 Gᵀ / N, dz̃2 = z̃1 G / N, then through the standardisation.
  blas::gemm<T>(blas::Trans::No, blas::Trans::Yes, n, d, d, inv_n, w.zt2, d, w.corr, d, T(0), dz1, d);
  blas::gemm<T>(blas::Trans::No, blas::Trans::No, n, d, d, inv_n, w.zt1, d, w.corr, d, T(0), dz2, d);
  standardize_backward(w.zt1, w.inv_std1, dz1, n, d);
  standardize_backward(w.zt2, w.inv_std2, dz2, n, d);
  return loss;
}

#define PYSSL_BT(T)                                                                           \
  template double barlow_twins<T>(const T*, const T*, index_t, index_t, T, T, T, T*, T*, \
                                  const BarlowTwinsWork<T>&);
PYSSL_INSTANTIATE_FLOATS(PYSSL_BT)
#undef PYSSL_BT

}  // namespace pyssl::loss
