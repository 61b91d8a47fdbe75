// Adam (Kingma & Ba 2015, Algorithm 1) and AdamW (Loshchilov & Hutter 2019, Algorithm 2), one
// templated kernel with a `Decoupled` flag, following torch.optim.Adam / AdamW step for step:
//
//   Adam  (coupled L2):    g ← g + λ θ
//   AdamW (decoupled):     θ ← θ − α λ θ            (torch: θ.mul_(1 − α λ))
//   m ← β₁ m + (1 − β₁) g
//   v ← β₂ v + (1 − β₂) g²
//   θ ← θ − (α / c₁) · m / (√v / √c₂ + ε)          c₁ = 1 − β₁ᵗ, c₂ = 1 − β₂ᵗ
//
// ε is outside the square root (Algorithm 1, torch, optax), not TensorFlow's ε̂ form. The bias
// corrections depend only on the step t, so the front end computes step_size = α / c₁ and √c₂
// once per step and passes them in. λ is applied only to parameters with the decay flag when
// `use_decay_mask` is true.
#pragma once
#include "optim/flat.hpp"

namespace pyssl::optim {

struct AdamHyper {
  double lr;            // α (AdamW's decoupled decay uses it)
  double beta1, beta2;  // β₁, β₂
  double eps;           // ε
  double weight_decay;  // λ
  double step_size;     // α / (1 − β₁ᵗ)
  double bc2_sqrt;      // √(1 − β₂ᵗ)
  bool use_decay_mask;
};

template <class T, bool Decoupled>
bool adam_kernel(const FlatLayout& layout, T* param, const T* grad, T* exp_avg, T* exp_avg_sq, const AdamHyper& h,
                 bf16_t* param_bf16);

// Dispatch on the flag: decoupled = false → Adam, true → AdamW.
// Returns false when an updated parameter is not finite (FiniteFlag, optim/flat.hpp).
// param_bf16 (float32 only, else nullptr): also write bf16(θ_new) there (update_and_check).
template <class T>
bool adam_step(const FlatLayout& layout, T* param, const T* grad, T* exp_avg, T* exp_avg_sq, const AdamHyper& h,
               bool decoupled, bf16_t* param_bf16 = nullptr);

}  // namespace pyssl::optim
