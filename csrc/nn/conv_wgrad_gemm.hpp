// bf16 weight gradient of a convolution as GEMMs on im2col columns (oneDNN matmul, built with
// -DPYSSL_WITH_ONEDNN), for the layers where oneDNN's own backward-weights primitive is slow:
// small output maps, where it runs at a third of its forward's rate (AMX, 512→512 3×3 on 4×4,
// batch 128: 29–32 ms against 11 ms for the forward). Any stride, padding (asymmetric too) and
// dilation. With P = HO·WO, KK = KH·KW:
//
//   xh   = bf16(x) in (N, H, W, C) order
//   cols[(i,j), (n,p,q), c] = xh[n, p·sh + i·dh − ph, q·sw + j·dw − pw, c]   (0 outside)  (KK, N·P, C)
//   dY[o, (n,p,q)] = bf16(dy[n, o, p, q])                                          (O, N·P)
//   g[(i,j)] = dY · cols[(i,j)]     (KK, O, C): one bf16 product per (tap, channel block), float32 sums
//   dw[:, c, i, j] (+)= g[(i,j), :, c]
//   db[o] (+)= Σ_{n,p,q} dy[n, o, p, q]            (float32, n then p order)
//
// Each (tap, channel block) product runs on a single-threaded primitive and writes its own
// columns of g; the blocks depend on the shape only and are handed to pyssl's
// team, so dw and db are bit-identical at any thread count.
#pragma once
#include <cstddef>

#include "nn/conv.hpp"

namespace pyssl::nn {

std::size_t conv_gemm_wgrad_workspace(const ConvShape& s);
// x (N, C, H, W), dy (N, O, HO, WO) float32; dw (O, C, KH, KW), db (O) or nullptr: written or added to.
void conv_gemm_wgrad(const ConvShape& s, const float* x, const float* dy, float* dw, float* db, bool accumulate,
                     void* workspace);

}  // namespace pyssl::nn
