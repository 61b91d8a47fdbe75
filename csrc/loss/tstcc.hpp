// TS-TCC's temporal contrasting loss (Eldele et al., "Time-Series Representation Learning via
// Temporal and Contextual Contrasting", IJCAI 2021, eq. (3)), forward and backward in one call:
//
//   L = −1/(K·B) Σ_k Σ_i log [ exp(<z_ki, p_ki>) / Σ_j exp(<z_ki, p_kj>) ]
//
// z (K, B, D): the encoder's latents at the K future steps t+1 … t+K of one view; p (K, B, D): the
// predictions W_k c_t from the context c_t of the other view. Raw dot products (no normalisation,
// no temperature), row i of S_k = Z_k P_kᵀ is softmaxed over the batch's predictions j, as the
// reference implementation (log-softmax of encode_samples[k] @ pred[k]ᵀ, diagonal kept).
// Backward: G_k = (softmax(S_k) − I)/(K·B); dZ_k = G_k P_k, dP_k = G_kᵀ Z_k (GEMMs through
// csrc/blas).
#pragma once
#include <cstddef>

#include "core/check.hpp"
#include "core/workspace.hpp"

namespace pyssl::loss {

// Returns L; writes dz, dp (K, B, D). s: scratch (K, B, B) scores; partial: scratch (K·B,) terms.
template <class T>
double tstcc_temporal(const T* z, const T* p, index_t k, index_t b, index_t d, T* dz, T* dp, T* s,
                      double* partial);

template <class T, class Carver>
void tstcc_temporal_layout(Carver& c, index_t k, index_t b, T*& s, double*& partial) {
  s = c.template take<T>(k * b * b);
  partial = c.template take<double>(k * b);
}
// Bytes of scratch tstcc_temporal needs: the (K, B, B) scores and the (K·B,) partials.
template <class T>
std::size_t tstcc_temporal_workspace(index_t k, index_t b) {
  T* s;
  double* partial;
  return workspace_bytes([&](auto& c) { tstcc_temporal_layout<T>(c, k, b, s, partial); });
}
template <class T>
double tstcc_temporal(const T* z, const T* p, index_t k, index_t b, index_t d, T* dz, T* dp, void* workspace) {
  WorkspaceCarver c(workspace);
  T* s;
  double* partial;
  tstcc_temporal_layout<T>(c, k, b, s, partial);
  return tstcc_temporal<T>(z, p, k, b, d, dz, dp, s, partial);
}

}  // namespace pyssl::loss
