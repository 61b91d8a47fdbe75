// Exponential moving average of parameters (BYOL target network, MoCo key encoder, DINO teacher):
//
//   ξ ← m ξ + (1 − m) θ          target ξ, online θ, momentum m ∈ [0, 1]
//
// The lightly / MMSelfSup / BYOL convention (m close to 1 keeps the target); MMPretrain's
// CosineEMA uses the inverse weighting. One fused elementwise pass.
#pragma once
#include "optim/flat.hpp"

namespace pyssl::optim {

template <class T>
void ema_update(T* target, const T* online, index_t n, double momentum);

}  // namespace pyssl::optim
