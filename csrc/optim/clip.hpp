// Gradient clipping by global L2 norm, torch.nn.utils.clip_grad_norm_ semantics:
//
//   ‖g‖ = sqrt(Σ_i g_i²)       over every gradient scalar
//   c   = max_norm / (‖g‖ + 1e-6)
//   g  ← c g                    when c < 1 (i.e. ‖g‖ + 1e-6 > max_norm), unchanged otherwise
//
// The sum of squares is accumulated in double per fixed-size block and the block partials are
// summed in order by one thread: bit-identical for any thread count. Norm and scaling run in one
// parallel region.
#pragma once
#include "optim/flat.hpp"
#include "core/workspace.hpp"

namespace pyssl::optim {

// Σ x_i² of n scalars (in double, fixed order). partial: num_plain_blocks(n) doubles.
template <class T>
double sum_squares(const T* x, index_t n, double* partial);

// Clip in place; returns the norm before clipping. Non-finite norms leave g unchanged.
template <class T>
double clip_grad_norm(T* grad, index_t n, double max_norm, double* partial);

// Bytes of scratch sum_squares and clip_grad_norm need (the block partials).
inline std::size_t sum_squares_workspace(index_t n) {
  return workspace_bytes([&](auto& c) { c.template take<double>(num_plain_blocks(n) + 1); });
}
template <class T>
double sum_squares(const T* x, index_t n, void* workspace) {
  return sum_squares<T>(x, n, static_cast<double*>(workspace));
}
template <class T>
double clip_grad_norm(T* grad, index_t n, double max_norm, void* workspace) {
  return clip_grad_norm<T>(grad, n, max_norm, static_cast<double*>(workspace));
}

}  // namespace pyssl::optim
