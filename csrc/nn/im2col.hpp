// im2col for (N, C, H, W) convolution inputs, in the column layout of csrc/nn/conv.hpp:
//   cols[(c, i, j), (n, p, q)] = x[n, c, p·sh + i − ph, q·sw + j − pw]   (0 outside)   (C·KH·KW, N·HO·WO)
// so that a convolution layer can drop its columns after the forward GEMM and rebuild them for the
// weight-gradient GEMM of backward (ResNet's layers: one column buffer alive at a time instead of
// one per layer, all of it served from the buffer cache). Parallel over column rows; pure copies,
// so the result is the same for any thread count.
#pragma once
#include "core/check.hpp"

namespace pyssl::nn {

struct Im2colShape {
  index_t n, c, h, w, kh, kw, sh, sw, ph, pw;
  index_t ho() const { return (h + 2 * ph - kh) / sh + 1; }
  index_t wo() const { return (w + 2 * pw - kw) / sw + 1; }
  void validate() const;
};

template <class T>
void im2col_nchw(const Im2colShape& s, const T* x, T* cols);

}  // namespace pyssl::nn
