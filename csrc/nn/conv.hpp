// 2-D convolution (cross-correlation, as PyTorch) by im2col + one BLAS GEMM per pass; Conv1d is
// the H = 1 case. Layouts: x (N, C, H, W), weight (O, C, KH, KW) = (O, C·KH·KW) row-major,
// bias (O), y (N, O, HO, WO) with HO = (H + 2·ph − KH)/sh + 1, WO likewise.
//
//   cols[(c,i,j), (n,p,q)] = x[n, c, p·sh + i − ph, q·sw + j − pw]   (0 outside)     (CK, N·P)
//   Y = W · cols  (O, N·P), y[n, o, p, q] = Y[o, (n,p,q)] + b[o]
// Backward: dY gathered from dy; dW += dY · colsᵀ; db += Σ_{(n,p,q)} dY; dcols = Wᵀ · dY;
// dx = col2im(dcols) (scatter-add, parallel over (n, c) planes so no two threads touch one value).
#pragma once
#include "core/check.hpp"
#include "core/workspace.hpp"

namespace pyssl::nn {

struct ConvShape {
  index_t n, c, h, w;     // input
  index_t o, kh, kw;      // filters
  index_t sh, sw, ph, pw; // stride, padding
  index_t ho() const { return (h + 2 * ph - kh) / sh + 1; }
  index_t wo() const { return (w + 2 * pw - kw) / sw + 1; }
  index_t ck() const { return c * kh * kw; }
  index_t cols() const { return n * ho() * wo(); }
  void validate() const;
};

// cols: scratch (CK, N·P) kept for backward; ytmp: scratch (O, N·P).
template <class T>
void conv2d_forward(const ConvShape& s, const T* x, const T* w, const T* b, T* cols, T* ytmp, T* y);

// Bytes of scratch conv2d_forward needs (ytmp; cols is an output, kept for backward).
template <class T>
std::size_t conv2d_forward_workspace(const ConvShape& s) {
  return workspace_bytes([&](auto& c) { c.template take<T>(s.o * s.cols()); });
}
template <class T>
void conv2d_forward(const ConvShape& s, const T* x, const T* w, const T* b, T* cols, T* y, void* workspace) {
  WorkspaceCarver c(workspace);
  conv2d_forward<T>(s, x, w, b, cols, c.template take<T>(s.o * s.cols()), y);
}

// dytmp: scratch (O, N·P); dcols: scratch (CK, N·P) (only when dx != nullptr).
template <class T>
void conv2d_backward(const ConvShape& s, const T* cols, const T* w, const T* dy, T* dytmp, T* dcols,
                     T* dx, T* dw, T* db, bool accumulate);

template <class T, class Carver>
void conv2d_backward_layout(Carver& c, const ConvShape& s, bool need_dx, T*& dytmp, T*& dcols) {
  dytmp = c.template take<T>(s.o * s.cols());
  dcols = need_dx ? c.template take<T>(s.ck() * s.cols()) : nullptr;
}
// Bytes of scratch conv2d_backward needs (dytmp, and dcols when dx is wanted).
template <class T>
std::size_t conv2d_backward_workspace(const ConvShape& s, bool need_dx) {
  T *a, *b;
  return workspace_bytes([&](auto& c) { conv2d_backward_layout<T>(c, s, need_dx, a, b); });
}
// dx == nullptr: no input gradient (the workspace was sized with need_dx = false).
template <class T>
void conv2d_backward(const ConvShape& s, const T* cols, const T* w, const T* dy, T* dx, T* dw, T* db,
                     bool accumulate, void* workspace) {
  WorkspaceCarver c(workspace);
  T *dytmp, *dcols;
  conv2d_backward_layout<T>(c, s, dx != nullptr, dytmp, dcols);
  conv2d_backward<T>(s, cols, w, dy, dytmp, dcols, dx, dw, db, accumulate);
}

}  // namespace pyssl::nn
