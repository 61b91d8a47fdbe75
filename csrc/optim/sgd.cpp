#include "optim/sgd.hpp"

#include "core/instantiate.hpp"

namespace pyssl::optim {

template <class T>
bool sgd_step(const FlatLayout& layout, T* param, const T* grad, T* buf, const SGDHyper& h, bf16_t* param_bf16) {
  const T lr = T(h.lr), mu = T(h.momentum), damp1 = T(1.0 - h.dampening);
  const bool use_momentum = h.momentum != 0.0;
  PYSSL_CHECK(!use_momentum || buf != nullptr, "sgd_step: momentum ", h.momentum, " needs a momentum buffer");
  const std::uint8_t* decay = layout.decay();
  FiniteFlag finite;
  for_each_block(layout, 4, [&](const Block& blk) {
    const T wd = (!h.use_decay_mask || decay[blk.param]) ? T(h.weight_decay) : T(0);
    T* __restrict p = param;
    const T* __restrict g = grad;
    T* __restrict b = buf;
    update_and_check(blk, param, finite, [&](index_t i0, index_t i1) {
      if (!use_momentum) {
#pragma omp simd
        for (index_t i = i0; i < i1; ++i) p[i] -= lr * (g[i] + wd * p[i]);
      } else if (h.first_step) {
        // b = d on the first step (torch: buf = clone(d_p)).
#pragma omp simd
        for (index_t i = i0; i < i1; ++i) {
          const T d = g[i] + wd * p[i];
          b[i] = d;
          p[i] -= lr * (h.nesterov ? d + mu * d : d);
        }
      } else if (h.nesterov) {
#pragma omp simd
        for (index_t i = i0; i < i1; ++i) {
          const T d = g[i] + wd * p[i];
          const T bn = mu * b[i] + damp1 * d;
          b[i] = bn;
          p[i] -= lr * (d + mu * bn);
        }
      } else {
#pragma omp simd
        for (index_t i = i0; i < i1; ++i) {
          const T d = g[i] + wd * p[i];
          const T bn = mu * b[i] + damp1 * d;
          b[i] = bn;
          p[i] -= lr * bn;
        }
      }
    }, param_bf16);
  });
  return finite.ok();
}

#define PYSSL_SGD(T) template bool sgd_step<T>(const FlatLayout&, T*, const T*, T*, const SGDHyper&, bf16_t*);
PYSSL_INSTANTIATE_FLOATS(PYSSL_SGD)
#undef PYSSL_SGD

}  // namespace pyssl::optim
