// im2col for (N, C, H, W) convolution inputs, in the column layout of csrc/nn/conv.hpp:
//   cols[(c, i, j), (n, p, q)] = x[n, c, p·sh + i − ph, q·sw + j − pw]   (0 outside)   (C·KH·KW, N·HO·WO)
// with the rows of the live taps (c, live i, live j) first and the dead taps' rows (taps that read
// only padding, e.g. a 3×3 kernel with padding 1 on a 1×1 input) zero at the end, as conv.hpp's
// conv2d_forward leaves them, so the rebuilt columns equal the forward's bit for bit
// so that a convolution layer can drop its columns after the forward GEMM and rebuild them for the
// weight-gradient GEMM of backward (ResNet's layers: one column buffer alive at a time instead of
// one per layer, all of it served from the buffer cache). Parallel over column rows; pure copies,
// so the result is the same for any thread count.
#pragma once
#include "core/check.hpp"
#include "core/workspace.hpp"

namespace pyssl::nn {

struct Im2colShape {
  index_t n, c, h, w, kh, kw, sh, sw, ph, pw;
  index_t ho() const { return (h + 2 * ph - kh) / sh + 1; }
  index_t wo() const { return (w + 2 * pw - kw) / sw + 1; }
  void validate() const;
};

template <class T>
void im2col_nchw(const Im2colShape& s, const T* x, T* cols);

// dx[n, c] = Σ_{i,j,p,q} dcols[(c,i,j), (n,p,q)] at the matching input position (the adjoint of
// im2col), contributions added in (i, j) order as csrc/nn/conv.cpp's col2im does, so the two agree
// bit for bit; the inner loop over q is a contiguous (stride 1) or strided add without per-element
// bounds checks. Parallel over (n, c) planes: one writer per value, any thread count.
template <class T>
void col2im_nchw(const Im2colShape& s, const T* dcols, T* dx);

// Input gradient of the convolution y = W * x of csrc/nn/conv.hpp (no bias):
//   dY[o, (n,p,q)] = dy[n, o, p, q];  dcols = Wᵀ dY (BLAS);  dx = col2im(dcols).
// w: (O, C·KH·KW); dy: (N, O, HO, WO); dytmp: scratch (O, N·P); dcols: scratch (C·KH·KW, N·P).
template <class T>
void conv2d_input_grad(const Im2colShape& s, index_t o, const T* w, const T* dy, T* dytmp, T* dcols, T* dx);

template <class T, class Carver>
void conv2d_input_grad_layout(Carver& c, const Im2colShape& s, index_t o, T*& dytmp, T*& dcols) {
  const index_t np = s.n * s.ho() * s.wo();
  dytmp = c.template take<T>(o * np);
  dcols = c.template take<T>(s.c * s.kh * s.kw * np);
}
// Bytes of scratch conv2d_input_grad needs (dytmp and dcols).
template <class T>
std::size_t conv2d_input_grad_workspace(const Im2colShape& s, index_t o) {
  T *a, *b;
  return workspace_bytes([&](auto& c) { conv2d_input_grad_layout<T>(c, s, o, a, b); });
}
// The same with the scratch carved from `workspace` (conv2d_input_grad_workspace<T>(s, o) bytes).
template <class T>
void conv2d_input_grad(const Im2colShape& s, index_t o, const T* w, const T* dy, T* dx, void* workspace) {
  WorkspaceCarver c(workspace);
  T *dytmp, *dcols;
  conv2d_input_grad_layout<T>(c, s, o, dytmp, dcols);
  conv2d_input_grad<T>(s, o, w, dy, dytmp, dcols, dx);
}

}  // namespace pyssl::nn
