// Counter-based random numbers (Philox4x32-10, Salmon et al., SC'11, "Parallel random numbers:
// as easy as 1, 2, 3").
//
// A draw is a pure function of (seed, stream, index): no state is carried between draws, so the
// same seed gives the same bits whatever the thread count or the order in which threads run.
// Conventions: `seed` is the user's seed, `stream` separates independent uses (a training step,
// a kernel, a view), `index` numbers the draw inside the stream (e.g. sample * row + element).
//
// The generator core is __host__ __device__ under nvcc, so CPU and CUDA kernels draw the same
// bits from the same (seed, stream, index) (csrc/cuda uses this header directly).
#pragma once
#include <cmath>
#include <cstdint>

#if defined(__CUDACC__)
#define PYSSL_RNG_HD __host__ __device__ __forceinline__
#else
#define PYSSL_RNG_HD inline
#endif

namespace pyssl::rng {

struct Block {
  std::uint32_t v[4];
};

PYSSL_RNG_HD void mulhilo(std::uint32_t a, std::uint32_t b, std::uint32_t& hi, std::uint32_t& lo) {
#if defined(__CUDA_ARCH__)
  hi = __umulhi(a, b);
  lo = a * b;
#else
  const std::uint64_t p = std::uint64_t(a) * b;
  hi = std::uint32_t(p >> 32);
  lo = std::uint32_t(p);
#endif
}

// Philox4x32 with 10 rounds.
PYSSL_RNG_HD Block philox(std::uint64_t counter_lo, std::uint64_t counter_hi, std::uint64_t key) {
  std::uint32_t c0 = std::uint32_t(counter_lo), c1 = std::uint32_t(counter_lo >> 32);
  std::uint32_t c2 = std::uint32_t(counter_hi), c3 = std::uint32_t(counter_hi >> 32);
  std::uint32_t k0 = std::uint32_t(key), k1 = std::uint32_t(key >> 32);
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

// Uniform in [0, 1) with 24 (float) or 32 random bits.
PYSSL_RNG_HD float to_unit_float(std::uint32_t u) { return float(u >> 8) * (1.0f / 16777216.0f); }
PYSSL_RNG_HD double to_unit_double(std::uint32_t u) { return double(u) * (1.0 / 4294967296.0); }

// A stream: draws numbered by an index. Four 32-bit words come from one Philox block;
// `bits(i)` returns word i % 4 of block i / 4, so a loop over consecutive indices can
// use `block(i / 4)` directly and get the same values.
class Stream {
 public:
  PYSSL_RNG_HD Stream(std::uint64_t seed, std::uint64_t stream) : seed_(seed), stream_(stream) {}
  PYSSL_RNG_HD Block block(std::uint64_t b) const { return philox(b, stream_, seed_); }
  PYSSL_RNG_HD std::uint32_t bits(std::uint64_t i) const { return block(i >> 2).v[i & 3]; }
  PYSSL_RNG_HD float uniform(std::uint64_t i) const { return to_unit_float(bits(i)); }
  PYSSL_RNG_HD double uniform_double(std::uint64_t i) const { return to_unit_double(bits(i)); }
  // Standard normal by Box-Muller from draws 2i and 2i+1.
  double normal(std::uint64_t i) const {
    const Block b = block(i >> 1);
    const int o = int(i & 1) * 2;
    const double u1 = (double(b.v[o]) + 1.0) * (1.0 / 4294967297.0);  // (0, 1)
    const double u2 = to_unit_double(b.v[o + 1]);
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }
  // Uniform integer in [0, n) (n > 0), by multiply-shift on 32 bits.
  std::uint32_t below(std::uint64_t i, std::uint32_t n) const {
    return std::uint32_t((std::uint64_t(bits(i)) * n) >> 32);
  }

 private:
  std::uint64_t seed_, stream_;
};

}  // namespace pyssl::rng
