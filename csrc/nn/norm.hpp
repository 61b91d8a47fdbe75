// Normalisation layers: LayerNorm (Ba, Kiros & Hinton 2016) and BatchNorm1d (Ioffe & Szegedy 2015).
//
// Shapes: x, y, dx, dy (N, D) row-major; gamma, beta, running stats (D).
// gamma / beta may be null (no affine transform: gamma = 1, beta = 0).
// Statistics are accumulated in double (also for float32 data, as PyTorch's CPU kernels do) and
// always in a fixed order, so results are bit-identical for any thread count.
//
// LayerNorm (per row n, over the D features; Ba, Kiros & Hinton 2016, §3):
//   μ_n = (1/D) Σ_d x_nd,  σ²_n = (1/D) Σ_d (x_nd − μ_n)²,  r_n = 1/√(σ²_n + ε)
//   x̂_nd = (x_nd − μ_n) r_n,  y_nd = γ_d x̂_nd + β_d
// Backward (g_nd = dy_nd γ_d):
//   dx_nd = r_n (g_nd − (1/D) Σ_e g_ne − x̂_nd (1/D) Σ_e g_ne x̂_ne)
//   dγ_d (+)= Σ_n dy_nd x̂_nd,  dβ_d (+)= Σ_n dy_nd
//
// BatchNorm1d (per feature d, over the N rows; Ioffe & Szegedy 2015, Algorithm 1 for training;
// the unbiased N/(N−1) variance for inference is their Algorithm 2):
//   training: μ_d = (1/N) Σ_n x_nd, σ²_d = (1/N) Σ_n (x_nd − μ_d)² (biased) for normalisation;
//             running_mean ← (1−m) running_mean + m μ_d,
//             running_var  ← (1−m) running_var  + m σ²_d N/(N−1)   (unbiased; PyTorch convention)
//   eval:     μ_d = running_mean_d, σ²_d = running_var_d
//   r_d = 1/√(σ²_d + ε), x̂_nd = (x_nd − μ_d) r_d, y_nd = γ_d x̂_nd + β_d
// With relu, the ReLU that follows the norm is fused in: y_nd = max(0, γ_d x̂_nd + β_d), and
// backward reads the incoming gradient through its mask, g_nd = dy_nd [y_nd > 0] (g = dy without).
// Backward, with S1_d = Σ_n g_nd and S2_d = Σ_n g_nd x̂_nd:
//   training: dx_nd = γ_d r_d (g_nd − S1_d/N − x̂_nd S2_d/N)   (batch statistics differentiated)
//   eval:     dx_nd = γ_d r_d g_nd
//   dγ_d (+)= S2_d, dβ_d (+)= S1_d
// Parameter gradients are accumulated when `accumulate` is true, overwritten otherwise.
//
// Synchronised statistics (data-parallel training, one shard of the batch per process): the
// caller combines every shard's `batch_norm_moments` (μ_d and M2_d = Σ_n (x_nd − μ_d)²) into the
// global mean and biased variance, passes them to `batch_norm_forward` as given_mean / given_var
// with given_count = the global N (which also sets the N/(N−1) unbiasing), and in backward passes
// the global S1 then S2 (2D doubles, the sum over shards of each shard's S1, S2) as given_sums with
// given_count = N. dγ, dβ stay the shard's own S2, S1: summing parameter gradients over shards
// then gives the global ones.
#pragma once
#include "core/check.hpp"

namespace pyssl::nn {

// mean, rstd: (N) outputs saved for backward.
template <class T>
void layer_norm_forward(const T* x, const T* gamma, const T* beta, T* y, T* mean, T* rstd, index_t n,
                        index_t d, double eps);

// dx may be null; dgamma / dbeta may be null (no affine, or gradient not wanted).
template <class T>
void layer_norm_backward(const T* x, const T* mean, const T* rstd, const T* gamma, const T* dy, T* dx,
                         T* dgamma, T* dbeta, index_t n, index_t d, bool accumulate);

// mean, rstd: (D) outputs saved for backward (in eval mode: the running statistics used).
// running_mean / running_var are updated in place in training mode (may be null to skip the
// update). Training mode requires n >= 2.
// given_mean / given_var (D doubles) replace the batch statistics in training mode when non-null.
// relu: y = max(0, BN(x)) (the following ReLU fused in).
template <class T>
void batch_norm_forward(const T* x, const T* gamma, const T* beta, bool relu, T* running_mean, T* running_var,
                        T* y, T* mean, T* rstd, index_t n, index_t d, bool training, double momentum,
                        double eps, const double* given_mean = nullptr, const double* given_var = nullptr,
                        double given_count = 0);

// Per-feature mean and sum of squared deviations M2 of x (N, D), in double, fixed order.
template <class T>
void batch_norm_moments(const T* x, double* mean, double* m2, index_t n, index_t d);

// y: the forward output, read for the ReLU mask when relu is true (may be null otherwise).
// given_sums (2D doubles: S1 then S2) replace the batch sums in dx when non-null.
template <class T>
void batch_norm_backward(const T* x, const T* mean, const T* rstd, const T* gamma, const T* y, bool relu,
                         const T* dy, T* dx, T* dgamma, T* dbeta, index_t n, index_t d, bool training,
                         bool accumulate, const double* given_sums = nullptr, double given_count = 0);

}  // namespace pyssl::nn
