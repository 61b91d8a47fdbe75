// Linear (1-D) and bilinear (2-D) resampling of a window, shared by the sequence crop and the
// image resized crop. Convention: align_corners=False without antialiasing, as
// torch.nn.functional.interpolate / torchvision's resized_crop on tensors:
//   src = (o + ½)·len/out − ½, clamped below at 0; i0 = ⌊src⌋ (≤ len−1), i1 = min(i0+1, len−1),
//   w = src − i0;  y = (1 − w)·x[start + i0] + w·x[start + i1].
#pragma once
#include <algorithm>
#include <cmath>

#include "core/check.hpp"

namespace pyssl::augment {

struct LinearTap {
  index_t i0, i1;
  double w;
};

inline void linear_taps(index_t start, index_t len, index_t out_len, LinearTap* taps) {
  const double scale = double(len) / double(out_len);
  for (index_t o = 0; o < out_len; ++o) {
    double src = (double(o) + 0.5) * scale - 0.5;
    if (src < 0) src = 0;
    index_t i0 = std::min<index_t>(index_t(src), len - 1);
    const index_t i1 = std::min<index_t>(i0 + 1, len - 1);
    taps[o] = LinearTap{start + i0, start + i1, src - double(i0)};
  }
}

template <class T>
inline void apply_taps(const T* row, const LinearTap* taps, index_t out_len, T* out) {
  for (index_t o = 0; o < out_len; ++o) {
    const T w = T(taps[o].w);
    out[o] = (T(1) - w) * row[taps[o].i0] + w * row[taps[o].i1];
  }
}

// plane (h, w) -> out (oh, ow) with row taps ty[oh] and column taps tx[ow], separably: first the
// two source rows are blended over the columns [c0, c1) the column taps touch (contiguous, vector
// loop), then each output column reads two entries of that blended row:
//   v[q'] = (1 − wy)·x[i0y, q'] + wy·x[i1y, q'],   out[p, q] = (1 − wx)·v[i0x] + wx·v[i1x].
// `row` is scratch of at least w entries.
template <class T>
inline void apply_taps_2d(const T* plane, index_t w, const LinearTap* ty, index_t oh, const LinearTap* tx,
                          index_t ow, T* out, T* row) {
  index_t c0 = w, c1 = 0;
  for (index_t q = 0; q < ow; ++q) {
    c0 = std::min(c0, tx[q].i0);
    c1 = std::max(c1, tx[q].i1 + 1);
  }
  for (index_t p = 0; p < oh; ++p) {
    const T* r0 = plane + ty[p].i0 * w;
    const T* r1 = plane + ty[p].i1 * w;
    const T wy = T(ty[p].w), vy = T(1) - wy;
#pragma omp simd
    for (index_t q = c0; q < c1; ++q) row[q] = vy * r0[q] + wy * r1[q];
    T* o = out + p * ow;
    for (index_t q = 0; q < ow; ++q) {
      const T wx = T(tx[q].w);
      o[q] = (T(1) - wx) * row[tx[q].i0] + wx * row[tx[q].i1];
    }
  }
}

}  // namespace pyssl::augment
