// Fixed-order reductions shared by the kernels.
//
// lane_sum: `Lanes` interleaved double accumulators (element i goes to lane (i − begin) mod
// Lanes), then the lanes added in order. The association depends only on the index range — not on
// the vector width, on loop peeling for alignment (so not on the buffer's address, unlike
// `omp simd reduction`), nor on the thread count — so the same inputs always give the same bits,
// and the fixed lane loop still vectorises and breaks the add latency chain.
#pragma once
#include "core/check.hpp"

namespace pyssl {

// Σ f(i) over [begin, end); f returns something convertible to double.
template <int Lanes, class F>
inline double lane_sum(index_t begin, index_t end, F f) {
  double acc[Lanes] = {};
  index_t i = begin;
  for (; i + Lanes <= end; i += Lanes) {
#pragma omp simd
    for (int j = 0; j < Lanes; ++j) acc[j] += double(f(i + j));
  }
  for (int j = 0; i < end; ++i, ++j) acc[j] += double(f(i));
  double s = 0;
  for (int j = 0; j < Lanes; ++j) s += acc[j];
  return s;
}

// Two sums in one pass: sa = Σ fa(i), sb = Σ fb(i).
template <int Lanes, class FA, class FB>
inline void lane_sum2(index_t begin, index_t end, FA fa, FB fb, double& sa, double& sb) {
  double a[Lanes] = {}, b[Lanes] = {};
  index_t i = begin;
  for (; i + Lanes <= end; i += Lanes) {
#pragma omp simd
    for (int j = 0; j < Lanes; ++j) {
      a[j] += double(fa(i + j));
      b[j] += double(fb(i + j));
    }
  }
  for (int j = 0; i < end; ++i, ++j) {
    a[j] += double(fa(i));
    b[j] += double(fb(i));
  }
  sa = sb = 0;
  for (int j = 0; j < Lanes; ++j) {
    sa += a[j];
    sb += b[j];
  }
}

// Column statistics of a row-major block: z points at column c0 of row 0, ld is the row stride, w
// the block width. Rows are added in order with one double accumulator per column, so a column's
// result never depends on the block width or on the thread count (the loops that hand out column
// blocks, parallel::for_column_blocks, rely on this).

// acc[c] += Σ_r z[r·ld + c]
template <class T>
inline void add_column_sums(const T* z, index_t n, index_t ld, index_t w, double* acc) {
  for (index_t r = 0; r < n; ++r) {
    const T* row = z + r * ld;
#pragma omp simd
    for (index_t c = 0; c < w; ++c) acc[c] += double(row[c]);
  }
}

// acc[c] += Σ_r (z[r·ld + c] − mean[c])²
template <class T>
inline void add_column_squared_deviations(const T* z, index_t n, index_t ld, index_t w, const double* mean,
                                          double* acc) {
  for (index_t r = 0; r < n; ++r) {
    const T* row = z + r * ld;
#pragma omp simd
    for (index_t c = 0; c < w; ++c) {
      const double v = double(row[c]) - mean[c];
      acc[c] += v * v;
    }
  }
}

}  // namespace pyssl
