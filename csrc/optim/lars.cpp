#include "optim/lars.hpp"

#include <omp.h>

#include <cmath>

#include "core/instantiate.hpp"

namespace pyssl::optim {

template <class T>
bool lars_step(const FlatLayout& layout, T* param, const T* grad, T* velocity, const LARSHyper& h, double* partial,
               double* ratio, bf16_t* param_bf16) {
  const Block* blocks = layout.blocks();
  const index_t nb = layout.num_blocks(), P = layout.count();
  const index_t* offsets = layout.offsets();
  const std::uint8_t* decay = layout.decay();
  const T mu = T(h.momentum), wd = T(h.weight_decay);
  auto adapted = [&](index_t p) { return !h.exclude_bias_and_norm || decay[p] != 0; };
  FiniteFlag finite;

  // Phase 1: per-block Σθ² and Σ(g + λθ)² of adapted parameters.
  auto norms = [&](index_t b0, index_t b1) {
    for (index_t k = b0; k < b1; ++k) {
      const Block& blk = blocks[k];
      double sw = 0, sg = 0;
      if (adapted(blk.param)) {
        const T* __restrict p = param;
        const T* __restrict g = grad;
        sum_squares2(
            blk.begin, blk.end, [&](index_t i) { return p[i]; }, [&](index_t i) { return T(g[i] + wd * p[i]); },
            sw, sg);
      }
      partial[2 * k] = sw;
      partial[2 * k + 1] = sg;
    }
  };
  // Phase 2 (one thread): sum partials in block order, trust ratio per parameter.
  auto ratios = [&]() {
    index_t k = 0;
    for (index_t p = 0; p < P; ++p) {
      double sw = 0, sg = 0;
      for (; k < nb && blocks[k].param == p; ++k) {
        sw += partial[2 * k];
        sg += partial[2 * k + 1];
      }
      double r = 1.0;
      if (adapted(p) && offsets[p + 1] > offsets[p]) {
        const double wn = std::sqrt(sw), gn = std::sqrt(sg);
        if (wn > 0 && gn > 0) r = h.trust_coefficient * wn / (gn + h.eps);
      }
      ratio[p] = r;
    }
  };
  // Phase 3: v ← μv + (α r) g, θ ← θ − v.
  auto update = [&](index_t b0, index_t b1) {
    for (index_t k = b0; k < b1; ++k) {
      const Block& blk = blocks[k];
      const bool ad = adapted(blk.param);
      const T lam = ad ? wd : T(0);
      const T scaled_lr = T(h.lr * ratio[blk.param]);
      T* __restrict p = param;
      const T* __restrict g = grad;
      T* __restrict v = velocity;
      update_and_check(blk, param, finite, [&](index_t i0, index_t i1) {
#pragma omp simd
        for (index_t i = i0; i < i1; ++i) {
          const T gi = g[i] + lam * p[i];
          const T vi = mu * v[i] + scaled_lr * gi;
          v[i] = vi;
          p[i] -= vi;
        }
      }, param_bf16);
    }
  };

  const int nt = threads_for(layout.size() * 8);
  if (nt <= 1 || nb <= 1) {
    norms(0, nb);
    ratios();
    update(0, nb);
    return finite.ok();
  }
#pragma omp parallel num_threads(nt)
  {
    index_t b0, b1;
    thread_share(nb, omp_get_thread_num(), omp_get_num_threads(), b0, b1);
    norms(b0, b1);
#pragma omp barrier
#pragma omp single
    ratios();  // implicit barrier at the end of `single`
    update(b0, b1);
  }
  return finite.ok();
}

#define PYSSL_LARS(T) \
  template bool lars_step<T>(const FlatLayout&, T*, const T*, T*, const LARSHyper&, double*, double*, bf16_t*);
PYSSL_INSTANTIATE_FLOATS(PYSSL_LARS)
#undef PYSSL_LARS

}  // namespace pyssl::optim
