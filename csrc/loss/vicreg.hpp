// VICReg (Bardes et al. 2022, eqs. 1-6, official code's conventions):
//   inv = mean_{n,j} (z1 − z2)²
//   std_j = sqrt(var_unbiased(z_j) + eps),  v(z) = mean_j relu(1 − std_j),  var = (v(z1) + v(z2)) / 2
//   cov(z) = (z − z̄)ᵀ(z − z̄) / (N − 1),    c(z) = Σ_{i≠j} cov_ij² / D,       covl = c(z1) + c(z2)
//   L = sim_w · inv + var_w · var + cov_w · covl
#pragma once
#include "core/check.hpp"
#include "core/workspace.hpp"

namespace pyssl::loss {

template <class T>
struct VicregWork {
  T* x1;       // (N, D) centred z1
  T* x2;       // (N, D)
  T* mean;     // (D,)
  T* coef1;    // (D,) d var-term / d x1, per column
  T* coef2;    // (D,)
  double* ssd;  // (D,)
  T* cov;      // (D, D)
  T* partial;  // max(N, D)
};

// Returns the loss; terms[0..2] = (inv, var, covl) unweighted.
template <class T>
double vicreg(const T* z1, const T* z2, index_t n, index_t d, T sim_w, T var_w, T cov_w, T eps, T* dz1, T* dz2,
              const VicregWork<T>& w, double* terms);

template <class T, class Carver>
VicregWork<T> vicreg_layout(Carver& c, index_t n, index_t d) {
  return {c.template take<T>(n * d), c.template take<T>(n * d), c.template take<T>(d),      c.template take<T>(d),
          c.template take<T>(d),     c.template take<double>(d), c.template take<T>(d * d), c.template take<T>(n > d ? n : d)};
}
// Bytes of scratch vicreg needs (one block, see core/workspace.hpp).
template <class T>
std::size_t vicreg_workspace(index_t n, index_t d) {
  return workspace_bytes([&](auto& c) { vicreg_layout<T>(c, n, d); });
}
template <class T>
double vicreg(const T* z1, const T* z2, index_t n, index_t d, T sim_w, T var_w, T cov_w, T eps, T* dz1, T* dz2,
              void* workspace, double* terms) {
  WorkspaceCarver c(workspace);
  return vicreg<T>(z1, z2, n, d, sim_w, var_w, cov_w, eps, dz1, dz2, vicreg_layout<T>(c, n, d), terms);
}

}  // namespace pyssl::loss
