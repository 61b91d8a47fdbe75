// T-Loss's triplet loss with time-based negative sampling (Franceschi, Dieuleveut & Jaggi,
// "Unsupervised Scalable Representation Learning for Multivariate Time Series", NeurIPS 2019,
// eq. (1)), forward and backward in one call:
//
//   L = −(1/B) Σ_j log σ(<z_j, p_j>) − (1/K) Σ_k (1/B) Σ_j log σ(−<z_j, n_kj>)
//
// z (B, D) anchors, p (B, D) their positives (sub-series of the anchor's window), n (K, B, D) the
// K negatives of each anchor (sub-series of other series). Dot products, no normalisation.
// log σ(x) = −softplus(−x), evaluated stably; dlogσ(x)/dx = σ(−x).
#pragma once
#include <cstddef>

#include "core/check.hpp"
#include "core/workspace.hpp"

namespace pyssl::loss {

// Returns L; writes dz, dp (B, D) and dn (K, B, D). partial: scratch (B,) per-anchor terms.
template <class T>
double tloss_triplet(const T* z, const T* p, const T* n, index_t b, index_t k, index_t d, T* dz, T* dp, T* dn,
                     double* partial);

// Bytes of scratch tloss_triplet needs: the (B,) per-anchor partials (double).
template <class T>
std::size_t tloss_triplet_workspace(index_t b) {
  return workspace_bytes([&](auto& c) { c.template take<double>(b); });
}
template <class T>
double tloss_triplet(const T* z, const T* p, const T* n, index_t b, index_t k, index_t d, T* dz, T* dp, T* dn,
                     void* workspace) {
  WorkspaceCarver c(workspace);
  return tloss_triplet<T>(z, p, n, b, k, d, dz, dp, dn, c.template take<double>(b));
}

}  // namespace pyssl::loss
