// Stochastic gradient descent with momentum, torch.optim.SGD semantics (Sutskever et al. 2013
// form with the learning rate outside the buffer):
//
//   d  = g + λ θ                                  (weight_decay λ, coupled L2)
//   b  = d                       on the first step (buffer initialised to the gradient)
//   b  = μ b + (1 − τ) d         afterwards        (momentum μ, dampening τ)
//   d  = d + μ b  (nesterov)  or  d = b
//   θ  = θ − α d
//
// With μ = 0 the buffer is unused (may be null). λ is applied only to parameters whose decay
// flag is set when `use_decay_mask` is true, to all parameters otherwise. One fused pass over the
// flat buffer; the gradient is read, never written. Returns false when an updated parameter is
// not finite (FiniteFlag, optim/flat.hpp).
#pragma once
#include "optim/flat.hpp"

namespace pyssl::optim {

struct SGDHyper {
  double lr;
  double momentum;
  double dampening;
  double weight_decay;
  bool nesterov;
  bool first_step;
  bool use_decay_mask;
};

// param_bf16 (float32 only, else nullptr): also write bf16(θ_new) there (update_and_check).
template <class T>
bool sgd_step(const FlatLayout& layout, T* param, const T* grad, T* momentum_buffer, const SGDHyper& h,
              bf16_t* param_bf16 = nullptr);

}  // namespace pyssl::optim
