#include "core/bf16.hpp"

#include "parallel/parallel.hpp"

namespace pyssl {

void to_bf16(const float* src, bf16_t* dst, index_t n) {
  parallel_for(n, 1, [&](index_t b, index_t e) {
#pragma omp simd
    for (index_t i = b; i < e; ++i) dst[i] = float_to_bf16(src[i]);
  });
}

void from_bf16(const bf16_t* src, float* dst, index_t n) {
  parallel_for(n, 1, [&](index_t b, index_t e) {
#pragma omp simd
    for (index_t i = b; i < e; ++i) dst[i] = bf16_to_float(src[i]);
  });
}

void round_to_bf16(const float* src, float* dst, index_t n) {
  parallel_for(n, 1, [&](index_t b, index_t e) {
#pragma omp simd
    for (index_t i = b; i < e; ++i) dst[i] = bf16_to_float(float_to_bf16(src[i]));
  });
}

}  // namespace pyssl
