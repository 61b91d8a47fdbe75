// Contrastive losses over a batch of L2-normalised embeddings: NT-Xent (SimCLR), supervised
// contrastive (SupCon) and InfoNCE against a bank of negatives (MoCo).
//
// NT-Xent and SupCon share one kernel (contrastive_core in contrastive.cpp): for R anchors with
// cosine similarities s_ab = <ẑ_a, ẑ_b>, positives P(a) and temperature τ,
//   ℓ_a = log Σ_{b≠a} exp(s_ab/τ) − (1/|P(a)|) Σ_{p∈P(a)} s_ap/τ,   L = mean over anchors with P(a) ≠ ∅.
// NT-Xent is the case R = 2N, P(a) = {a ± N}. Gradient: G_ab = softmax_ab − 1[b∈P(a)]/|P(a)|,
// dẐ = (G + Gᵀ) Ẑ / (τ · #anchors), then through the normalisation.
#pragma once
#include <cstdint>

#include "core/check.hpp"
#include "core/workspace.hpp"

namespace pyssl::loss {

// Scratch for R anchors of dimension d, allocated by the caller.
template <class T>
struct ContrastiveWork {
  T* zhat;     // (R, d) normalised embeddings
  T* norm;     // (R,)   row norms
  T* sim;      // (R, R) similarities, then softmax, then the symmetrised gradient
  T* partial;  // (R,)   per-anchor loss
  T* weight;   // (R,)   1 for anchors with a positive, else 0
  T* dzhat;    // (R, d) gradient w.r.t. zhat
};

template <class T, class Carver>
ContrastiveWork<T> contrastive_layout(Carver& c, index_t r, index_t d) {
  return {c.template take<T>(r * d), c.template take<T>(r),     c.template take<T>(r * r),
          c.template take<T>(r),     c.template take<T>(r),     c.template take<T>(r * d)};
}

// z1, z2 (N, d): row i of z1 and of z2 are a positive pair. Scratch for R = 2N.
// Returns the loss; writes dz1, dz2 (N, d).
template <class T>
double nt_xent(const T* z1, const T* z2, index_t n, index_t d, T temperature, T* dz1, T* dz2,
               const ContrastiveWork<T>& w);

// Bytes of scratch nt_xent needs (one block, see core/workspace.hpp).
template <class T>
std::size_t nt_xent_workspace(index_t n, index_t d) {
  return workspace_bytes([&](auto& c) { contrastive_layout<T>(c, 2 * n, d); });
}
template <class T>
double nt_xent(const T* z1, const T* z2, index_t n, index_t d, T temperature, T* dz1, T* dz2, void* workspace) {
  WorkspaceCarver c(workspace);
  return nt_xent<T>(z1, z2, n, d, temperature, dz1, dz2, contrastive_layout<T>(c, 2 * n, d));
}

// z (N, d), labels (N,): a and b (a ≠ b) are positives when their labels are equal.
// Anchors without a positive are left out of the mean; throws if no anchor has one.
template <class T>
double sup_con(const T* z, const std::int64_t* labels, index_t n, index_t d, T temperature, T* dz,
               const ContrastiveWork<T>& w);

template <class T>
std::size_t sup_con_workspace(index_t n, index_t d) {
  return workspace_bytes([&](auto& c) { contrastive_layout<T>(c, n, d); });
}
template <class T>
double sup_con(const T* z, const std::int64_t* labels, index_t n, index_t d, T temperature, T* dz, void* workspace) {
  WorkspaceCarver c(workspace);
  return sup_con<T>(z, labels, n, d, temperature, dz, contrastive_layout<T>(c, n, d));
}

// One shard of the anchors of SupCon (NT-Xent with labels [0..N−1, 0..N−1]) over R rows, for
// data-parallel training: each process holds all R normalised rows Ẑ and takes the anchors it
// owns. Writes the shard's Σ ℓ_a and anchor count and its unscaled part of dẐ (R, d):
//   G_locᵀ A + scatter_anchors(G_loc Ẑ),  A = Ẑ[anchors], G_loc = the anchors' rows of G.
// Summed over shards these give Σ ℓ_a, the anchor count and (G + Gᵀ) Ẑ; dividing by
// τ · count gives the full kernel's dẐ.
template <class T>
struct ContrastiveShardWork {
  T* a;        // (R_loc, d) the anchors' rows, then G_loc Ẑ
  T* sim;      // (R_loc, R) similarities, then G_loc
  T* partial;  // (R_loc,)
  T* weight;   // (R_loc,)
};

template <class T>
void sup_con_shard(const T* zhat, const std::int64_t* labels, index_t r, index_t d, const std::int64_t* anchors,
                   index_t r_loc, T temperature, T* dzhat, double* loss_sum, double* anchor_count,
                   const ContrastiveShardWork<T>& w);

template <class T, class Carver>
ContrastiveShardWork<T> contrastive_shard_layout(Carver& c, index_t r, index_t d, index_t r_loc) {
  return {c.template take<T>(r_loc * d), c.template take<T>(r_loc * r), c.template take<T>(r_loc),
          c.template take<T>(r_loc)};
}
template <class T>
std::size_t sup_con_shard_workspace(index_t r, index_t d, index_t r_loc) {
  return workspace_bytes([&](auto& c) { contrastive_shard_layout<T>(c, r, d, r_loc); });
}
template <class T>
void sup_con_shard(const T* zhat, const std::int64_t* labels, index_t r, index_t d, const std::int64_t* anchors,
                   index_t r_loc, T temperature, T* dzhat, double* loss_sum, double* anchor_count, void* workspace) {
  WorkspaceCarver c(workspace);
  sup_con_shard<T>(zhat, labels, r, d, anchors, r_loc, temperature, dzhat, loss_sum, anchor_count,
                   contrastive_shard_layout<T>(c, r, d, r_loc));
}

// Scratch for InfoNCE with N queries and a bank of M negatives.
template <class T>
struct InfoNceWork {
  T* qkhat;    // (2N, d) normalised q then k (one pass over both)
  T* qknorm;   // (2N,)
  T* binv;     // (M,) 1 / max(|b_m|, eps)
  T* logits;   // (N, M + 1): column 0 the positive, then the bank; overwritten by the gradient
  T* partial;  // (N,)
};

// q, k (N, d), queue (M, d) constant. ℓ_i = −log softmax([ q̂_i·k̂_i, q̂_i·b̂_1, …, q̂_i·b̂_M ] / τ)_0,
// L = mean_i ℓ_i. Writes dq, dk (N, d).
template <class T>
double info_nce(const T* q, const T* k, const T* queue, index_t n, index_t m, index_t d, T temperature,
                T* dq, T* dk, const InfoNceWork<T>& w);

template <class T, class Carver>
InfoNceWork<T> info_nce_layout(Carver& c, index_t n, index_t m, index_t d) {
  return {c.template take<T>(2 * n * d), c.template take<T>(2 * n), c.template take<T>(m),
          c.template take<T>(n * (m + 1)), c.template take<T>(n)};
}
template <class T>
std::size_t info_nce_workspace(index_t n, index_t m, index_t d) {
  return workspace_bytes([&](auto& c) { info_nce_layout<T>(c, n, m, d); });
}
template <class T>
double info_nce(const T* q, const T* k, const T* queue, index_t n, index_t m, index_t d, T temperature, T* dq,
                T* dk, void* workspace) {
  WorkspaceCarver c(workspace);
  return info_nce<T>(q, k, queue, n, m, d, temperature, dq, dk, info_nce_layout<T>(c, n, m, d));
}

}  // namespace pyssl::loss
