// LARS (You, Gitman & Ginsburg 2017) in the form of the SimCLR / BYOL TensorFlow and JAX code
// (google-research/simclr `lars_optimizer.py`, deepmind/byol `optimizers.py`, classic momentum):
//
//   for each parameter θ (flat range of the layout) with decay flag set:
//     g ← g + λ θ
//     r = η ‖θ‖ / (‖g‖ + ε)   if ‖θ‖ > 0 and ‖g‖ > 0, else 1
//   for excluded parameters (decay flag 0: biases, norms):  no decay, r = 1
//   v ← μ v + (α r) g
//   θ ← θ − v
//
// ε = 0 reproduces the reference code exactly. The norms are reductions: each parameter's
// Σθ² and Σg² are summed per fixed-size block (in double), the partials then summed in block
// order by one thread, so the result is bit-identical for any thread count. Everything happens
// in one parallel region: norms, barrier, trust ratios, barrier, update (each thread updates the
// blocks it just reduced, still in cache).
#pragma once
#include "core/workspace.hpp"
#include "optim/flat.hpp"

namespace pyssl::optim {

struct LARSHyper {
  double lr;                 // α
  double momentum;           // μ
  double weight_decay;       // λ
  double trust_coefficient;  // η
  double eps;                // ε
  bool exclude_bias_and_norm;
};

// Scratch: partial (2 · layout.num_blocks() doubles), ratio (layout.count() doubles; on return the
// trust ratio r of every parameter). Returns false when an updated parameter is not finite
// (FiniteFlag, optim/flat.hpp). param_bf16 (float32 only, else nullptr): also write bf16(θ_new)
// there (update_and_check).
template <class T>
bool lars_step(const FlatLayout& layout, T* param, const T* grad, T* velocity, const LARSHyper& h, double* partial,
               double* ratio, bf16_t* param_bf16 = nullptr);

// Bytes of scratch lars_step needs (the partials; ratio is an output).
inline std::size_t lars_workspace(const FlatLayout& layout) {
  return workspace_bytes([&](auto& c) { c.template take<double>(2 * layout.num_blocks() + 1); });
}
template <class T>
bool lars_step(const FlatLayout& layout, T* param, const T* grad, T* velocity, const LARSHyper& h, double* ratio,
               void* workspace, bf16_t* param_bf16 = nullptr) {
  return lars_step<T>(layout, param, grad, velocity, h, static_cast<double*>(workspace), ratio, param_bf16);
}

}  // namespace pyssl::optim
