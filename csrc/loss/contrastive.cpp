#include "loss/contrastive.hpp"

#include <limits>

#include "blas/blas_api.hpp"
#include "core/instantiate.hpp"
#include "loss/rows.hpp"

namespace pyssl::loss {

namespace {

// One anchor a: row holds its similarities s_a· (length r); it becomes its gradient row
// G_a· = softmax_a − 1[b∈P(a)]/|P(a)| (zeros when a has no positive), with its loss term ℓ_a and
// weight (1, or 0 without a positive). positives(f) calls f(b) for every positive b ≠ a, in
// increasing order.
template <class T, class Positives>
inline void anchor_row(T* row, index_t r, index_t a, T inv_t, const Positives& positives, T& partial,
                       T& weight) {
  row[a] = -std::numeric_limits<T>::infinity();  // self-similarity excluded
  T sum_pos = T(0);
  index_t count = 0;
  positives([&](index_t b) {
    sum_pos += row[b];
    ++count;
  });
  if (count == 0) {
    for (index_t j = 0; j < r; ++j) row[j] = T(0);
    partial = weight = T(0);
    return;
  }
  T m;
  const T log_sum = softmax_row_parts(row, row, r, inv_t, m);  // row is now softmax_a
  const T c = T(1) / T(count);
  partial = log_sum + inv_t * (m - sum_pos * c);  // lse − pos/τ without cancellation
  weight = T(1);
  positives([&](index_t b) { row[b] -= c; });
}

// positives(a, f) calls f(b) for every positive b ≠ a of anchor a, in increasing order.
template <class T, class Positives>
double contrastive_core(index_t r, index_t d, T temperature, const Positives& positives,
                        const ContrastiveWork<T>& w) {
  const T inv_t = T(1) / temperature;
  gram(w.zhat, r, d, d, T(1), false, w.sim);  // S = Ẑ Ẑᵀ
  parallel_for(r, 16 * r, [&](index_t b0, index_t b1) {
    for (index_t a = b0; a < b1; ++a)
      anchor_row(w.sim + a * r, r, a, inv_t, [&](auto&& f) { positives(a, f); }, w.partial[a], w.weight[a]);
  });
  const double anchors = sum_serial(w.weight, r);
  PYSSL_CHECK(anchors > 0, "sup_con: no sample has a positive (every label occurs once); "
              "each label must appear at least twice in the batch");
  const double loss = sum_serial(w.partial, r) / anchors;
  symmetrize_add(w.sim, r);  // dL/dS = (G + Gᵀ) / (τ · anchors), S symmetric
  blas::gemm<T>(blas::Trans::No, blas::Trans::No, r, d, r, T(double(inv_t) / anchors), w.sim, r, w.zhat, d,
                T(0), w.dzhat, d);
  return loss;
}

}  // namespace

template <class T>
double nt_xent(const T* z1, const T* z2, index_t n, index_t d, T temperature, T* dz1, T* dz2,
               const ContrastiveWork<T>& w) {
  normalize_rows(z1, w.zhat, w.norm, n, d, z2);  // zhat = [ẑ1; ẑ2]
  const index_t r = 2 * n;
  // The one positive of anchor a is the other view of the same sample.
  const double loss =
      contrastive_core(r, d, temperature, [n](index_t a, auto&& f) { f(a < n ? a + n : a - n); }, w);
  normalize_rows_backward(w.zhat, w.norm, w.dzhat, dz1, n, d, dz2);
  return loss;
}

template <class T>
double sup_con(const T* z, const std::int64_t* labels, index_t n, index_t d, T temperature, T* dz,
               const ContrastiveWork<T>& w) {
  normalize_rows(z, w.zhat, w.norm, n, d);
  const double loss = contrastive_core(
      n, d, temperature,
      [labels, n](index_t a, auto&& f) {
        const std::int64_t la = labels[a];
        for (index_t b = 0; b < n; ++b)
          if (b != a && labels[b] == la) f(b);
      },
      w);
  normalize_rows_backward(w.zhat, w.norm, w.dzhat, dz, n, d);
  return loss;
}

template <class T>
void sup_con_shard(const T* zhat, const std::int64_t* labels, index_t r, index_t d, const std::int64_t* anchors,
                   index_t r_loc, T temperature, T* dzhat, double* loss_sum, double* anchor_count,
                   const ContrastiveShardWork<T>& w) {
  const T inv_t = T(1) / temperature;
  for (index_t i = 0; i < r_loc; ++i)
    PYSSL_CHECK(anchors[i] >= 0 && anchors[i] < r, "sup_con_shard: anchor ", anchors[i], " out of range [0, ", r, ")");
  parallel_for(r_loc, 2 * d, [&](index_t b0, index_t b1) {
    for (index_t i = b0; i < b1; ++i) {
      const T* src = zhat + anchors[i] * d;
      T* dst = w.a + i * d;
      for (index_t j = 0; j < d; ++j) dst[j] = src[j];
    }
  });
  // S_loc = A Ẑᵀ: the local anchors' rows of the similarity matrix
  blas::gemm<T>(blas::Trans::No, blas::Trans::Yes, r_loc, r, d, T(1), w.a, d, zhat, d, T(0), w.sim, r);
  parallel_for(r_loc, 16 * r, [&](index_t b0, index_t b1) {
    for (index_t i = b0; i < b1; ++i) {
      const index_t a = anchors[i];
      const std::int64_t la = labels[a];
      anchor_row(w.sim + i * r, r, a, inv_t,
                 [&](auto&& f) {
                   for (index_t b = 0; b < r; ++b)
                     if (b != a && labels[b] == la) f(b);
                 },
                 w.partial[i], w.weight[i]);
    }
  });
  *loss_sum = sum_serial(w.partial, r_loc);
  *anchor_count = sum_serial(w.weight, r_loc);
  // dẐ part = G_locᵀ A (every row, as a candidate) + G_loc Ẑ (the anchors' rows), unscaled
  blas::gemm<T>(blas::Trans::Yes, blas::Trans::No, r, d, r_loc, T(1), w.sim, r, w.a, d, T(0), dzhat, d);
  blas::gemm<T>(blas::Trans::No, blas::Trans::No, r_loc, d, r, T(1), w.sim, r, zhat, d, T(0), w.a, d);
  parallel_for(r_loc, 2 * d, [&](index_t b0, index_t b1) {
    for (index_t i = b0; i < b1; ++i) {
      T* dst = dzhat + anchors[i] * d;
      const T* src = w.a + i * d;
#pragma omp simd
      for (index_t j = 0; j < d; ++j) dst[j] += src[j];
    }
  });
}

template <class T>
double info_nce(const T* q, const T* k, const T* queue, index_t n, index_t m, index_t d, T temperature,
                T* dq, T* dk, const InfoNceWork<T>& w) {
  const T inv_t = T(1) / temperature;
  const index_t c = m + 1;
  normalize_rows(q, w.qkhat, w.qknorm, n, d, k);
  const T* qhat = w.qkhat;
  const T* khat = w.qkhat + n * d;
  // The bank is not copied normalised: logits use the raw bank and are scaled per column by
  // 1/|b_m| (and so is the gradient), which saves writing and re-reading an (M, d) copy.
  parallel_for(m, 2 * d, [=](index_t b0, index_t b1) {
    for (index_t r = b0; r < b1; ++r) {
      const T* br = queue + r * d;
      w.binv[r] = T(1) / std::max(std::sqrt(dot(br, br, d)), T(kNormEps));
    }
  });
  // logits[:, 1:] = Q̂ Bᵀ, then · 1/|b_m| in the row pass
  blas::gemm<T>(blas::Trans::No, blas::Trans::Yes, n, m, d, T(1), qhat, d, queue, d, T(0), w.logits + 1, c);
  const T scale = T(double(inv_t) / double(n));
  parallel_for(n, 20 * c + 4 * d, [=](index_t b0, index_t b1) {
    const T* binv = w.binv;
    for (index_t i = b0; i < b1; ++i) {
      T* row = w.logits + i * c;
      T* bank = row + 1;
      const T* qh = qhat + i * d;
      const T* kh = khat + i * d;
#pragma omp simd
      for (index_t j = 0; j < m; ++j) bank[j] *= binv[j];
      row[0] = dot(qh, kh, d);
      const T pos = row[0];
      T mx;
      const T log_sum = softmax_row_parts(row, row, c, inv_t, mx);
      w.partial[i] = log_sum + inv_t * (mx - pos);  // lse − pos/τ without cancellation
      row[0] -= T(1);  // G = softmax − onehot(0)
#pragma omp simd
      for (index_t j = 0; j < m; ++j) bank[j] *= binv[j];  // d/d(q̂·b_m) = G_m / |b_m|
      // dk̂_i = G_i0 q̂_i / (τN); the bank part of dq̂ comes from the GEMM below.
      const T g0 = row[0] * scale;
      T* dki = dk + i * d;
#pragma omp simd
      for (index_t j = 0; j < d; ++j) dki[j] = g0 * qh[j];
    }
  });
  const double loss = sum_serial(w.partial, n) / double(n);
  // dq̂ = (G[:, 1:] B + G[:, 0] k̂) / (τN), accumulated in dq, then both through the normalisation.
  blas::gemm<T>(blas::Trans::No, blas::Trans::No, n, d, m, scale, w.logits + 1, c, queue, d, T(0), dq, d);
  parallel_for(n, d, [=](index_t b0, index_t b1) {
    for (index_t i = b0; i < b1; ++i) {
      const T g0 = w.logits[i * c] * scale;
      const T* kh = khat + i * d;
      T* dqi = dq + i * d;
#pragma omp simd
      for (index_t j = 0; j < d; ++j) dqi[j] += g0 * kh[j];
    }
  });
  normalize_rows_backward(qhat, w.qknorm, dq, dq, n, d);  // in place (dq, dk are separate arrays)
  normalize_rows_backward(khat, w.qknorm + n, dk, dk, n, d);
  return loss;
}

#define PYSSL_CONTRASTIVE(T)                                                                        \
  template double nt_xent<T>(const T*, const T*, index_t, index_t, T, T*, T*, const ContrastiveWork<T>&); \
  template double sup_con<T>(const T*, const std::int64_t*, index_t, index_t, T, T*,                 \
                             const ContrastiveWork<T>&);                                             \
  template void sup_con_shard<T>(const T*, const std::int64_t*, index_t, index_t, const std::int64_t*,  \
                                 index_t, T, T*, double*, double*, const ContrastiveShardWork<T>&);  \
  template double info_nce<T>(const T*, const T*, const T*, index_t, index_t, index_t, T, T*, T*,    \
                              const InfoNceWork<T>&);
PYSSL_INSTANTIATE_FLOATS(PYSSL_CONTRASTIVE)
#undef PYSSL_CONTRASTIVE

}  // namespace pyssl::loss
