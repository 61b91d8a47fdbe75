#include "loss/masked.hpp"

#include <algorithm>
#include <cmath>

#include "core/fast_math.hpp"
#include "core/instantiate.hpp"
#include "loss/rows.hpp"

namespace pyssl::loss {

template <class T>
double masked_mse(const T* pred, const T* target, const T* mask, index_t rows, index_t cols, index_t mask_cols,
                  T* dpred, T* partial) {
  T* weight = partial + rows;
  parallel_for(rows, 3 * cols, [&](index_t r0, index_t r1) {
    for (index_t r = r0; r < r1; ++r) {
      const T* p = pred + r * cols;
      const T* t = target + r * cols;
      T s = T(0), ms = T(0);
      if (mask_cols == 1) {
#pragma omp simd reduction(+ : s)
        for (index_t c = 0; c < cols; ++c) s += (p[c] - t[c]) * (p[c] - t[c]);
        s *= mask[r];
        ms = mask[r] * T(cols);
      } else {
        const T* m = mask + r * cols;
#pragma omp simd reduction(+ : s, ms)
        for (index_t c = 0; c < cols; ++c) {
          s += m[c] * (p[c] - t[c]) * (p[c] - t[c]);
          ms += m[c];
        }
      }
      partial[r] = s;
      weight[r] = ms;
    }
  });
  const double total = sum_serial(weight, rows);
  const T g = total > 0 ? T(2.0 / total) : T(0);
  parallel_for(rows, cols, [&](index_t r0, index_t r1) {
    const T gl = g;  // a local, not a capture: see vicreg.cpp
    for (index_t r = r0; r < r1; ++r) {
      const T* p = pred + r * cols;
      const T* t = target + r * cols;
      T* o = dpred + r * cols;
      if (mask_cols == 1) {
        const T a = gl * mask[r];
#pragma omp simd
        for (index_t c = 0; c < cols; ++c) o[c] = a * (p[c] - t[c]);
      } else {
        const T* m = mask + r * cols;
#pragma omp simd
        for (index_t c = 0; c < cols; ++c) o[c] = gl * m[c] * (p[c] - t[c]);
      }
    }
  });
  return total > 0 ? sum_serial(partial, rows) / total : 0.0;
}

namespace {
// One row of BCE with logits: returns Σ loss, writes g · (σ(x) − m). A free function (no lambda
// captures) so that GCC vectorises it for float too.
template <class T>
inline T bce_row(const T* x, const T* m, T* o, index_t cols, T g) {
  T s = T(0);
#pragma omp simd reduction(+ : s)
  for (index_t c = 0; c < cols; ++c) {
    const T xv = x[c];
    const T e = fast_exp(-std::abs(xv));  // in (0, 1]
    const T inv = T(1) / (T(1) + e);
    const T sig = (xv >= T(0) ? T(1) : e) * inv;
    s += std::max(xv, T(0)) - xv * m[c] + log1p_unit(e);
    o[c] = g * (sig - m[c]);
  }
  return s;
}
}  // namespace

template <class T>
double mask_bce(const T* logits, const T* mask, index_t rows, index_t cols, T* dlogits, T* partial) {
  const T g = T(1.0 / (double(rows) * double(cols)));
  parallel_for(rows, 12 * cols, [&](index_t r0, index_t r1) {
    for (index_t r = r0; r < r1; ++r)
      partial[r] = bce_row(logits + r * cols, mask + r * cols, dlogits + r * cols, cols, g);
  });
  return sum_serial(partial, rows) * double(g);
}

#define PYSSL_MASKED(T)                                                                                   \
  template double masked_mse<T>(const T*, const T*, const T*, index_t, index_t, index_t, T*, T*);         \
  template double mask_bce<T>(const T*, const T*, index_t, index_t, T*, T*);
PYSSL_INSTANTIATE_FLOATS(PYSSL_MASKED)
#undef PYSSL_MASKED

}  // namespace pyssl::loss
