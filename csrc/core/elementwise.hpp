// Helpers to run an elementwise functor over flat arrays in parallel, vectorised.
#pragma once
#include "core/check.hpp"
#include "parallel/parallel.hpp"

namespace pyssl {

// out[i] = f(a[i])
template <class T, class F>
void map_unary(const T* a, T* out, index_t n, F f, index_t cost = 1) {
  parallel_for(n, cost, [&](index_t b, index_t e) {
#pragma omp simd
    for (index_t i = b; i < e; ++i) out[i] = f(a[i]);
  });
}

// out[i] = f(a[i], b[i])
template <class T, class F>
void map_binary(const T* a, const T* b, T* out, index_t n, F f, index_t cost = 1) {
  parallel_for(n, cost, [&](index_t s, index_t e) {
#pragma omp simd
    for (index_t i = s; i < e; ++i) out[i] = f(a[i], b[i]);
  });
}

}  // namespace pyssl
