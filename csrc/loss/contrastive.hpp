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

// z1, z2 (N, d): row i of z1 and of z2 are a positive pair. Scratch for R = 2N.
// Returns the loss; writes dz1, dz2 (N, d).
template <class T>
double nt_xent(const T* z1, const T* z2, index_t n, index_t d, T temperature, T* dz1, T* dz2,
               const ContrastiveWork<T>& w);

// z (N, d), labels (N,): a and b (a ≠ b) are positives when their labels are equal.
// Anchors without a positive are left out of the mean; throws if no anchor has one.
template <class T>
double sup_con(const T* z, const std::int64_t* labels, index_t n, index_t d, T temperature, T* dz,
               const ContrastiveWork<T>& w);

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

}  // namespace pyssl::loss
