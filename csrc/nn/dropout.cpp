#include "nn/dropout.hpp"

#include "core/instantiate.hpp"
#include "parallel/parallel.hpp"

namespace pyssl::nn {
namespace {
// Drop threshold on a 32-bit word: P(word < thr) = thr / 2³² ≈ p.
inline std::uint64_t drop_threshold(double p) {
  const double t = p * 4294967296.0;
  return t >= 4294967295.0 ? 4294967295ull : std::uint64_t(t);
}

// Philox4x32-10 for kLanes consecutive counters at once, laid out so the compiler vectorises
// across lanes (32x32->64 multiplies). Bit-identical to rng::philox / rng::Stream::block:
// words[j][l] = Stream(key, stream).block(b0 + l).v[j] (checked in tests/test_dropout.py).
constexpr index_t kLanes = 16;

inline void philox_lanes(std::uint64_t b0, std::uint64_t stream, std::uint64_t key,
                         std::uint32_t words[4][kLanes]) {
  std::uint32_t c0[kLanes], c1[kLanes], c2[kLanes], c3[kLanes];
  for (index_t l = 0; l < kLanes; ++l) {
    const std::uint64_t ctr = b0 + std::uint64_t(l);
    c0[l] = std::uint32_t(ctr);
    c1[l] = std::uint32_t(ctr >> 32);
    c2[l] = std::uint32_t(stream);
    c3[l] = std::uint32_t(stream >> 32);
  }
  std::uint32_t k0 = std::uint32_t(key), k1 = std::uint32_t(key >> 32);
  for (int r = 0; r < 10; ++r) {
#pragma omp simd
    for (index_t l = 0; l < kLanes; ++l) {
      const std::uint64_t p0 = std::uint64_t(0xD2511F53u) * c0[l];
      const std::uint64_t p1 = std::uint64_t(0xCD9E8D57u) * c2[l];
      const std::uint32_t n0 = std::uint32_t(p1 >> 32) ^ c1[l] ^ k0;
      const std::uint32_t n2 = std::uint32_t(p0 >> 32) ^ c3[l] ^ k1;
      c1[l] = std::uint32_t(p1);
      c3[l] = std::uint32_t(p0);
      c0[l] = n0;
      c2[l] = n2;
    }
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  for (index_t l = 0; l < kLanes; ++l) {
    words[0][l] = c0[l];
    words[1][l] = c1[l];
    words[2][l] = c2[l];
    words[3][l] = c3[l];
  }
}
}  // namespace

template <class T>
void dropout_forward(const T* x, T* y, std::uint8_t* mask, index_t n, double p, std::uint64_t seed,
                     std::uint64_t step) {
  PYSSL_CHECK(p >= 0.0 && p < 1.0, "dropout: p must be in [0, 1), got ", p);
  const std::uint64_t thr = drop_threshold(p);
  const T scale = T(1.0 / (1.0 - p));
  constexpr index_t kChunk = 4 * kLanes;  // elements per vectorised Philox call
  const index_t chunks = (n + kChunk - 1) / kChunk;
  parallel_for(chunks, 10 * kChunk, [&, scale, thr](index_t q0, index_t q1) {
    std::uint32_t words[4][kLanes];
    for (index_t q = q0; q < q1; ++q) {
      philox_lanes(std::uint64_t(q) * kLanes, step, seed, words);
      // Element i = 4 b + j takes word j of block b (rng::Stream::bits(i)).
      std::uint8_t keep[kChunk];
      for (index_t l = 0; l < kLanes; ++l)
        for (index_t j = 0; j < 4; ++j) keep[4 * l + j] = std::uint64_t(words[j][l]) >= thr ? 1 : 0;
      const index_t i0 = q * kChunk;
      const T* xq = x + i0;
      T* yq = y + i0;
      std::uint8_t* mq = mask + i0;
      if (i0 + kChunk <= n) {
#pragma omp simd
        for (index_t i = 0; i < kChunk; ++i) {
          mq[i] = keep[i];
          yq[i] = xq[i] * (keep[i] ? scale : T(0));  // x · 0 keeps NaN visible, as torch
        }
      } else {
        for (index_t i = 0; i < n - i0; ++i) {
          mq[i] = keep[i];
          yq[i] = xq[i] * (keep[i] ? scale : T(0));
        }
      }
    }
  });
}

template <class T>
void dropout_backward(const T* dy, const std::uint8_t* mask, T* dx, index_t n, double p) {
  PYSSL_CHECK(p >= 0.0 && p < 1.0, "dropout: p must be in [0, 1), got ", p);
  const T scale = T(1.0 / (1.0 - p));
  parallel_for(n, 1, [&, scale](index_t i0, index_t i1) {
#pragma omp simd
    for (index_t i = i0; i < i1; ++i) dx[i] = dy[i] * (mask[i] ? scale : T(0));
  });
}

#define PYSSL_DROPOUT(T)                                                                           \
  template void dropout_forward<T>(const T*, T*, std::uint8_t*, index_t, double, std::uint64_t,    \
                                   std::uint64_t);                                                 \
  template void dropout_backward<T>(const T*, const std::uint8_t*, T*, index_t, double);
PYSSL_INSTANTIATE_FLOATS(PYSSL_DROPOUT)
#undef PYSSL_DROPOUT

}  // namespace pyssl::nn
