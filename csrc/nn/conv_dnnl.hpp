// Convolution engine on oneDNN's convolution primitives (built with -DPYSSL_WITH_ONEDNN): the
// forward, the input gradient (backward-data) and the weight + bias gradient (backward-weights) of
// csrc/nn/conv.hpp's convolution (ConvShape: stride, asymmetric padding, dilation — oneDNN counts
// dilation as d − 1 —, Conv1d as H = 1), float32 or bf16-mixed (bfloat16 src / weights / diff_dst,
// float32 dst, diff_src and diff_weights; the float32 master weights are rounded to bfloat16 per
// call, round to nearest even as csrc/core/bf16.hpp). float64 has no oneDNN convolution: it stays
// on the im2col path. Where oneDNN has no bf16 convolution for the CPU (x86 without AVX-512:
// blas::bf16_native() false), a bf16 pass rounds its operands to bfloat16 into float32 copies and
// runs the float32 primitives on them — the same products, float32 sums, no speed-up.
//
//   y[n, o, p, q]  = b[o] + Σ_{c,i,j} w[o, c, i, j] · x[n, c, p·sh + i·dh − ph, q·sw + j·dw − pw]
//   dx = convᵀ(w, dy),  dw (+)= Σ_n corr(x_n, dy_n),  db (+)= Σ_{n,p,q} dy[n, :, p, q]
//
// Determinism: every pass splits the batch into chunks whose size depends on the shape only
// (forward / backward-data: min(N, 16) chunks; backward-weights: 8, 4, 2 or 1 chunks, fewer when
// the per-chunk weight-gradient partials would pass 64 MiB — or, for weights over 1 MiB with a
// multiple of 64 output channels, chunks of 64 / 32 / 16 output channels over the whole batch,
// which write disjoint rows of dw) and runs each chunk through a single-threaded primitive (its thread count
// baked in at creation), chunks handed to the OpenMP team; the backward-weights batch partials are
// summed in chunk order. (Measured: oneDNN's multi-threaded backward-weights is not thread-count
// invariant; its forward and backward-data were, in every shape tried.) So each value is computed by the
// same instruction sequence whatever the thread count: results are bit-identical at 1, 2 or 3
// threads. (The alternative, one multi-threaded primitive over the whole batch, is kept behind
// conv_dnnl_options().batch_split = false for measurement.)
//
// bf16 weight gradients of layers with small output maps (ho·wo <= 16, or <= 64 with a kernel
// larger than 1×1: ResNet's last two stages, and wherever a tap reads only padding)
// skip oneDNN's backward-weights primitive, which runs there at a third of its forward's rate, for
// the im2col GEMM of csrc/nn/conv_wgrad_gemm.hpp.
//
// Layouts: the user arrays are nchw / oihw float32. With `blocked` (default) the primitives are
// created with format_tag::any and the inputs reordered (and, for bf16, converted) into the layout
// oneDNN picks (nChw16c, OIhw16i16o ... on AVX-512), per chunk in the chunk's thread; with
// `blocked` false they read nchw / oihw directly (a reorder still converts to bf16).
// Primitives are cached per shape (never erased); scratch (reorder buffers, oneDNN scratchpads,
// weight partials) comes from the caller's workspace.
#pragma once
#include <cstddef>
#include <string>

#include "nn/conv.hpp"

namespace pyssl::nn {

bool conv_dnnl_available();

// Which engine float32 convolution layers use: "onednn" (default when available) or "im2col" (the
// portable path of conv.hpp). Read once from the environment variable PYSSL_CONV_ENGINE
// (im2col | onednn); set_conv_engine changes it for the process. bf16-mixed always uses oneDNN.
const char* conv_engine();
void set_conv_engine(const std::string& name);

struct ConvDnnlOptions {
  bool batch_split = true;  // fixed batch chunks on single-threaded primitives (thread invariant)
  bool blocked = true;      // format_tag::any + reorders, else plain nchw / oihw
  // Backward-weights by chunks of output channels: 0 the shape heuristic (use_oc_split), -1 never
  // (batch chunks), k > 0 chunks of k channels wherever k divides O (for measurement).
  int wgrad_oc_chunk = 0;
  // bf16 backward-weights as im2col GEMMs (conv_wgrad_gemm.hpp): 0 where the output feature map
  // is small (see above), 1 always, -1 only where a tap reads nothing but padding (for measurement).
  int wgrad_gemm = 0;
};
ConvDnnlOptions conv_dnnl_options();
void set_conv_dnnl_options(const ConvDnnlOptions& o);

// 0 forward, 1 backward-data, 2 backward-weights. The oneDNN implementation of the pass's most
// recently created primitive (e.g. "brg_conv_fwd:avx512_core"), "" before the first one; bf16 on a
// CPU without bf16 convolutions: "emulated: float32 <impl> on bf16-rounded operands".
std::string conv_dnnl_impl(int pass, bool bf16);

std::size_t conv2d_dnnl_forward_workspace(const ConvShape& s, bool has_bias, bool bf16);
// x (N, C, H, W), w (O, C, KH, KW), b (O) or nullptr, y (N, O, HO, WO): float32.
void conv2d_dnnl_forward(const ConvShape& s, const float* x, const float* w, const float* b, float* y, bool bf16,
                         void* workspace);

std::size_t conv2d_dnnl_backward_workspace(const ConvShape& s, bool need_dx, bool need_dw, bool has_bias, bool bf16);
// dx (N, C, H, W) = input gradient, or nullptr; dw (O, C, KH, KW) and db (O) (or nullptr) are
// written (accumulate false) or added to (accumulate true). dw == nullptr: no parameter gradients.
void conv2d_dnnl_backward(const ConvShape& s, const float* x, const float* w, const float* dy, float* dx, float* dw,
                          float* db, bool accumulate, bool bf16, void* workspace);

}  // namespace pyssl::nn
