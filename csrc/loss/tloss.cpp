#include "loss/tloss.hpp"

#include <cmath>

#include "core/instantiate.hpp"
#include "loss/rows.hpp"

namespace pyssl::loss {

namespace {

// log σ(x) and σ(−x), stably in double.
inline void log_sigmoid(double x, double& value, double& grad) {
  if (x >= 0) {
    const double e = std::exp(-x);
    value = -std::log1p(e);
    grad = e / (1.0 + e);
  } else {
    const double e = std::exp(x);
    value = x - std::log1p(e);
    grad = 1.0 / (1.0 + e);
  }
}

}  // namespace

template <class T>
double tloss_triplet(const T* z, const T* p, const T* n, index_t b, index_t k, index_t d, T* dz, T* dp, T* dn,
                     double* partial) {
  PYSSL_CHECK(b >= 1 && d >= 1, "tloss: z must be a non-empty (B, D) array, got (", b, ", ", d, ")");
  PYSSL_CHECK(k >= 1, "tloss: at least one negative per anchor is needed, got K = ", k);
  const double inv_b = 1.0 / double(b), inv_kb = 1.0 / (double(k) * double(b));
  parallel_for(b, (k + 1) * 4 * d, [&](index_t j0, index_t j1) {
    for (index_t j = j0; j < j1; ++j) {
      const T* zj = z + j * d;
      T* dzj = dz + j * d;
      double v, g;
      log_sigmoid(double(dot(zj, p + j * d, d)), v, g);
      double sum = -v * inv_b;
      // d(−log σ(s))/ds = −σ(−s)
      const T gp = T(-g * inv_b);
      for (index_t c = 0; c < d; ++c) {
        dzj[c] = gp * p[j * d + c];
        dp[j * d + c] = gp * zj[c];
      }
      for (index_t q = 0; q < k; ++q) {
        const T* nq = n + (q * b + j) * d;
        T* dnq = dn + (q * b + j) * d;
        log_sigmoid(-double(dot(zj, nq, d)), v, g);
        sum -= v * inv_kb;
        // d(−log σ(−s))/ds = σ(s) = g (the σ(−x) of x = −s)
        const T gn = T(g * inv_kb);
        for (index_t c = 0; c < d; ++c) {
          dzj[c] += gn * nq[c];
          dnq[c] = gn * zj[c];
        }
      }
      partial[j] = sum;
    }
  });
  double loss = 0.0;
  for (index_t j = 0; j < b; ++j) loss += partial[j];
  return loss;
}

#define PYSSL_TLOSS(T) \
  template double tloss_triplet<T>(const T*, const T*, const T*, index_t, index_t, index_t, T*, T*, T*, double*);
PYSSL_INSTANTIATE_FLOATS(PYSSL_TLOSS)
#undef PYSSL_TLOSS

}  // namespace pyssl::loss
