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

}  // namespace pyssl
