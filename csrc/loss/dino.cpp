#include "loss/dino.hpp"

#include "core/instantiate.hpp"
#include "loss/rows.hpp"

namespace pyssl::loss {

template <class T>
double dino(const T* student, const T* teacher, const T* center, index_t vs, index_t vt, index_t n, index_t k,
            T student_temp, T teacher_temp, T* dstudent, const DinoWork<T>& w) {
  const T inv_tt = T(1) / teacher_temp, inv_ts = T(1) / student_temp;
  const index_t pairs = vt * vs - vt;  // teacher view v is never paired with student view v (vt <= vs)
  // Teacher: per sample n, softmax of each view then their sum (views in order).
  parallel_for(n, 16 * k * vt, [&](index_t r0, index_t r1) {
    const T* cen = center;  // locals, not captures: see vicreg.cpp
    for (index_t i = r0; i < r1; ++i) {
      T* tot = w.qtot + i * k;
      for (index_t c = 0; c < k; ++c) tot[c] = T(0);
      for (index_t v = 0; v < vt; ++v) {
        const T* t = teacher + (v * n + i) * k;
        T* q = w.tq + (v * n + i) * k;
#pragma omp simd
        for (index_t c = 0; c < k; ++c) q[c] = t[c] - cen[c];
        softmax_row(q, q, k, inv_tt);
#pragma omp simd
        for (index_t c = 0; c < k; ++c) tot[c] += q[c];
      }
    }
  });
  // Student rows (u, n): targets Σ_{v≠u} q_v = qtot − [u < Vt] q_u.
  const T g = T(double(inv_ts) / (double(n) * double(pairs)));
  parallel_for(vs * n, 20 * k, [&](index_t r0, index_t r1) {
    const T gl = g, its = inv_ts;
    for (index_t r = r0; r < r1; ++r) {
      const index_t u = r / n, i = r % n;
      const T* s = student + r * k;
      const T* tot = w.qtot + i * k;
      const T* own = u < vt ? w.tq + (u * n + i) * k : nullptr;
      T* ds = dstudent + r * k;
      T mx;
      const T log_sum = softmax_row_parts(s, ds, k, its, mx);
      // Σ_c q_c (lse − s_c/τ) = (Σq)·log_sum + Σ_c q_c (max − s_c)/τ: every term ≥ 0, no cancellation
      T sq = T(0), sqd = T(0);
      if (own != nullptr) {
#pragma omp simd reduction(+ : sq, sqd)
        for (index_t c = 0; c < k; ++c) {
          const T q = tot[c] - own[c];
          sq += q;
          sqd += q * (mx - s[c]);
        }
      } else {
#pragma omp simd reduction(+ : sq, sqd)
        for (index_t c = 0; c < k; ++c) {
          sq += tot[c];
          sqd += tot[c] * (mx - s[c]);
        }
      }
      w.partial[r] = sq * log_sum + its * sqd;
      // ds = ((Σq) p − q) · gl
      const T a = sq * gl;
      if (own != nullptr) {
#pragma omp simd
        for (index_t c = 0; c < k; ++c) ds[c] = a * ds[c] - gl * (tot[c] - own[c]);
      } else {
#pragma omp simd
        for (index_t c = 0; c < k; ++c) ds[c] = a * ds[c] - gl * tot[c];
      }
    }
  });
  return sum_serial(w.partial, vs * n) / (double(n) * double(pairs));
}

template <class T>
void dino_update_center(T* center, const T* teacher, index_t rows, index_t k, T momentum) {
  for_column_blocks(k, kColumnBlock, rows, [&](index_t c0, index_t c1) {
    double acc[kColumnBlock] = {};
    const index_t wd = c1 - c0;
    add_column_sums(teacher + c0, rows, k, wd, acc);
    for (index_t c = 0; c < wd; ++c)
      center[c0 + c] = T(double(momentum) * double(center[c0 + c]) + (1.0 - double(momentum)) * acc[c] / double(rows));
  });
}

#define PYSSL_DINO(T)                                                                                     \
  template double dino<T>(const T*, const T*, const T*, index_t, index_t, index_t, index_t, T, T, T*,     \
                          const DinoWork<T>&);                                                            \
  template void dino_update_center<T>(T*, const T*, index_t, index_t, T);
PYSSL_INSTANTIATE_FLOATS(PYSSL_DINO)
#undef PYSSL_DINO

}  // namespace pyssl::loss
