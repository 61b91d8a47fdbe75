#include "optim/ema.hpp"

#include "core/instantiate.hpp"

namespace pyssl::optim {

template <class T>
void ema_update(T* target, const T* online, index_t n, double momentum) {
  const T m = T(momentum), om = T(1.0 - momentum);
  parallel_for(n, 3, [&](index_t b, index_t e) {
    T* __restrict t = target;
    const T* __restrict o = online;
#pragma omp simd
    for (index_t i = b; i < e; ++i) t[i] = m * t[i] + om * o[i];
  });
}

#define PYSSL_EMA(T) template void ema_update<T>(T*, const T*, index_t, double);
PYSSL_INSTANTIATE_FLOATS(PYSSL_EMA)
#undef PYSSL_EMA

}  // namespace pyssl::optim
