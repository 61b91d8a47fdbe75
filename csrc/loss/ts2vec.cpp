#include "loss/ts2vec.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "blas/blas_api.hpp"
#include "core/instantiate.hpp"
#include "loss/rows.hpp"

namespace pyssl::loss {

namespace {

// One contrastive slice: R rows (R even) of m with row stride ld; the positive of row a is row
// (a + R/2) mod R. Adds weight · d(Σ_a ℓ_a)/dm to dm (same stride) and returns Σ_a ℓ_a (in
// double, anchors in index order). s, partial: scratch (R, R) and (R,).
template <class T>
double contrast_slice(const T* m, index_t ld, index_t r, index_t c, T weight, T* dm, T* s, T* partial) {
  const index_t half = r / 2;
  gram(m, r, c, ld, T(1), false, s);  // S = M Mᵀ
  parallel_for(r, 8 * r, [&](index_t a0, index_t a1) {
    for (index_t a = a0; a < a1; ++a) {
      T* row = s + a * r;
      const index_t pos = a < half ? a + half : a - half;
      const T s_pos = row[pos];
      row[a] = -std::numeric_limits<T>::infinity();  // self-similarity excluded
      T mx;
      const T log_sum = softmax_row_parts(row, row, r, T(1), mx);  // row is now the softmax
      partial[a] = log_sum + (mx - s_pos);
      row[pos] -= T(1);
    }
  });
  const double total = sum_serial(partial, r);
  symmetrize_add(s, r);  // dL/dS = (G + Gᵀ), S symmetric
  blas::gemm<T>(blas::Trans::No, blas::Trans::No, r, c, r, weight, s, r, m, ld, T(1), dm, ld);
  return total;
}

// Level l + 1 from level l: rows (2B), length tl -> tl / 2, arg (0 or 1) the chosen step.
template <class T>
void max_pool2(const T* z, index_t rows, index_t tl, index_t c, T* out, std::uint8_t* arg) {
  const index_t tn = tl / 2;
  parallel_for(rows * tn, 2 * c, [&](index_t i0, index_t i1) {
    for (index_t i = i0; i < i1; ++i) {
      const index_t rr = i / tn, tau = i % tn;
      const T* a = z + (rr * tl + 2 * tau) * c;
      const T* b = a + c;
      T* o = out + i * c;
      std::uint8_t* g = arg + i * c;
      for (index_t k = 0; k < c; ++k) {
        const bool second = b[k] > a[k];
        o[k] = second ? b[k] : a[k];
        g[k] = second ? 1 : 0;
      }
    }
  });
}

// dz (level l) += unpool(dnext (level l + 1)).
template <class T>
void max_pool2_backward(const T* dnext, const std::uint8_t* arg, index_t rows, index_t tl, index_t c, T* dz) {
  const index_t tn = tl / 2;
  parallel_for(rows * tn, 2 * c, [&](index_t i0, index_t i1) {
    for (index_t i = i0; i < i1; ++i) {
      const index_t rr = i / tn, tau = i % tn;
      T* d0 = dz + (rr * tl + 2 * tau) * c;
      const T* g = dnext + i * c;
      const std::uint8_t* a = arg + i * c;
      for (index_t k = 0; k < c; ++k) d0[k + (a[k] ? c : 0)] += g[k];
    }
  });
}

}  // namespace

template <class T>
double ts2vec_hierarchical(const T* z1, const T* z2, index_t b, index_t t, index_t c, double alpha,
                           index_t temporal_unit, T* dz1, T* dz2, void* workspace) {
  PYSSL_CHECK(b >= 1 && t >= 1 && c >= 1, "ts2vec loss: z1 must be a non-empty (B, T, C) array, got (", b, ", ",
              t, ", ", c, ")");
  PYSSL_CHECK(alpha >= 0.0 && alpha <= 1.0, "ts2vec loss: alpha must be in [0, 1], got ", alpha);
  PYSSL_CHECK(temporal_unit >= 0, "ts2vec loss: temporal_unit must be >= 0, got ", temporal_unit);
  WorkspaceCarver carver(workspace);
  const Ts2vecWork<T> w = ts2vec_hierarchical_layout<T>(carver, b, t, c);
  const index_t rows = 2 * b;
  // Levels: lengths T_0 = T, T_{l+1} = T_l / 2 while T_l > 1, stacked in w.z / w.dz / w.arg.
  std::vector<index_t> len{t}, off{0};
  while (len.back() > 1) {
    off.push_back(off.back() + rows * len.back() * c);
    len.push_back(len.back() / 2);
  }
  const index_t levels = index_t(len.size());
  std::memcpy(w.z, z1, sizeof(T) * b * t * c);
  std::memcpy(w.z + b * t * c, z2, sizeof(T) * b * t * c);
  for (index_t l = 0; l + 1 < levels; ++l)
    max_pool2(w.z + off[l], rows, len[l], c, w.z + off[l + 1], w.arg + off[l + 1]);
  const double d = double(levels);
  double loss = 0.0;
  for (index_t l = 0; l < levels; ++l) {
    const index_t tl = len[l];
    const T* zl = w.z + off[l];
    T* dl = w.dz + off[l];
    std::fill(dl, dl + rows * tl * c, T(0));
    const bool last = tl == 1;
    if (alpha > 0.0 && b > 1) {  // instance-wise: one slice per time step, rows strided by tl·c
      const double wt = alpha / (d * double(rows * tl));
      double sum = 0.0;
      for (index_t tau = 0; tau < tl; ++tau)
        sum += contrast_slice(zl + tau * c, tl * c, rows, c, T(wt), dl + tau * c, w.s, w.partial);
      loss += wt * sum;
    }
    if (!last && alpha < 1.0 && l >= temporal_unit) {  // temporal: one slice per series
      const double wt = (1.0 - alpha) / (d * double(b * 2 * tl));
      double sum = 0.0;
      const std::size_t block = std::size_t(tl * c);
      for (index_t i = 0; i < b; ++i) {
        std::memcpy(w.pair, zl + i * block, sizeof(T) * block);
        std::memcpy(w.pair + block, zl + (b + i) * block, sizeof(T) * block);
        std::fill(w.dpair, w.dpair + 2 * block, T(0));
        sum += contrast_slice(w.pair, c, 2 * tl, c, T(wt), w.dpair, w.s, w.partial);
        T* d1 = dl + i * block;
        T* d2 = dl + (b + i) * block;
        for (std::size_t k = 0; k < block; ++k) {
          d1[k] += w.dpair[k];
          d2[k] += w.dpair[block + k];
        }
      }
      loss += wt * sum;
    }
  }
  for (index_t l = levels - 1; l > 0; --l)
    max_pool2_backward(w.dz + off[l], w.arg + off[l], rows, len[l - 1], c, w.dz + off[l - 1]);
  std::memcpy(dz1, w.dz, sizeof(T) * b * t * c);
  std::memcpy(dz2, w.dz + b * t * c, sizeof(T) * b * t * c);
  return loss;
}

#define PYSSL_TS2VEC(T)                                                                                  \
  template double ts2vec_hierarchical<T>(const T*, const T*, index_t, index_t, index_t, double, index_t, T*, \
                                         T*, void*);
PYSSL_INSTANTIATE_FLOATS(PYSSL_TS2VEC)
#undef PYSSL_TS2VEC

}  // namespace pyssl::loss
