// 2-D convolution (cross-correlation, as PyTorch) by im2col + one BLAS GEMM per pass; Conv1d is
// the H = 1 case. Layouts: x (N, C, H, W), weight (O, C, KH, KW) = (O, C·KH·KW) row-major,
// bias (O), y (N, O, HO, WO) with HO = (H + ph + ph_end − dh·(KH − 1) − 1)/sh + 1, WO likewise.
// Padding may differ at the two ends of an axis (ph before, ph_end after: a causal 1-D
// convolution pads (K − 1)·d on the left only); the padding is never materialised, im2col reads
// zeros outside the input. Dilation dh, dw spaces the kernel taps (Yu & Koltun, 2016).
//
//   cols[(c,i,j), (n,p,q)] = x[n, c, p·sh + i·dh − ph, q·sw + j·dw − pw]   (0 outside)  (CK, N·P)
//   Y = W · cols  (O, N·P), y[n, o, p, q] = Y[o, (n,p,q)] + b[o]
// Backward: dY gathered from dy; dW += dY · colsᵀ; db += Σ_{(n,p,q)} dY; dcols = Wᵀ · dY;
// dx = col2im(dcols) (scatter-add, parallel over (n, c) planes so no two threads touch one value).
// Taps whose every read falls in the padding (a dilation as long as the input) are left out of
// cols and of the GEMMs (their weight gradient is 0), so they cost nothing; cols then uses only
// its first C·(live taps) rows (the others are zero, as im2col_nchw of csrc/nn/im2col.hpp writes
// them, so rebuilt columns equal the forward's).
#pragma once
#include "core/check.hpp"
#include "core/workspace.hpp"

namespace pyssl::nn {

struct ConvShape {
  index_t n, c, h, w;     // input
  index_t o, kh, kw;      // filters
  index_t sh, sw, ph, pw; // stride, padding before (top, left)
  index_t dh = 1, dw = 1;  // dilation
  index_t ph_end = -1, pw_end = -1;  // padding after (bottom, right); -1: same as before
  index_t pad_h_end() const { return ph_end < 0 ? ph : ph_end; }
  index_t pad_w_end() const { return pw_end < 0 ? pw : pw_end; }
  index_t span_h() const { return dh * (kh - 1) + 1; }  // receptive field of the kernel
  index_t span_w() const { return dw * (kw - 1) + 1; }
  index_t ho() const { return (h + ph + pad_h_end() - span_h()) / sh + 1; }
  index_t wo() const { return (w + pw + pad_w_end() - span_w()) / sw + 1; }
  index_t ck() const { return c * kh * kw; }
  index_t cols() const { return n * ho() * wo(); }
  void validate() const;
};

// A kernel tap whose input offset (of output 0) is `off` reads at least one input value along an
// axis of n_in inputs and n_out outputs at this stride (else it reads only padding: a dead tap).
inline bool conv_tap_live(index_t off, index_t stride, index_t n_out, index_t n_in) {
  const index_t p0 = off >= 0 ? 0 : (-off + stride - 1) / stride;  // first output reading >= 0
  return p0 < n_out && p0 * stride + off <= n_in - 1;
}
// C · (live taps): the rows of cols the kernels use (cols keeps CK rows; the rest are zero).
index_t conv2d_live_rows(const ConvShape& s);
// Rows of the live-tap weight scratch wl (O, live rows): 0 when every tap is live (w is used).
inline index_t conv2d_weight_scratch(const ConvShape& s) {
  const index_t cl = conv2d_live_rows(s);
  return cl < s.ck() ? s.o * cl : 0;
}

// cols: (CK, N·P) kept for backward (rows (c, live i, live j) first, dead-tap rows zero);
// ytmp: scratch (O, N·P); wl: scratch (conv2d_weight_scratch(s) values).
template <class T>
void conv2d_forward(const ConvShape& s, const T* x, const T* w, const T* b, T* cols, T* ytmp, T* wl, T* y);

template <class T, class Carver>
void conv2d_forward_layout(Carver& c, const ConvShape& s, T*& ytmp, T*& wl) {
  ytmp = c.template take<T>(s.o * s.cols());
  wl = c.template take<T>(conv2d_weight_scratch(s));
}
// Bytes of scratch conv2d_forward needs (ytmp, wl; cols is an output, kept for backward). The
// sizes follow the dilated, asymmetrically padded output shape (ho(), wo()) and the live taps.
template <class T>
std::size_t conv2d_forward_workspace(const ConvShape& s) {
  T *a, *b;
  return workspace_bytes([&](auto& c) { conv2d_forward_layout<T>(c, s, a, b); });
}
template <class T>
void conv2d_forward(const ConvShape& s, const T* x, const T* w, const T* b, T* cols, T* y, void* workspace) {
  WorkspaceCarver c(workspace);
  T *ytmp, *wl;
  conv2d_forward_layout<T>(c, s, ytmp, wl);
  conv2d_forward<T>(s, x, w, b, cols, ytmp, wl, y);
}

// dytmp: scratch (O, N·P); dcols: scratch (C·live, N·P) (only when dx != nullptr); wl: scratch
// (conv2d_weight_scratch(s) values). cols in conv2d_forward's layout.
template <class T>
void conv2d_backward(const ConvShape& s, const T* cols, const T* w, const T* dy, T* dytmp, T* dcols, T* wl,
                     T* dx, T* dw, T* db, bool accumulate);

template <class T, class Carver>
void conv2d_backward_layout(Carver& c, const ConvShape& s, bool need_dx, T*& dytmp, T*& dcols, T*& wl) {
  dytmp = c.template take<T>(s.o * s.cols());
  dcols = need_dx ? c.template take<T>(conv2d_live_rows(s) * s.cols()) : nullptr;
  wl = c.template take<T>(conv2d_weight_scratch(s));
}
// Bytes of scratch conv2d_backward needs (dytmp, dcols when dx is wanted, wl).
template <class T>
std::size_t conv2d_backward_workspace(const ConvShape& s, bool need_dx) {
  T *a, *b, *d;
  return workspace_bytes([&](auto& c) { conv2d_backward_layout<T>(c, s, need_dx, a, b, d); });
}
// dx == nullptr: no input gradient (the workspace was sized with need_dx = false).
template <class T>
void conv2d_backward(const ConvShape& s, const T* cols, const T* w, const T* dy, T* dx, T* dw, T* db,
                     bool accumulate, void* workspace) {
  WorkspaceCarver c(workspace);
  T *dytmp, *dcols, *wl;
  conv2d_backward_layout<T>(c, s, dx != nullptr, dytmp, dcols, wl);
  conv2d_backward<T>(s, cols, w, dy, dytmp, dcols, wl, dx, dw, db, accumulate);
}

}  // namespace pyssl::nn
