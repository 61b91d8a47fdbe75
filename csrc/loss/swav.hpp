// SwAV (Caron et al. 2020, sec. 3.1 and Alg. 1 / code `distributed_sinkhorn`).
//
// Sinkhorn-Knopp codes for scores S (N samples, K prototypes), no gradient:
//   Q = exp(S/ε)ᵀ, repeated `iterations` times: normalise each prototype row to 1/K, then each
//   sample column to 1/N; codes q = N·Qᵀ, so every sample's code sums to 1 and, after enough
//   iterations, every prototype receives mass N/K. Fast path: the official multiplicative
//   iterations on exp((S − max over samples)/ε), sums and scalings in float64; when a sample's
//   entries would underflow, the same iterations run in the log domain (log-sum-exp over samples
//   and prototypes), so any score range stays finite.
// Swapped prediction: L = ½ [ CE(q2, softmax(s1/τ)) + CE(q1, softmax(s2/τ)) ],
//   CE(q, p) = −mean_n Σ_k q_nk log p_nk.
#pragma once
#include "core/check.hpp"
#include "core/workspace.hpp"

namespace pyssl::loss {

template <class T>
struct SinkhornWork {
  double* u;  // (K,) log prototype scalings
  double* v;  // (N,) log sample scalings
};

// codes (N, K) of type T; scores (N, K).
template <class T>
void sinkhorn(const T* scores, index_t n, index_t k, T epsilon, int iterations, T* codes,
              const SinkhornWork<T>& w);

template <class T, class Carver>
SinkhornWork<T> sinkhorn_layout(Carver& c, index_t n, index_t k) {
  return {c.template take<double>(k), c.template take<double>(n)};
}
// Bytes of scratch sinkhorn needs (one block, see core/workspace.hpp).
template <class T>
std::size_t sinkhorn_workspace(index_t n, index_t k) {
  return workspace_bytes([&](auto& c) { sinkhorn_layout<T>(c, n, k); });
}
template <class T>
void sinkhorn(const T* scores, index_t n, index_t k, T epsilon, int iterations, T* codes, void* workspace) {
  WorkspaceCarver c(workspace);
  sinkhorn<T>(scores, n, k, epsilon, iterations, codes, sinkhorn_layout<T>(c, n, k));
}

template <class T>
struct SwavWork {
  T* q1;       // (N, K) codes of view 1
  T* q2;       // (N, K)
  T* partial;  // (2N,)
  SinkhornWork<T> sk;
};

template <class T>
double swav(const T* s1, const T* s2, index_t n, index_t k, T temperature, T epsilon, int iterations, T* ds1,
            T* ds2, const SwavWork<T>& w);

template <class T, class Carver>
SwavWork<T> swav_layout(Carver& c, index_t n, index_t k) {
  SwavWork<T> w{c.template take<T>(n * k), c.template take<T>(n * k), c.template take<T>(2 * n), {}};
  w.sk = sinkhorn_layout<T>(c, n, k);
  return w;
}
// Bytes of scratch swav needs (one block, see core/workspace.hpp).
template <class T>
std::size_t swav_workspace(index_t n, index_t k) {
  return workspace_bytes([&](auto& c) { swav_layout<T>(c, n, k); });
}
template <class T>
double swav(const T* s1, const T* s2, index_t n, index_t k, T temperature, T epsilon, int iterations, T* ds1,
            T* ds2, void* workspace) {
  WorkspaceCarver c(workspace);
  return swav<T>(s1, s2, n, k, temperature, epsilon, iterations, ds1, ds2, swav_layout<T>(c, n, k));
}

}  // namespace pyssl::loss
