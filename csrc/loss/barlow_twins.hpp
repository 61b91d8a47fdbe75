// Barlow Twins (Zbontar et al. 2021, eq. 1):
//   z̃ = (z − mean) / sqrt(var_biased + eps) per feature (BatchNorm1d without affine, eps 1e-5),
//   C = z̃1ᵀ z̃2 / N,  L = scale · [ Σ_i (1 − C_ii)² + λ Σ_{i≠j} C_ij² ].
#pragma once
#include "core/check.hpp"
#include "core/workspace.hpp"

namespace pyssl::loss {

template <class T>
struct BarlowTwinsWork {
  T* zt1;      // (N, D) standardised z1
  T* zt2;      // (N, D)
  T* mean;     // (D,)
  T* inv_std1;  // (D,)
  T* inv_std2;  // (D,)
  double* ssd;  // (D,)
  T* corr;     // (D, D) cross-correlation, then dL/dC
  T* partial;  // (D,)
};

template <class T>
double barlow_twins(const T* z1, const T* z2, index_t n, index_t d, T lambd, T scale, T eps, T* dz1, T* dz2,
                    const BarlowTwinsWork<T>& w);

template <class T, class Carver>
BarlowTwinsWork<T> barlow_twins_layout(Carver& c, index_t n, index_t d) {
  return {c.template take<T>(n * d), c.template take<T>(n * d), c.template take<T>(d),      c.template take<T>(d),
          c.template take<T>(d),     c.template take<double>(d), c.template take<T>(d * d), c.template take<T>(d)};
}
// Bytes of scratch barlow_twins needs (one block, see core/workspace.hpp).
template <class T>
std::size_t barlow_twins_workspace(index_t n, index_t d) {
  return workspace_bytes([&](auto& c) { barlow_twins_layout<T>(c, n, d); });
}
template <class T>
double barlow_twins(const T* z1, const T* z2, index_t n, index_t d, T lambd, T scale, T eps, T* dz1, T* dz2,
                    void* workspace) {
  WorkspaceCarver c(workspace);
  return barlow_twins<T>(z1, z2, n, d, lambd, scale, eps, dz1, dz2, barlow_twins_layout<T>(c, n, d));
}

}  // namespace pyssl::loss
