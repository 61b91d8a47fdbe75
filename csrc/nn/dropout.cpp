#include "nn/dropout.hpp"

#include "core/instantiate.hpp"
#include "parallel/parallel.hpp"
#include "random/philox.hpp"

namespace pyssl::nn {
namespace {
// Drop threshold on a 32-bit word: P(word < thr) = thr / 2³² ≈ p.
inline std::uint64_t drop_threshold(double p) {
  const double t = p * 4294967296.0;
  return t >= 4294967295.0 ? 4294967295ull : std::uint64_t(t);
}
}  // namespace

template <class T>
void dropout_forward(const T* x, T* y, std::uint8_t* mask, index_t n, double p, std::uint64_t seed,
                     std::uint64_t step) {
  PYSSL_CHECK(p >= 0.0 && p < 1.0, "dropout: p must be in [0, 1), got ", p);
  const std::uint64_t thr = drop_threshold(p);
  const T scale = T(1.0 / (1.0 - p));
  const rng::Stream stream(seed, step);
  const index_t blocks = (n + 3) / 4;  // one Philox block gives the words of 4 elements
  parallel_for(blocks, 40, [&](index_t b0, index_t b1) {
    for (index_t b = b0; b < b1; ++b) {
      const rng::Block bits = stream.block(std::uint64_t(b));
      const index_t i0 = 4 * b, i1 = i0 + 4 < n ? i0 + 4 : n;
      for (index_t i = i0; i < i1; ++i) {
        const std::uint8_t keep = std::uint64_t(bits.v[i - i0]) >= thr ? 1 : 0;
        mask[i] = keep;
        y[i] = x[i] * (T(keep) * scale);  // x · 0 keeps NaN visible, as torch
      }
    }
  });
}

template <class T>
void dropout_backward(const T* dy, const std::uint8_t* mask, T* dx, index_t n, double p) {
  PYSSL_CHECK(p >= 0.0 && p < 1.0, "dropout: p must be in [0, 1), got ", p);
  const T scale = T(1.0 / (1.0 - p));
  parallel_for(n, 1, [&](index_t i0, index_t i1) {
#pragma omp simd
    for (index_t i = i0; i < i1; ++i) dx[i] = dy[i] * (T(mask[i]) * scale);
  });
}

#define PYSSL_DROPOUT(T)                                                                           \
  template void dropout_forward<T>(const T*, T*, std::uint8_t*, index_t, double, std::uint64_t,    \
                                   std::uint64_t);                                                 \
  template void dropout_backward<T>(const T*, const std::uint8_t*, T*, index_t, double);
PYSSL_INSTANTIATE_FLOATS(PYSSL_DROPOUT)
#undef PYSSL_DROPOUT

}  // namespace pyssl::nn
