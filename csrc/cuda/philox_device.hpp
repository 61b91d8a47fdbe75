// Philox4x32-10 usable from device code: the same function and Stream semantics as
// csrc/random/philox.hpp (which stays host-only), marked __host__ __device__ under nvcc.
// Keep the two in step: tests/test_cuda_runtime.py compares this header's host build word for
// word with pyssl::rng::Stream, and the GPU parity tests compare the device masks with it.
#pragma once
#include <cstdint>

#if defined(__CUDACC__)
#define PYSSL_HD __host__ __device__ __forceinline__
#else
#define PYSSL_HD inline
#endif

namespace pyssl::cuda::rng {

struct Block {
  std::uint32_t v[4];
};

PYSSL_HD void mulhilo(std::uint32_t a, std::uint32_t b, std::uint32_t& hi, std::uint32_t& lo) {
#if defined(__CUDA_ARCH__)
  hi = __umulhi(a, b);
  lo = a * b;
#else
  const std::uint64_t p = std::uint64_t(a) * b;
  hi = std::uint32_t(p >> 32);
  lo = std::uint32_t(p);
#endif
}

PYSSL_HD Block philox(std::uint64_t counter_lo, std::uint64_t counter_hi, std::uint64_t key) {
  std::uint32_t c0 = std::uint32_t(counter_lo), c1 = std::uint32_t(counter_lo >> 32);
  std::uint32_t c2 = std::uint32_t(counter_hi), c3 = std::uint32_t(counter_hi >> 32);
  std::uint32_t k0 = std::uint32_t(key), k1 = std::uint32_t(key >> 32);
#if defined(__CUDA_ARCH__)
#pragma unroll
#endif
  for (int r = 0; r < 10; ++r) {
    std::uint32_t hi0, lo0, hi1, lo1;
    mulhilo(0xD2511F53u, c0, hi0, lo0);
    mulhilo(0xCD9E8D57u, c2, hi1, lo1);
    const std::uint32_t n0 = hi1 ^ c1 ^ k0, n1 = lo1, n2 = hi0 ^ c3 ^ k1, n3 = lo0;
    c0 = n0; c1 = n1; c2 = n2; c3 = n3;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  return Block{{c0, c1, c2, c3}};
}

PYSSL_HD float to_unit_float(std::uint32_t u) { return float(u >> 8) * (1.0f / 16777216.0f); }

struct Stream {
  std::uint64_t seed, stream;
  PYSSL_HD Block block(std::uint64_t b) const { return philox(b, stream, seed); }
  PYSSL_HD std::uint32_t bits(std::uint64_t i) const { return block(i >> 2).v[i & 3]; }
  PYSSL_HD float uniform(std::uint64_t i) const { return to_unit_float(bits(i)); }
};

}  // namespace pyssl::cuda::rng
