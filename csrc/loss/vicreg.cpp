#include "loss/vicreg.hpp"

#include <cmath>

#include "blas/blas_api.hpp"
#include "core/instantiate.hpp"
#include "loss/rows.hpp"

namespace pyssl::loss {

namespace {

// One branch: centres z into x, fills coef (variance-term gradient per column, already weighted)
// and writes the covariance-term gradient into dz. Returns {v(z), c(z)}.
template <class T>
void branch(const T* z, T* x, T* coef, T* dz, index_t n, index_t d, T var_w, T cov_w, T eps,
            const VicregWork<T>& w, double out[2]) {
  column_moments(z, n, d, w.mean, w.ssd);
  const double nm1 = double(n - 1);
  double v = 0.0;
  for (index_t c = 0; c < d; ++c) {
    const double sd = std::sqrt(w.ssd[c] / nm1 + double(eps));
    // d/dz_nc of relu(1 − sd)/D · var_w/2 = −[sd < 1] x_nc / ((N−1) sd) · var_w / (2D)
    if (sd < 1.0) {
      v += 1.0 - sd;
      coef[c] = T(-double(var_w) / (2.0 * double(d) * nm1 * sd));
    } else {
      coef[c] = T(0);
    }
  }
  out[0] = v / double(d);
  // x = z − mean (scale 1)
  parallel_for(n, d, [&](index_t b0, index_t b1) {
    const T* mean = w.mean;
    for (index_t r = b0; r < b1; ++r) {
      const T* zr = z + r * d;
      T* xr = x + r * d;
#pragma omp simd
      for (index_t c = 0; c < d; ++c) xr[c] = zr[c] - mean[c];
    }
  });
  gram(x, d, n, d, T(1.0 / nm1), true, w.cov);  // cov = xᵀx / (N − 1)
  // Off-diagonal squares; cov becomes dc/dcov · cov_w = 2 cov_w cov_ij / D off the diagonal.
  const T g = T(2.0 * double(cov_w) / double(d));
  parallel_for(d, 3 * d, [&](index_t b0, index_t b1) {
    const T gc = g;
    for (index_t i = b0; i < b1; ++i) {
      T* row = w.cov + i * d;
      row[i] = T(0);
      T s = T(0);
#pragma omp simd reduction(+ : s)
      for (index_t j = 0; j < d; ++j) s += row[j] * row[j];
      w.partial[i] = s;
#pragma omp simd
      for (index_t j = 0; j < d; ++j) row[j] *= gc;
    }
  });
  out[1] = sum_serial(w.partial, d) / double(d);
  // dL/dx = x (G + Gᵀ) / (N − 1) = 2 x G / (N − 1), G symmetric; centring adds nothing since
  // the columns of x G sum to zero.
  blas::gemm<T>(blas::Trans::No, blas::Trans::No, n, d, d, T(2.0 / nm1), x, d, w.cov, d, T(0), dz, d);
}

}  // namespace

template <class T>
double vicreg(const T* z1, const T* z2, index_t n, index_t d, T sim_w, T var_w, T cov_w, T eps, T* dz1, T* dz2,
              const VicregWork<T>& w, double* terms) {
  double b1[2], b2[2];
  branch(z1, w.x1, w.coef1, dz1, n, d, var_w, cov_w, eps, w, b1);
  branch(z2, w.x2, w.coef2, dz2, n, d, var_w, cov_w, eps, w, b2);
  // Fused pass: invariance term and its gradient, plus the variance-term gradients.
  const T gi = T(2.0 * double(sim_w) / (double(n) * double(d)));
  parallel_for(n, 4 * d, [&](index_t r0, index_t r1) {
    // Locals, not captures: GCC does not vectorise loops that re-read captured references.
    const T g = gi;
    const T* c1 = w.coef1;
    const T* c2 = w.coef2;
    for (index_t r = r0; r < r1; ++r) {
      const T* a = z1 + r * d;
      const T* b = z2 + r * d;
      const T* xa = w.x1 + r * d;
      const T* xb = w.x2 + r * d;
      T* da = dz1 + r * d;
      T* db = dz2 + r * d;
      T s = T(0);
#pragma omp simd reduction(+ : s)
      for (index_t c = 0; c < d; ++c) {
        const T diff = a[c] - b[c];
        s += diff * diff;
        da[c] += g * diff + c1[c] * xa[c];
        db[c] += -g * diff + c2[c] * xb[c];
      }
      w.partial[r] = s;
    }
  });
  terms[0] = sum_serial(w.partial, n) / (double(n) * double(d));
  terms[1] = 0.5 * (b1[0] + b2[0]);
  terms[2] = b1[1] + b2[1];
  return double(sim_w) * terms[0] + double(var_w) * terms[1] + double(cov_w) * terms[2];
}

#define PYSSL_VICREG(T)                                                                               \
  template double vicreg<T>(const T*, const T*, index_t, index_t, T, T, T, T, T*, T*, const VicregWork<T>&, \
                            double*);
PYSSL_INSTANTIATE_FLOATS(PYSSL_VICREG)
#undef PYSSL_VICREG

}  // namespace pyssl::loss
