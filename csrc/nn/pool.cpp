#include "nn/pool.hpp"

#include "core/instantiate.hpp"
#include "parallel/parallel.hpp"

namespace pyssl::nn {

template <class T>
void global_avg_pool_forward(const T* x, T* y, index_t rows, index_t s) {
  const T inv = T(1) / T(s);
  parallel_for(rows, s, [&](index_t r0, index_t r1) {
    for (index_t r = r0; r < r1; ++r) {
      const T* row = x + r * s;
      T acc = T(0);
      for (index_t i = 0; i < s; ++i) acc += row[i];
      y[r] = acc * inv;
    }
  });
}

template <class T>
void global_avg_pool_backward(const T* dy, T* dx, index_t rows, index_t s) {
  const T inv = T(1) / T(s);
  parallel_for(rows, s, [&](index_t r0, index_t r1) {
    for (index_t r = r0; r < r1; ++r) {
      const T g = dy[r] * inv;
      T* row = dx + r * s;
#pragma omp simd
      for (index_t i = 0; i < s; ++i) row[i] = g;
    }
  });
}

#define PYSSL_POOL(T)                                                            \
  template void global_avg_pool_forward<T>(const T*, T*, index_t, index_t);     \
  template void global_avg_pool_backward<T>(const T*, T*, index_t, index_t);
PYSSL_INSTANTIATE_FLOATS(PYSSL_POOL)
#undef PYSSL_POOL

}  // namespace pyssl::nn
