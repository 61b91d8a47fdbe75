#include "optim/sgd.hpp"

#include "core/instantiate.hpp"

namespace pyssl::optim {

template <class T>
bool sgd_step(const FlatLayout& layout, T* param, const T* grad, T* buf, const SGDHyper& h) {
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
    const index_t i0 = blk.begin, i1 = blk.end;
    T chk = T(0);  // NaN iff an updated θ is not finite (FiniteFlag)
    if (!use_momentum) {
#pragma omp simd reduction(+ : chk)
      for (index_t i = i0; i < i1; ++i) {
        p[i] -= lr * (g[i] + wd * p[i]);
        chk += p[i] * T(0);
      }
    } else if (h.first_step) {
      // b = d on the first step (torch: buf = clone(d_p)).
#pragma omp simd reduction(+ : chk)
      for (index_t i = i0; i < i1; ++i) {
        const T d = g[i] + wd * p[i];
        b[i] = d;
        p[i] -= lr * (h.nesterov ? d + mu * d : d);
        chk += p[i] * T(0);
      }
    } else if (h.nesterov) {
#pragma omp simd reduction(+ : chk)
      for (index_t i = i0; i < i1; ++i) {
        const T d = g[i] + wd * p[i];
        const T bn = mu * b[i] + damp1 * d;
        b[i] = bn;
        p[i] -= lr * (d + mu * bn);
        chk += p[i] * T(0);
      }
    } else {
#pragma omp simd reduction(+ : chk)
      for (index_t i = i0; i < i1; ++i) {
        const T d = g[i] + wd * p[i];
        const T bn = mu * b[i] + damp1 * d;
        b[i] = bn;
        p[i] -= lr * bn;
        chk += p[i] * T(0);
      }
    }
    finite.check(chk);
  });
  return finite.ok();
}

#define PYSSL_SGD(T) template bool sgd_step<T>(const FlatLayout&, T*, const T*, T*, const SGDHyper&);
PYSSL_INSTANTIATE_FLOATS(PYSSL_SGD)
#undef PYSSL_SGD

}  // namespace pyssl::optim
