// Barlow Twins (Zbontar et al. 2021, eq. 1):
//   z̃ = (z − mean) / sqrt(var_biased + eps) per feature (BatchNorm1d without affine, eps 1e-5),
//   C = z̃1ᵀ z̃2 / N,  L = scale · [ Σ_i (1 − C_ii)² + λ Σ_{i≠j} C_ij² ].
#pragma once
#include "core/check.hpp"

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

}  // namespace pyssl::loss
