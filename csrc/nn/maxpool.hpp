// 2-D max pooling over (N, C, H, W) (MaxPool1d is the H = 1 case), PyTorch's convention: windows
// of (kh, kw) at stride (sh, sw) over the input padded with −∞ by (ph, pw) on each side
// (ph <= kh/2, pw <= kw/2, so every window holds at least one input value), floor output size
//   HO = ⌊(H + 2·ph − kh)/sh⌋ + 1,  WO likewise,
//   y[n, c, p, q] = max_{i<kh, j<kw} x[n, c, p·sh + i − ph, q·sw + j − pw].
// The position of the maximum in the (H, W) plane (h·W + w; the first one in row-major window
// order on ties) is saved for backward: dx[n, c, argmax] += dy[n, c, p, q]. Work is split over
// (n, c) planes, so the scatter-add has one writer per plane and results do not depend on the
// thread count.
#pragma once
#include <cstdint>

#include "core/check.hpp"

namespace pyssl::nn {

struct PoolShape {
  index_t n, c, h, w;
  index_t kh, kw, sh, sw, ph, pw;
  index_t ho() const { return (h + 2 * ph - kh) / sh + 1; }
  index_t wo() const { return (w + 2 * pw - kw) / sw + 1; }
  void validate() const;
};

template <class T>
void max_pool2d_forward(const PoolShape& s, const T* x, T* y, std::int32_t* argmax);

template <class T>
void max_pool2d_backward(const PoolShape& s, const std::int32_t* argmax, const T* dy, T* dx);

}  // namespace pyssl::nn
