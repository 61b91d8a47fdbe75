#include "loss/swav.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/fast_math.hpp"
#include "core/instantiate.hpp"
#include "loss/rows.hpp"

namespace pyssl::loss {

template <class T>
void sinkhorn(const T* scores, index_t n, index_t k, T epsilon, int iterations, T* codes,
              const SinkhornWork<T>& w) {
  const double inv_eps = 1.0 / double(epsilon);
  const double log_n = std::log(double(n)), log_k = std::log(double(k));
  const double ninf = -std::numeric_limits<double>::infinity();
  for (index_t i = 0; i < n; ++i) w.v[i] = 0.0;
  for (int it = 0; it < iterations; ++it) {
    // Prototype rows: u_k = −log K − LSE_n(x_nk + v_n), column blocks of the (N, K) layout.
    for_column_blocks(n, k, [&](index_t c0, index_t c1) {
      const double ie = inv_eps;  // locals, not captures: see vicreg.cpp
      const double* v = w.v;
      const index_t wd = c1 - c0;
      double m[64], s[64];
      for (index_t c = 0; c < wd; ++c) m[c] = ninf, s[c] = 0.0;
      for (index_t r = 0; r < n; ++r) {
        const T* row = scores + r * k + c0;
        const double vr = v[r];
#pragma omp simd
        for (index_t c = 0; c < wd; ++c) m[c] = std::max(m[c], double(row[c]) * ie + vr);
      }
      for (index_t r = 0; r < n; ++r) {
        const T* row = scores + r * k + c0;
        const double vr = v[r];
#pragma omp simd
        for (index_t c = 0; c < wd; ++c) s[c] += fast_exp(double(row[c]) * ie + vr - m[c]);
      }
      for (index_t c = 0; c < wd; ++c) w.u[c0 + c] = -log_k - (m[c] + std::log(s[c]));
    });
    // Sample columns: v_n = −log N − LSE_k(x_nk + u_k); the last one drops −log N (codes ×N).
    const double off = it + 1 == iterations ? 0.0 : log_n;
    parallel_rows(n, 8 * k, [&](index_t r0, index_t r1) {
      const double ie = inv_eps, o = off;
      const double* u = w.u;
      double* v = w.v;
      for (index_t r = r0; r < r1; ++r) {
        const T* row = scores + r * k;
        double m = ninf;
#pragma omp simd reduction(max : m)
        for (index_t c = 0; c < k; ++c) m = std::max(m, double(row[c]) * ie + u[c]);
        double s = 0.0;
#pragma omp simd reduction(+ : s)
        for (index_t c = 0; c < k; ++c) s += fast_exp(double(row[c]) * ie + u[c] - m);
        v[r] = -o - (m + std::log(s));
      }
    });
  }
  parallel_rows(n, 4 * k, [&](index_t r0, index_t r1) {
    const double ie = inv_eps;
    const double* u = w.u;
    for (index_t r = r0; r < r1; ++r) {
      const T* row = scores + r * k;
      T* q = codes + r * k;
      const double vr = w.v[r];
      // In chunks through a double buffer: GCC does not vectorise exp(double) -> float stores.
      double buf[256];
      for (index_t c0 = 0; c0 < k; c0 += 256) {
        const index_t wd = k - c0 < 256 ? k - c0 : 256;
#pragma omp simd
        for (index_t c = 0; c < wd; ++c) buf[c] = fast_exp(double(row[c0 + c]) * ie + u[c0 + c] + vr);
#pragma omp simd
        for (index_t c = 0; c < wd; ++c) q[c0 + c] = T(buf[c]);
      }
    }
  });
}

namespace {
// Cross-entropy of targets q against softmax(s/τ) for each row; writes ds = ((Σq) p − q) · g and
// the per-row loss Σ_k q_k (lse − s_k/τ).
template <class T>
void soft_cross_entropy_rows(const T* s, const T* q, index_t n, index_t k, T inv_t, T g, T* ds, T* partial) {
  parallel_rows(n, 16 * k, [=](index_t r0, index_t r1) {
    for (index_t r = r0; r < r1; ++r) {
      const T* sr = s + r * k;
      const T* qr = q + r * k;
      T* dr = ds + r * k;
      const T lse = softmax_row(sr, dr, k, inv_t);
      T sq = T(0), sqs = T(0);
#pragma omp simd reduction(+ : sq, sqs)
      for (index_t c = 0; c < k; ++c) {
        sq += qr[c];
        sqs += qr[c] * sr[c];
      }
      partial[r] = sq * lse - inv_t * sqs;
      const T a = sq * g;
#pragma omp simd
      for (index_t c = 0; c < k; ++c) dr[c] = a * dr[c] - g * qr[c];
    }
  });
}
}  // namespace

template <class T>
double swav(const T* s1, const T* s2, index_t n, index_t k, T temperature, T epsilon, int iterations, T* ds1,
            T* ds2, const SwavWork<T>& w) {
  sinkhorn(s1, n, k, epsilon, iterations, w.q1, w.sk);
  sinkhorn(s2, n, k, epsilon, iterations, w.q2, w.sk);
  const T inv_t = T(1) / temperature;
  const T g = T(double(inv_t) / (2.0 * double(n)));
  soft_cross_entropy_rows(s1, w.q2, n, k, inv_t, g, ds1, w.partial);
  soft_cross_entropy_rows(s2, w.q1, n, k, inv_t, g, ds2, w.partial + n);
  return sum_serial(w.partial, 2 * n) / (2.0 * double(n));
}

#define PYSSL_SWAV(T)                                                                                 \
  template void sinkhorn<T>(const T*, index_t, index_t, T, int, T*, const SinkhornWork<T>&);          \
  template double swav<T>(const T*, const T*, index_t, index_t, T, T, int, T*, T*, const SwavWork<T>&);
PYSSL_INSTANTIATE_FLOATS(PYSSL_SWAV)
#undef PYSSL_SWAV

}  // namespace pyssl::loss
