// TS2Vec's hierarchical contrastive loss (Yue et al., "TS2Vec: Towards Universal Representation of
// Time Series", AAAI 2022, Sec. 3.2 and Algorithm 1), forward and backward in one call.
//
// z1, z2 (B, T, C): the per-timestamp representations of the overlap of two crops (row b, time t
// of z1 and of z2 are the same timestamp seen in two contexts). Level 0 is (z1, z2); level l + 1
// is level l max-pooled over time with kernel 2, stride 2 (floor: an odd last step is dropped),
// until the length is 1. With similarities s = <r_a, r_b> (dot products, no normalisation or
// temperature, as the reference implementation):
//
//   instance loss at time t: anchors a ∈ {z1[b,t], z2[b,t]} (2B rows), positive the other view of
//     the same series, negatives the other 2B − 2 rows of that time step;
//   temporal loss of series b: anchors a ∈ {z1[b,t], z2[b,t]} (2T rows), positive the same
//     timestamp in the other view, negatives the other 2T − 2 timestamps of that series;
//   ℓ_a = log Σ_{b≠a} exp(s_ab) − s_a,pos(a), each averaged over its anchors (2B·T, resp. B·2T);
//
//   L = (1/D) Σ_levels [ α·L_inst + (1 − α)·L_temp·1[l ≥ temporal_unit] ],
//
// D the number of levels; the last level (length 1) adds α·L_inst only. L_inst = 0 when B = 1.
// Gradient per slice: dS_ab = softmax_ab − 1[b = pos(a)], dR = w·(dS + dSᵀ)·R (w the anchor's
// weight in L), routed back through each max-pool to the arg-max step (the first on ties).
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "core/check.hpp"
#include "core/workspace.hpp"

namespace pyssl::loss {

// Scratch of ts2vec_hierarchical: every level's representations z, their gradients dz and the
// max-pool arg-max (each 2B·C·Σ_l T_l, levels stacked), one similarity slice s (R, R) with
// R = max(2B, 2T), its row partials (R,) and the temporal pair and its gradient (2T, C) each.
template <class T>
struct Ts2vecWork {
  T *z, *dz;
  std::uint8_t* arg;
  T *s, *partial, *pair, *dpair;
};
template <class T, class Carver>
Ts2vecWork<T> ts2vec_hierarchical_layout(Carver& c, index_t b, index_t t, index_t ch) {
  index_t total = 0;  // Σ_l T_l over the levels T_0 = T, T_{l+1} = T_l / 2 while T_l > 1
  for (index_t l = t;; l /= 2) {
    total += l;
    if (l <= 1) break;
  }
  const index_t rows = 2 * b, max_r = std::max(rows, 2 * t), stack = rows * total * ch;
  Ts2vecWork<T> w;
  w.z = c.template take<T>(stack);
  w.dz = c.template take<T>(stack);
  w.arg = c.template take<std::uint8_t>(stack);
  w.s = c.template take<T>(max_r * max_r);
  w.partial = c.template take<T>(max_r);
  w.pair = c.template take<T>(2 * t * ch);
  w.dpair = c.template take<T>(2 * t * ch);
  return w;
}
// Bytes of scratch ts2vec_hierarchical needs for z1 of shape (B, T, C).
template <class T>
std::size_t ts2vec_hierarchical_workspace(index_t b, index_t t, index_t c) {
  return workspace_bytes([&](auto& cv) { ts2vec_hierarchical_layout<T>(cv, b, t, c); });
}

// Returns L and writes dz1, dz2 (B, T, C); workspace: ts2vec_hierarchical_workspace<T>(b, t, c) bytes.
template <class T>
double ts2vec_hierarchical(const T* z1, const T* z2, index_t b, index_t t, index_t c, double alpha,
                           index_t temporal_unit, T* dz1, T* dz2, void* workspace);

}  // namespace pyssl::loss
