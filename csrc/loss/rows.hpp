// Building blocks shared by the loss kernels: row L2 normalisation (and its backward), fused
// row softmax / log-sum-exp, column statistics (standardisation and its backward), blocked
// symmetrisation, and fixed-order sums of per-item partials.
//
// Determinism: every helper parallelises over independent rows or column blocks and never
// reduces across threads, so results do not depend on the thread count.
#pragma once
#include <algorithm>
#include <cmath>
#include <limits>

#include "blas/blas_api.hpp"
#include "core/check.hpp"
#include "core/reduce.hpp"
#include "core/fast_math.hpp"
#include "parallel/parallel.hpp"

namespace pyssl::loss {

// Norms are clamped from below at this value (torch.nn.functional.normalize's default), so a
// zero vector normalises to zero instead of NaN.
constexpr double kNormEps = 1e-12;

// Sum of n partials in index order, in double (the loss value of every kernel).
template <class T>
inline double sum_serial(const T* x, index_t n) {
  double s = 0.0;
  for (index_t i = 0; i < n; ++i) s += double(x[i]);
  return s;
}

template <class T>
inline T dot(const T* a, const T* b, index_t n) {
  T s = T(0);
#pragma omp simd reduction(+ : s)
  for (index_t j = 0; j < n; ++j) s += a[j] * b[j];
  return s;
}

// zhat_i = z_i / max(|z_i|, eps); norm[i] = |z_i| (unclamped, for the backward). Rows n..2n-1
// come from z2 when it is given (two views normalised in one pass, zhat holds both).
template <class T>
void normalize_rows(const T* z, T* zhat, T* norm, index_t n, index_t d, const T* z2 = nullptr) {
  const index_t rows = z2 != nullptr ? 2 * n : n;
  parallel_for(rows, 3 * d, [=](index_t b, index_t e) {
    for (index_t i = b; i < e; ++i) {
      const T* r = i < n ? z + i * d : z2 + (i - n) * d;
      const T nr = std::sqrt(dot(r, r, d));
      norm[i] = nr;
      const T inv = T(1) / std::max(nr, T(kNormEps));
      T* o = zhat + i * d;
#pragma omp simd
      for (index_t j = 0; j < d; ++j) o[j] = r[j] * inv;
    }
  });
}

// Backward of normalize_rows: dz_i = (g_i - zhat_i <zhat_i, g_i>) / |z_i|, or g_i / eps for a
// clamped row. dz may alias g. With dz2, g holds 2n contiguous rows and rows n..2n-1 go to dz2.
template <class T>
void normalize_rows_backward(const T* zhat, const T* norm, const T* g, T* dz, index_t n, index_t d,
                             T* dz2 = nullptr) {
  const index_t rows = dz2 != nullptr ? 2 * n : n;
  parallel_for(rows, 4 * d, [=](index_t b, index_t e) {
    for (index_t i = b; i < e; ++i) {
      const T* zh = zhat + i * d;
      const T* gi = g + i * d;
      T* o = i < n ? dz + i * d : dz2 + (i - n) * d;
      if (norm[i] > T(kNormEps)) {
        const T c = dot(zh, gi, d);
        const T inv = T(1) / norm[i];
#pragma omp simd
        for (index_t j = 0; j < d; ++j) o[j] = (gi[j] - zh[j] * c) * inv;
      } else {
        const T inv = T(1 / kNormEps);
#pragma omp simd
        for (index_t j = 0; j < d; ++j) o[j] = gi[j] * inv;
      }
    }
  });
}

// Row softmax of s * x (s > 0), fused with its log-sum-exp, in parts: p[j] = exp(s x[j] - lse),
// m = max_j x[j], and the return value is log sum_j exp(s (x[j] - m)), so that
// lse = log sum_j exp(s x[j]) = s m + (return value). Entries equal to -inf are excluded (p = 0).
// p may alias x. Needs at least one finite entry. A loss of the form lse − s·a (a a positive's
// similarity or a target-weighted mean) is best computed as (return value) + s (m − a): at a tiny
// temperature s m and s a are both huge and their difference would lose every digit.
template <class T>
[[gnu::noinline]] inline T softmax_row_parts(const T* x, T* p, index_t n, T s, T& m) {
  // Not inlined: inlined into NT-Xent's anchor loop (p == x), GCC 12 left both loops below
  // scalar ("control flow in loop") and ran its scalar copy of the simd lanes; compiled on its
  // own every instance vectorises, and one call a row costs nothing (nt_xent, 2×256 rows of 64,
  // one thread: 1.71 → 1.22 ms on an AVX2 AMD EPYC).
  m = -std::numeric_limits<T>::infinity();
#pragma omp simd reduction(max : m)
  for (index_t j = 0; j < n; ++j) m = x[j] > m ? x[j] : m;  // (GCC left std::max's form scalar)
  T sum = T(0);
#pragma omp simd reduction(+ : sum)
  for (index_t j = 0; j < n; ++j) {
    // s·(x[j] − m), not s·x[j] − s·m: contracted to an FMA, the latter keeps the rounding error
    // of s·m, which at a tiny temperature (s ~ 1e10) is far from 0 and makes the largest term
    // overflow (Inf/Inf = NaN) or vanish (log 0); here the largest term is exactly exp(0) = 1
    const T e = fast_exp(s * (x[j] - m));
    p[j] = e;
    sum += e;
  }
  const T inv = T(1) / sum;
#pragma omp simd
  for (index_t j = 0; j < n; ++j) p[j] *= inv;
  return std::log(sum);
}

// softmax_row_parts, returning lse = log sum_j exp(s x[j]) itself.
template <class T>
inline T softmax_row(const T* x, T* p, index_t n, T s) {
  T m;
  const T log_sum = softmax_row_parts(x, p, n, s, m);
  return s * m + log_sum;
}

// Log-sum-exp of s * x[j] (no output row).
template <class T>
inline T log_sum_exp_row(const T* x, index_t n, T s) {
  T m = -std::numeric_limits<T>::infinity();
#pragma omp simd reduction(max : m)
  for (index_t j = 0; j < n; ++j) m = x[j] > m ? x[j] : m;  // (GCC left std::max's form scalar)
  const T shift = s * m;
  T sum = T(0);
#pragma omp simd reduction(+ : sum)
  for (index_t j = 0; j < n; ++j) sum += fast_exp(s * (x[j] - m));  // as in softmax_row
  return shift + std::log(sum);
}

// G <- G + G^T in place for a square (r, r) matrix, by 32 x 32 tiles. The tile row of min(i, j)
// owns the pair (i, j), so threads never write the same entry; the transposed tile goes through a
// small local buffer so every access to G is a contiguous row segment. Work item p takes tile
// rows p and nb - 1 - p, which balances the triangle across threads.
template <class T>
void symmetrize_add(T* g, index_t r) {
  constexpr index_t B = 32;
  const index_t nb = (r + B - 1) / B;
  auto tile_row = [g, r, nb](index_t bi) {
    T tile[B * B];
    const index_t i0 = bi * B, ih = r - i0 < B ? r - i0 : B;
    for (index_t bj = bi; bj < nb; ++bj) {
      const index_t j0 = bj * B, jw = r - j0 < B ? r - j0 : B;
      for (index_t b = 0; b < jw; ++b) {  // tile = block(J, I)ᵀ
        const T* src = g + (j0 + b) * r + i0;
        for (index_t a = 0; a < ih; ++a) tile[a * B + b] = src[a];
      }
      for (index_t a = 0; a < ih; ++a) {  // block(I, J) += tile
        T* dst = g + (i0 + a) * r + j0;
        T* t = tile + a * B;
#pragma omp simd
        for (index_t b = 0; b < jw; ++b) {
          dst[b] += t[b];
          t[b] = dst[b];
        }
      }
      if (bj == bi) continue;  // a diagonal block is now symmetric
      for (index_t b = 0; b < jw; ++b) {  // block(J, I) = block(I, J)ᵀ
        T* dst = g + (j0 + b) * r + i0;
        for (index_t a = 0; a < ih; ++a) dst[a] = tile[a * B + b];
      }
    }
  };
  parallel_for((nb + 1) / 2, 2 * B * r, [=](index_t p0, index_t p1) {
    for (index_t p = p0; p < p1; ++p) {
      tile_row(p);
      if (nb - 1 - p != p) tile_row(nb - 1 - p);
    }
  });
}

// Copy the transpose of the (h, w) block at src (row stride ld) to dst (row stride ld), by tiles.
template <class T>
void transpose_copy(const T* src, T* dst, index_t h, index_t w, index_t ld) {
  constexpr index_t B = 32;
  parallel_for((w + B - 1) / B, B * h, [=](index_t b0, index_t b1) {
    for (index_t bj = b0; bj < b1; ++bj) {
      const index_t j0 = bj * B, j1 = j0 + B < w ? j0 + B : w;
      for (index_t i0 = 0; i0 < h; i0 += B) {
        const index_t i1 = i0 + B < h ? i0 + B : h;
        for (index_t j = j0; j < j1; ++j)
          for (index_t i = i0; i < i1; ++i) dst[j * ld + i] = src[i * ld + j];
      }
    }
  });
}

// Symmetric Gram matrix with a quarter fewer flops than one GEMM: C (n, n) = alpha · op(A) op(A)ᵀ
// where op(A) = A (n, k) when cols is false (C = A Aᵀ), or op(A) = Aᵀ with A (k, n) when cols is
// true (C = Aᵀ A). Three GEMMs give the blocks on and above the diagonal of a 2 x 2 split; the
// lower off-diagonal block is their transpose. lda is A's row stride, C's is n.
template <class T>
void gram(const T* a, index_t n, index_t k, index_t lda, T alpha, bool cols, T* c) {
  const index_t h = n / 2;
  if (h < 64) {  // small: one GEMM
    if (cols)
      blas::gemm<T>(blas::Trans::Yes, blas::Trans::No, n, n, k, alpha, a, lda, a, lda, T(0), c, n);
    else
      blas::gemm<T>(blas::Trans::No, blas::Trans::Yes, n, n, k, alpha, a, lda, a, lda, T(0), c, n);
    return;
  }
  const index_t m = n - h;
  // Offsets of the second half of op(A)'s rows inside A.
  const T* a2 = cols ? a + h : a + h * lda;
  const auto ta = cols ? blas::Trans::Yes : blas::Trans::No;
  const auto tb = cols ? blas::Trans::No : blas::Trans::Yes;
  blas::gemm<T>(ta, tb, h, h, k, alpha, a, lda, a, lda, T(0), c, n);
  blas::gemm<T>(ta, tb, h, m, k, alpha, a, lda, a2, lda, T(0), c + h, n);
  blas::gemm<T>(ta, tb, m, m, k, alpha, a2, lda, a2, lda, T(0), c + h * n + h, n);
  transpose_copy(c + h, c + h * n, h, m, n);
}

// Column blocks for the loss kernels' per-column statistics (accumulators on the stack).
constexpr index_t kColumnBlock = 64;


// Column mean and sum of squared deviations (two-pass, accumulated in double).
template <class T>
void column_moments(const T* z, index_t n, index_t d, T* mean, double* ssd) {
  for_column_blocks(d, kColumnBlock, n, [&](index_t c0, index_t c1) {
    double acc[kColumnBlock] = {}, mu[kColumnBlock];
    const index_t w = c1 - c0;
    add_column_sums(z + c0, n, d, w, acc);
    for (index_t c = 0; c < w; ++c) {
      mu[c] = acc[c] / double(n);
      mean[c0 + c] = T(mu[c]);
      acc[c] = 0.0;
    }
    add_column_squared_deviations(z + c0, n, d, w, mu, acc);
    for (index_t c = 0; c < w; ++c) ssd[c0 + c] = acc[c];
  });
}

// out = (z - mean) * scale, column-wise (scale per column). out may alias z.
template <class T>
void center_scale_columns(const T* z, const T* mean, const T* scale, T* out, index_t n, index_t d) {
  parallel_for(n, d, [=](index_t b, index_t e) {
    for (index_t r = b; r < e; ++r) {
      const T* zr = z + r * d;
      T* o = out + r * d;
#pragma omp simd
      for (index_t c = 0; c < d; ++c) o[c] = (zr[c] - mean[c]) * scale[c];
    }
  });
}

// Backward of zt = (z - mean(z)) / sqrt(var_biased(z) + eps) per column (batch norm without
// affine): dz = inv_std * (g - mean(g) - zt * mean(g * zt)). g is overwritten with dz.
template <class T>
void standardize_backward(const T* zt, const T* inv_std, T* g, index_t n, index_t d) {
  for_column_blocks(d, kColumnBlock, n, [&](index_t c0, index_t c1) {
    const index_t w = c1 - c0;
    double sg[64], sgz[64];
    for (index_t c = 0; c < w; ++c) sg[c] = sgz[c] = 0.0;
    for (index_t r = 0; r < n; ++r) {
      const T* gr = g + r * d + c0;
      const T* zr = zt + r * d + c0;
#pragma omp simd
      for (index_t c = 0; c < w; ++c) {
        sg[c] += double(gr[c]);
        sgz[c] += double(gr[c]) * double(zr[c]);
      }
    }
    T mg[64], mgz[64];
    for (index_t c = 0; c < w; ++c) {
      mg[c] = T(sg[c] / double(n));
      mgz[c] = T(sgz[c] / double(n));
    }
    for (index_t r = 0; r < n; ++r) {
      T* gr = g + r * d + c0;
      const T* zr = zt + r * d + c0;
      const T* is = inv_std + c0;
#pragma omp simd
      for (index_t c = 0; c < w; ++c) gr[c] = is[c] * (gr[c] - mg[c] - zr[c] * mgz[c]);
    }
  });
}

}  // namespace pyssl::loss
