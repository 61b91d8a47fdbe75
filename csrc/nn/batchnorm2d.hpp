// Batch normalisation over channels of (N, C, S) tensors (S = H·W for images, T for series):
// BatchNorm2d and its (N, C, T) variant (Ioffe & Szegedy 2015, §3.2: for convolutional layers the
// statistics of a channel are taken over the batch and every spatial position), fused with an
// optional residual add and ReLU, the tail of every ResNet block (He et al. 2016):
//
//   μ_c = (1/M) Σ_{n,s} x_ncs,  σ²_c = (1/M) Σ_{n,s} (x_ncs − μ_c)²,  M = N·S    (training)
//   μ_c = running_mean_c, σ²_c = running_var_c                                    (eval)
//   r_c = 1/√(σ²_c + ε),  x̂ = (x − μ_c) r_c,  u = γ_c x̂ + β_c (+ res),  y = relu(u) or u
//   running_mean ← (1−m) running_mean + m μ_c, running_var ← (1−m) running_var + m σ²_c M/(M−1)
//
// Backward, with g = dy ⊙ [y > 0] (g = dy without ReLU), S1_c = Σ g, S2_c = Σ g x̂:
//   training: dx = γ_c r_c (g − S1_c/M − x̂ S2_c/M);  eval: dx = γ_c r_c g
//   dres = g,  dγ_c (+)= S2_c,  dβ_c (+)= S1_c
//
// The statistics are accumulated in double in a fixed order: per (n, c) row a two-pass mean and
// M2 over its S entries (the row is still in cache for the second pass), rows combined in order n
// = 0..N−1 with Chan, Golub & LeVeque's pairwise update; work is split over channels only, so
// every result is bit-identical for any thread count. Synchronised statistics follow
// csrc/nn/norm.hpp (given_mean / given_var / given_count, given_sums).
#pragma once
#include "core/check.hpp"

namespace pyssl::nn {

struct ChannelShape {
  index_t n, c, s;
};

// gamma/beta may be null (no affine); residual may be null; running stats may be null in training
// mode (no update). mean, rstd: (C) outputs saved for backward.
template <class T>
void batch_norm_channels_forward(const ChannelShape& sh, const T* x, const T* gamma, const T* beta,
                                 const T* residual, bool relu, T* running_mean, T* running_var, T* y, T* mean,
                                 T* rstd, bool training, double momentum, double eps,
                                 const double* given_mean = nullptr, const double* given_var = nullptr,
                                 double given_count = 0);

// Per-channel mean and M2 = Σ (x − μ)² over N·S entries, double, fixed order.
template <class T>
void batch_norm_channels_moments(const ChannelShape& sh, const T* x, double* mean, double* m2);

// y: the forward output (read for the ReLU mask when relu is true). dx, dres, dgamma, dbeta may be
// null. given_sums (2C doubles: S1 then S2) replace the batch sums in dx when non-null.
template <class T>
void batch_norm_channels_backward(const ChannelShape& sh, const T* x, const T* mean, const T* rstd,
                                  const T* gamma, const T* y, bool relu, const T* dy, T* dx, T* dres,
                                  T* dgamma, T* dbeta, bool training, bool accumulate,
                                  const double* given_sums = nullptr, double given_count = 0);

}  // namespace pyssl::nn
