// bfloat16 storage: the upper 16 bits of an IEEE-754 float32 (8 exponent bits, 7 mantissa bits).
// Conversion from float32 rounds to nearest, ties to even (as PyTorch, oneDNN and the AVX512-BF16
// instruction VCVTNEPS2BF16); NaN stays a quiet NaN. bf16 → float32 is exact.
#pragma once
#include <cstdint>
#include <cstring>

#include "core/check.hpp"

namespace pyssl {

using bf16_t = std::uint16_t;

inline bf16_t float_to_bf16(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  if ((u & 0x7fffffffu) > 0x7f800000u) return bf16_t((u >> 16) | 0x0040u);  // NaN: keep it quiet
  u += 0x7fffu + ((u >> 16) & 1u);
  return bf16_t(u >> 16);
}

inline float bf16_to_float(bf16_t h) {
  const std::uint32_t u = std::uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

// dst[i] = bf16(src[i]) for i < n, parallel over blocks (elementwise: the result does not depend on
// the thread count).
void to_bf16(const float* src, bf16_t* dst, index_t n);
void from_bf16(const bf16_t* src, float* dst, index_t n);
// dst[i] = float(bf16(src[i])): the value rounded to bfloat16, kept in float32 (dst may be src).
void round_to_bf16(const float* src, float* dst, index_t n);

}  // namespace pyssl
