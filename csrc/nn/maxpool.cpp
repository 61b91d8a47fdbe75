#include "nn/maxpool.hpp"

#include <cstring>
#include <limits>

#include "core/instantiate.hpp"
#include "parallel/parallel.hpp"

namespace pyssl::nn {

void PoolShape::validate() const {
  PYSSL_CHECK(n >= 1 && c >= 1 && h >= 1 && w >= 1, "max_pool: input must be non-empty, got (N, C, H, W) = (", n,
              ", ", c, ", ", h, ", ", w, ")");
  PYSSL_CHECK(kh >= 1 && kw >= 1, "max_pool: kernel_size must be >= 1, got (", kh, ", ", kw, ")");
  PYSSL_CHECK(sh >= 1 && sw >= 1, "max_pool: stride must be >= 1, got (", sh, ", ", sw, ")");
  PYSSL_CHECK(ph >= 0 && pw >= 0 && 2 * ph <= kh && 2 * pw <= kw, "max_pool: padding must be >= 0 and at most half "
              "the kernel size, got padding (", ph, ", ", pw, ") for kernel (", kh, ", ", kw, ")");
  PYSSL_CHECK(h + 2 * ph >= kh && w + 2 * pw >= kw, "max_pool: kernel (", kh, ", ", kw,
              ") is larger than the padded input (", h + 2 * ph, ", ", w + 2 * pw, ")");
  PYSSL_CHECK(h * w <= std::numeric_limits<std::int32_t>::max(), "max_pool: H·W must fit in 32 bits");
}

template <class T>
void max_pool2d_forward(const PoolShape& s, const T* x, T* y, std::int32_t* argmax) {
  s.validate();
  const index_t HO = s.ho(), WO = s.wo(), P = HO * WO;
  parallel_for(s.n * s.c, P * s.kh * s.kw, [&](index_t a0, index_t a1) {
    for (index_t a = a0; a < a1; ++a) {
      const T* plane = x + a * s.h * s.w;
      T* out = y + a * P;
      std::int32_t* arg = argmax + a * P;
      for (index_t p = 0; p < HO; ++p) {
        const index_t h0 = p * s.sh - s.ph;
        const index_t hb = h0 < 0 ? 0 : h0, he = h0 + s.kh < s.h ? h0 + s.kh : s.h;
        for (index_t q = 0; q < WO; ++q) {
          const index_t w0 = q * s.sw - s.pw;
          const index_t wb = w0 < 0 ? 0 : w0, we = w0 + s.kw < s.w ? w0 + s.kw : s.w;
          index_t best = hb * s.w + wb;
          T v = plane[best];
          for (index_t i = hb; i < he; ++i)
            for (index_t j = wb; j < we; ++j) {
              const T u = plane[i * s.w + j];
              if (u > v || (u != u && v == v)) {  // NaN propagates, as in PyTorch
                v = u;
                best = i * s.w + j;
              }
            }
          out[p * WO + q] = v;
          arg[p * WO + q] = std::int32_t(best);
        }
      }
    }
  });
}

template <class T>
void max_pool2d_backward(const PoolShape& s, const std::int32_t* argmax, const T* dy, T* dx) {
  s.validate();
  const index_t P = s.ho() * s.wo(), HW = s.h * s.w;
  parallel_for(s.n * s.c, P + HW, [&](index_t a0, index_t a1) {
    for (index_t a = a0; a < a1; ++a) {
      T* plane = dx + a * HW;
      std::memset(plane, 0, sizeof(T) * HW);
      const T* g = dy + a * P;
      const std::int32_t* arg = argmax + a * P;
      for (index_t i = 0; i < P; ++i) plane[arg[i]] += g[i];
    }
  });
}

#define PYSSL_MAXPOOL(T)                                                                         \
  template void max_pool2d_forward<T>(const PoolShape&, const T*, T*, std::int32_t*);            \
  template void max_pool2d_backward<T>(const PoolShape&, const std::int32_t*, const T*, T*);
PYSSL_INSTANTIATE_FLOATS(PYSSL_MAXPOOL)
#undef PYSSL_MAXPOOL

}  // namespace pyssl::nn
