#include "optim/adam.hpp"

#include <cmath>

#include "core/instantiate.hpp"

namespace pyssl::optim {

template <class T, bool Decoupled>
bool adam_kernel(const FlatLayout& layout, T* param, const T* grad, T* exp_avg, T* exp_avg_sq, const AdamHyper& h,
                 bf16_t* param_bf16) {
  const T b1 = T(h.beta1), b2 = T(h.beta2), omb1 = T(1.0 - h.beta1), omb2 = T(1.0 - h.beta2);
  const T eps = T(h.eps), step_size = T(h.step_size), bc2_sqrt = T(h.bc2_sqrt);
  const std::uint8_t* decay = layout.decay();
  FiniteFlag finite;
  for_each_block(layout, 12, [&](const Block& blk) {
    const bool dec = !h.use_decay_mask || decay[blk.param];
    const T wd = dec ? T(h.weight_decay) : T(0);
    const T shrink = dec ? T(1.0 - h.lr * h.weight_decay) : T(1);  // AdamW: θ(1 − αλ)
    T* __restrict p = param;
    const T* __restrict gr = grad;
    T* __restrict m = exp_avg;
    T* __restrict v = exp_avg_sq;
    update_and_check(blk, param, finite, [&](index_t i0, index_t i1) {
#pragma omp simd
      for (index_t i = i0; i < i1; ++i) {
        T g = gr[i];
        T th = p[i];
        if constexpr (Decoupled) {
          th = th * shrink;
        } else {
          g = g + wd * th;
        }
        const T mi = b1 * m[i] + omb1 * g;
        const T vi = b2 * v[i] + omb2 * (g * g);
        m[i] = mi;
        v[i] = vi;
        p[i] = th - step_size * (mi / (std::sqrt(vi) / bc2_sqrt + eps));
      }
    }, param_bf16);
  });
  return finite.ok();
}

template <class T>
bool adam_step(const FlatLayout& layout, T* param, const T* grad, T* exp_avg, T* exp_avg_sq, const AdamHyper& h,
               bool decoupled, bf16_t* param_bf16) {
  PYSSL_CHECK(h.bc2_sqrt > 0, "adam_step: bias correction sqrt(1 - beta2^t) must be > 0, got ", h.bc2_sqrt,
              " (the step count starts at t = 1)");
  if (decoupled) return adam_kernel<T, true>(layout, param, grad, exp_avg, exp_avg_sq, h, param_bf16);
  return adam_kernel<T, false>(layout, param, grad, exp_avg, exp_avg_sq, h, param_bf16);
}

#define PYSSL_ADAM(T)                                                                                   \
  template bool adam_step<T>(const FlatLayout&, T*, const T*, T*, T*, const AdamHyper&, bool, bf16_t*);  \
  template bool adam_kernel<T, true>(const FlatLayout&, T*, const T*, T*, T*, const AdamHyper&, bf16_t*); \
  template bool adam_kernel<T, false>(const FlatLayout&, T*, const T*, T*, T*, const AdamHyper&, bf16_t*);
PYSSL_INSTANTIATE_FLOATS(PYSSL_ADAM)
#undef PYSSL_ADAM

}  // namespace pyssl::optim
