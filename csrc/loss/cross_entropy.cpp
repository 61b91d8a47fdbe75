#include "loss/cross_entropy.hpp"

#include <cmath>

#include "core/fast_math.hpp"
#include "core/instantiate.hpp"
#include "parallel/parallel.hpp"

namespace pyssl::loss {

template <class T>
double cross_entropy(const T* logits, const std::int64_t* labels, T* dlogits, double* row_loss, index_t n,
                     index_t k, double label_smoothing) {
  PYSSL_CHECK(n >= 1 && k >= 1, "cross_entropy: need at least one row and one class, got N=", n, ", K=", k);
  PYSSL_CHECK(label_smoothing >= 0.0 && label_smoothing <= 1.0,
              "cross_entropy: label_smoothing must be in [0, 1], got ", label_smoothing);
  for (index_t i = 0; i < n; ++i)
    PYSSL_CHECK(labels[i] >= 0 && labels[i] < k, "cross_entropy: labels[", i, "] = ", labels[i],
                " is out of range [0, ", k, ") for logits with K=", k, " classes");
  const double eps = label_smoothing, on = 1.0 - eps, off = eps / double(k);
  const T inv_n = T(1.0 / double(n)), off_t = T(off), on_t = T(on);
  parallel_for(n, 16 * k, [&, inv_n, off_t, on_t](index_t r0, index_t r1) {
    for (index_t r = r0; r < r1; ++r) {
      const T* xr = logits + r * k;
      const index_t y = index_t(labels[r]);
      T m = xr[0];
#pragma omp simd reduction(max : m)
      for (index_t c = 1; c < k; ++c) m = xr[c] > m ? xr[c] : m;
      T s = 0, sx = 0;
      if (dlogits != nullptr) {
        T* gr = dlogits + r * k;
#pragma omp simd reduction(+ : s, sx)
        for (index_t c = 0; c < k; ++c) {
          const T e = fast_exp(xr[c] - m);
          gr[c] = e;
          s += e;
          sx += xr[c];
        }
        const T inv_s = T(1) / s;
#pragma omp simd
        for (index_t c = 0; c < k; ++c) gr[c] = (gr[c] * inv_s - off_t) * inv_n;
        gr[y] -= on_t * inv_n;
      } else {
#pragma omp simd reduction(+ : s, sx)
        for (index_t c = 0; c < k; ++c) {
          s += fast_exp(xr[c] - m);
          sx += xr[c];
        }
      }
      const double lse = double(m) + std::log(double(s));
      // −Σ_k t_k log p_k = lse − (1−ε) x_y − (ε/K) Σ_k x_k
      row_loss[r] = lse - on * double(xr[y]) - (eps > 0 ? off * double(sx) : 0.0);
    }
  });
  double total = 0;
  for (index_t r = 0; r < n; ++r) total += row_loss[r];
  return total / double(n);
}

#define PYSSL_CE(T) \
  template double cross_entropy<T>(const T*, const std::int64_t*, T*, double*, index_t, index_t, double);
PYSSL_INSTANTIATE_FLOATS(PYSSL_CE)
#undef PYSSL_CE

}  // namespace pyssl::loss
