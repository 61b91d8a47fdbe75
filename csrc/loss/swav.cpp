#include "loss/swav.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/fast_math.hpp"
#include "core/instantiate.hpp"
#include "loss/rows.hpp"

namespace pyssl::loss {

namespace {

// Fast path: the official multiplicative iterations on E = exp((S − m_k)/ε), shifted per
// prototype k (a prototype's factor cancels in its own normalisation, so the shift changes
// nothing). E lives in `codes` (type T), the scalings a (K,) and b (N,) and all sums in double.
// Returns false, leaving the work to the log-domain path, when some sample's largest entry is
// so small that underflow would distort its normalisation.
template <class T>
bool sinkhorn_scaling(const T* scores, index_t n, index_t k, T epsilon, int iterations, T* codes,
                      const SinkhornWork<T>& w) {
  const double inv_eps = 1.0 / double(epsilon);
  const double ninf = -std::numeric_limits<double>::infinity();
  const T floor = sizeof(T) == 4 ? T(1e-20) : T(1e-200);
  // Column maxima into u.
  for_column_blocks(k, kColumnBlock, n, [&](index_t c0, index_t c1) {
    double m[64];
    const index_t wd = c1 - c0;
    for (index_t c = 0; c < wd; ++c) m[c] = ninf;
    for (index_t r = 0; r < n; ++r) {
      const T* row = scores + r * k + c0;
#pragma omp simd
      for (index_t c = 0; c < wd; ++c) m[c] = std::max(m[c], double(row[c]));
    }
    for (index_t c = 0; c < wd; ++c) w.u[c0 + c] = m[c];
  });
  // E = exp((s − m_k)/ε) in T, and each sample's largest entry into v.
  parallel_for(n, 8 * k, [&](index_t r0, index_t r1) {
    const double ie = inv_eps;  // locals, not captures: see vicreg.cpp
    const double* mk = w.u;
    for (index_t r = r0; r < r1; ++r) {
      const T* row = scores + r * k;
      T* e = codes + r * k;
      T big = T(0);
      double buf[256];
      for (index_t c0 = 0; c0 < k; c0 += 256) {
        const index_t wd = k - c0 < 256 ? k - c0 : 256;
#pragma omp simd
        for (index_t c = 0; c < wd; ++c) buf[c] = fast_exp((double(row[c0 + c]) - mk[c0 + c]) * ie);
#pragma omp simd reduction(max : big)
        for (index_t c = 0; c < wd; ++c) {
          e[c0 + c] = T(buf[c]);
          big = e[c0 + c] > big ? e[c0 + c] : big;  // (the std::max form stayed scalar)
        }
      }
      w.v[r] = double(big);
    }
  });
  for (index_t r = 0; r < n; ++r)
    if (!(w.v[r] >= double(floor))) return false;
  for (index_t r = 0; r < n; ++r) w.v[r] = 1.0;  // b
  const double inv_k = 1.0 / double(k), inv_n = 1.0 / double(n);
  for (int it = 0; it < iterations; ++it) {
    // Prototypes: a_k = 1 / (K Σ_n E_nk b_n).
    for_column_blocks(k, kColumnBlock, n, [&](index_t c0, index_t c1) {
      double acc[64];
      const index_t wd = c1 - c0;
      const double* b = w.v;
      for (index_t c = 0; c < wd; ++c) acc[c] = 0.0;
      for (index_t r = 0; r < n; ++r) {
        const T* e = codes + r * k + c0;
        const double br = b[r];
#pragma omp simd
        for (index_t c = 0; c < wd; ++c) acc[c] += double(e[c]) * br;
      }
      for (index_t c = 0; c < wd; ++c) w.u[c0 + c] = inv_k / acc[c];
    });
    // Samples: b_n = 1 / (N Σ_k E_nk a_k); the last iteration's ×N makes codes sum to 1.
    const double scale = it + 1 == iterations ? 1.0 : inv_n;
    parallel_for(n, 2 * k, [&](index_t r0, index_t r1) {
      const double* a = w.u;
      const double sc = scale;
      for (index_t r = r0; r < r1; ++r) {
        const T* e = codes + r * k;
        double sum = 0.0;
#pragma omp simd reduction(+ : sum)
        for (index_t c = 0; c < k; ++c) sum += double(e[c]) * a[c];
        w.v[r] = sc / sum;
      }
    });
  }
  parallel_for(n, 2 * k, [&](index_t r0, index_t r1) {
    const double* a = w.u;
    for (index_t r = r0; r < r1; ++r) {
      T* e = codes + r * k;
      const double br = w.v[r];
#pragma omp simd
      for (index_t c = 0; c < k; ++c) e[c] = T(double(e[c]) * a[c] * br);
    }
  });
  return true;
}

// Stable path: the same iterations on log-scalings u (K,), v (N,) with log-sum-exp sums.
template <class T>
void sinkhorn_log(const T* scores, index_t n, index_t k, T epsilon, int iterations, T* codes,
                  const SinkhornWork<T>& w) {
  const double inv_eps = 1.0 / double(epsilon);
  const double log_n = std::log(double(n)), log_k = std::log(double(k));
  const double ninf = -std::numeric_limits<double>::infinity();
  for (index_t i = 0; i < n; ++i) w.v[i] = 0.0;
  for (int it = 0; it < iterations; ++it) {
    // Prototype rows: u_k = −log K − LSE_n(x_nk + v_n), column blocks of the (N, K) layout.
    for_column_blocks(k, kColumnBlock, n, [&](index_t c0, index_t c1) {
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
    parallel_for(n, 8 * k, [&](index_t r0, index_t r1) {
      const double ie = inv_eps, o = off;
      const double* u = w.u;
      double* v = w.v;
      for (index_t r = r0; r < r1; ++r) {
        const T* row = scores + r * k;
        double m = ninf;
#pragma omp simd reduction(max : m)
        for (index_t c = 0; c < k; ++c) {
          const double v = double(row[c]) * ie + u[c];
          m = v > m ? v : m;  // (the std::max form stayed scalar)
        }
        double s = 0.0;
#pragma omp simd reduction(+ : s)
        for (index_t c = 0; c < k; ++c) s += fast_exp(double(row[c]) * ie + u[c] - m);
        v[r] = -o - (m + std::log(s));
      }
    });
  }
  parallel_for(n, 4 * k, [&](index_t r0, index_t r1) {
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

}  // namespace

template <class T>
void sinkhorn(const T* scores, index_t n, index_t k, T epsilon, int iterations, T* codes,
              const SinkhornWork<T>& w) {
  if (!sinkhorn_scaling(scores, n, k, epsilon, iterations, codes, w))
    sinkhorn_log(scores, n, k, epsilon, iterations, codes, w);
}

namespace {
// Cross-entropy of targets q against softmax(s/τ) for each row; writes ds = ((Σq) p − q) · g and
// the per-row loss Σ_k q_k (lse − s_k/τ).
template <class T>
void soft_cross_entropy_rows(const T* s, const T* q, index_t n, index_t k, T inv_t, T g, T* ds, T* partial) {
  parallel_for(n, 16 * k, [=](index_t r0, index_t r1) {
    for (index_t r = r0; r < r1; ++r) {
      const T* sr = s + r * k;
      const T* qr = q + r * k;
      T* dr = ds + r * k;
      T mx;
      const T log_sum = softmax_row_parts(sr, dr, k, inv_t, mx);
      // Σ_c q_c (lse − s_c/τ) = (Σq)·log_sum + Σ_c q_c (max − s_c)/τ: every term ≥ 0, no cancellation
      T sq = T(0), sqd = T(0);
#pragma omp simd reduction(+ : sq, sqd)
      for (index_t c = 0; c < k; ++c) {
        sq += qr[c];
        sqd += qr[c] * (mx - sr[c]);
      }
      partial[r] = sq * log_sum + inv_t * sqd;
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
