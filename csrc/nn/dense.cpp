#include "nn/dense.hpp"

#include <cstring>

#include "blas/blas_api.hpp"
#include "core/instantiate.hpp"
#include "parallel/parallel.hpp"

namespace pyssl::nn {

template <class T>
void column_sum(const T* a, T* out, index_t n, index_t d, bool accumulate) {
  constexpr index_t kBlock = 64;
  for_column_blocks(d, kBlock, n, [&](index_t c0, index_t c1) {
    T acc[kBlock];
    for (index_t c = c0; c < c1; ++c) acc[c - c0] = accumulate ? out[c] : T(0);
    for (index_t r = 0; r < n; ++r) {
      const T* row = a + r * d;
#pragma omp simd
      for (index_t c = c0; c < c1; ++c) acc[c - c0] += row[c];
    }
    for (index_t c = c0; c < c1; ++c) out[c] = acc[c - c0];
  });
}

template <class T>
void dense_forward(const T* x, const T* w, const T* b, T* y, index_t n, index_t in, index_t out) {
  T beta = T(0);
  if (b != nullptr) {
    parallel_for(n, out, [&](index_t r0, index_t r1) {
      for (index_t r = r0; r < r1; ++r) std::memcpy(y + r * out, b, sizeof(T) * out);
    });
    beta = T(1);
  }
  blas::gemm<T>(blas::Trans::No, blas::Trans::No, n, out, in, T(1), x, in, w, out, beta, y, out);
}

template <class T>
void dense_backward(const T* x, const T* w, const T* dy, T* dx, T* dw, T* db, index_t n, index_t in,
                    index_t out, bool accumulate) {
  using blas::Trans;
  const blas::GemmCall<T> gx{Trans::No, Trans::Yes, n, in, out, T(1), dy, out, w, out, T(0), dx, in};
  const blas::GemmCall<T> gw{Trans::Yes, Trans::No, in, out, n, T(1), x, in, dy, out, accumulate ? T(1) : T(0),
                             dw, out};
  if (dx != nullptr && dw != nullptr)
    blas::gemm_pair(gx, gw);  // the same multiply-adds each: one per core
  else if (dx != nullptr)
    blas::gemm(gx);
  else if (dw != nullptr)
    blas::gemm(gw);
  if (db != nullptr) column_sum(dy, db, n, out, accumulate);
}

void dense_forward_bf16(const float* x, const float* w, const float* b, float* y, bf16_t* xb, bf16_t* wb,
                        index_t n, index_t in, index_t out) {
  to_bf16(x, xb, n * in);
  if (w != nullptr) to_bf16(w, wb, in * out);
  if (b != nullptr)
    parallel_for(n, out, [&](index_t r0, index_t r1) {
      for (index_t r = r0; r < r1; ++r) std::memcpy(y + r * out, b, sizeof(float) * out);
    });
  blas::gemm_bf16(blas::Trans::No, blas::Trans::No, n, out, in, xb, in, wb, out, b != nullptr, y, out);
}

void dense_backward_bf16(const bf16_t* xb, const bf16_t* wb, const float* dy, bf16_t* dyb, float* dx,
                         float* dw, float* db, index_t n, index_t in, index_t out, bool accumulate) {
  to_bf16(dy, dyb, n * out);
  if (dx != nullptr)
    blas::gemm_bf16(blas::Trans::No, blas::Trans::Yes, n, in, out, dyb, out, wb, out, false, dx, in);
  if (dw != nullptr)
    blas::gemm_bf16(blas::Trans::Yes, blas::Trans::No, in, out, n, xb, in, dyb, out, accumulate, dw, out);
  if (db != nullptr) column_sum(dy, db, n, out, accumulate);
}

#define PYSSL_DENSE(T)                                                                        \
  template void dense_forward<T>(const T*, const T*, const T*, T*, index_t, index_t, index_t); \
  template void dense_backward<T>(const T*, const T*, const T*, T*, T*, T*, index_t, index_t, \
                                  index_t, bool);                                              \
  template void column_sum<T>(const T*, T*, index_t, index_t, bool);
PYSSL_INSTANTIATE_FLOATS(PYSSL_DENSE)
#undef PYSSL_DENSE

}  // namespace pyssl::nn
