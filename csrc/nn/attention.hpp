// Fused multi-head scaled-dot-product attention (Vaswani et al., NeurIPS 2017, eq. 1) and the
// per-feature tabular tokenizer (Gorishniy et al., NeurIPS 2021, "Revisiting Deep Learning Models
// for Tabular Data", §3.3).
//
// Attention layout: the packed projection qkv (N, L, 3D), D = H·Dh, columns [0, D) the queries,
// [D, 2D) the keys, [2D, 3D) the values, head h in columns h·Dh … h·Dh + Dh − 1 of each block
// (what one dense layer x W_qkv produces, read in place with a row stride of 3D: no transpose).
// Per (sample n, head h):
//   S = Q Kᵀ / √Dh,  P = softmax_row(S) (padded keys get probability 0),  O = P V
// written to out (N, L, D) at the head's columns, P kept in probs (N, H, L, L) for backward.
// Backward (from P, no (N, H, L, L) gradient buffer: one L×L scratch per thread):
//   dV = Pᵀ dO,  dP = dO Vᵀ,  dS = P ∘ (dP − rowsum(P ∘ dP)) / √Dh,  dQ = dS K,  dK = dSᵀ Q
// into dqkv (N, L, 3D). Products run through blas::gemm, one (n, h) per task, single-threaded
// BLAS inside the OpenMP loop; each task writes only its own rows/columns, so the result does
// not depend on the thread count. The softmax runs in the input precision (fp32 for float32).
// key_mask (N, L) uint8, nonzero = padded key (ignored), may be null; every sample must keep at
// least one key (checked).
//
// Scratch: the kernels that need it (attention_backward, attention_forward_lse,
// attention_backward_recompute) take a workspace of `slots` per-thread slices, sized by their
// `<kernel>_workspace<T>(l, slots)`; slots is the thread count the caller sized it for
// (pyssl::num_threads() at the call), and a region with more threads fails a check instead of
// writing past the block.
#pragma once
#include <cstddef>
#include <cstdint>

#include "core/check.hpp"
#include "core/workspace.hpp"

namespace pyssl::nn {

constexpr index_t kAttentionRowBlock = 64;  // query rows per block of the memory-light variant

// Elements of one thread's slice (rounded up to whole cache lines, so slices never share one).
template <class T>
index_t attention_slice(index_t per_thread) {
  const index_t line = index_t(WorkspaceCarver::kAlign / sizeof(T));
  return (per_thread + line - 1) / line * line;
}
// Per-thread scratch of each kernel, in elements of T.
inline index_t attention_backward_scratch(index_t l) { return l * l; }  // dS (L × L)
inline index_t attention_forward_lse_scratch(index_t l) {             // S/P of one row block
  return (l < kAttentionRowBlock ? l : kAttentionRowBlock) * l;
}
inline index_t attention_backward_recompute_scratch(index_t l) { return 2 * attention_forward_lse_scratch(l); }

template <class T>
std::size_t attention_backward_workspace(index_t l, int slots) {
  return workspace_bytes([&](auto& c) { c.template take<T>(slots * attention_slice<T>(attention_backward_scratch(l))); });
}
template <class T>
std::size_t attention_forward_lse_workspace(index_t l, int slots) {
  return workspace_bytes(
      [&](auto& c) { c.template take<T>(slots * attention_slice<T>(attention_forward_lse_scratch(l))); });
}
template <class T>
std::size_t attention_backward_recompute_workspace(index_t l, int slots) {
  return workspace_bytes(
      [&](auto& c) { c.template take<T>(slots * attention_slice<T>(attention_backward_recompute_scratch(l))); });
}

template <class T>
void attention_forward(const T* qkv, const std::uint8_t* key_mask, T* out, T* probs, index_t n, index_t l,
                       index_t heads, index_t dh);

template <class T>
void attention_backward(const T* qkv, const T* probs, const T* dout, T* dqkv, index_t n, index_t l,
                        index_t heads, index_t dh, int slots, void* workspace);

// Memory-light variant (the recomputation of FlashAttention, Dao et al., NeurIPS 2022, without its
// tiling of the keys): forward keeps only the row log-sum-exp lse (N, H, L) of S, working on
// blocks of query rows (a kAttentionRowBlock × L scratch per thread); backward recomputes
// P = exp(S − lse) block by block and uses Dᵢ = rowsum(dOᵢ ∘ Oᵢ) (= rowsum(P ∘ dP)) from the saved
// output out (N, L, D), accumulating dK and dV over the blocks of one (n, h) in order.
template <class T>
void attention_forward_lse(const T* qkv, const std::uint8_t* key_mask, T* out, T* lse, index_t n, index_t l,
                           index_t heads, index_t dh, int slots, void* workspace);

template <class T>
void attention_backward_recompute(const T* qkv, const std::uint8_t* key_mask, const T* lse, const T* out,
                                  const T* dout, T* dqkv, index_t n, index_t l, index_t heads, index_t dh,
                                  int slots, void* workspace);

// Feature tokenizer: x (N, F), weight and bias (F, D) -> y (N, F, D), y[n,f,:] = x[n,f]·W[f,:] + b[f,:].
// Backward: dx[n,f] = Σ_d dy[n,f,d] W[f,d]; dW[f,d] (+)= Σ_n dy[n,f,d] x[n,f]; db[f,d] (+)= Σ_n dy[n,f,d]
// (sums over n in order, one task per feature: thread-count invariant). dx / db may be null.
template <class T>
void feature_tokenizer_forward(const T* x, const T* w, const T* b, T* y, index_t n, index_t f, index_t d);

template <class T>
void feature_tokenizer_backward(const T* x, const T* w, const T* dy, T* dx, T* dw, T* db, index_t n, index_t f,
                                index_t d, bool accumulate);

}  // namespace pyssl::nn
