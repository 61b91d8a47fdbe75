#include "nn/im2col.hpp"

#include <cstring>

#include "core/instantiate.hpp"
#include "parallel/parallel.hpp"

namespace pyssl::nn {

void Im2colShape::validate() const {
  PYSSL_CHECK(n >= 1 && c >= 1 && h >= 1 && w >= 1, "im2col: input must be non-empty");
  PYSSL_CHECK(kh >= 1 && kw >= 1 && sh >= 1 && sw >= 1 && ph >= 0 && pw >= 0,
              "im2col: kernel and stride must be >= 1 and padding >= 0");
  PYSSL_CHECK(h + 2 * ph >= kh && w + 2 * pw >= kw, "im2col: kernel (", kh, ", ", kw,
              ") is larger than the padded input (", h + 2 * ph, ", ", w + 2 * pw, ")");
}

template <class T>
void im2col_nchw(const Im2colShape& s, const T* x, T* cols) {
  s.validate();
  const index_t HO = s.ho(), WO = s.wo(), P = HO * WO, NP = s.n * P, CK = s.c * s.kh * s.kw;
  parallel_for(CK, NP, [&](index_t r0, index_t r1) {
    for (index_t r = r0; r < r1; ++r) {
      const index_t c = r / (s.kh * s.kw), i = (r / s.kw) % s.kh, j = r % s.kw;
      T* out = cols + r * NP;
      // valid output columns q: 0 <= q·sw + j − pw < W
      const index_t q0 = j >= s.pw ? 0 : (s.pw - j + s.sw - 1) / s.sw;
      index_t q1 = s.w + s.pw - j <= 0 ? 0 : (s.w + s.pw - j - 1) / s.sw + 1;
      if (q1 > WO) q1 = WO;
      for (index_t n = 0; n < s.n; ++n) {
        const T* plane = x + (n * s.c + c) * s.h * s.w;
        for (index_t p = 0; p < HO; ++p) {
          const index_t hi = p * s.sh + i - s.ph;
          T* o = out + n * P + p * WO;
          if (hi < 0 || hi >= s.h || q0 >= q1) {
            std::memset(o, 0, sizeof(T) * WO);
            continue;
          }
          const T* row = plane + hi * s.w + j - s.pw;
          for (index_t q = 0; q < q0; ++q) o[q] = T(0);
          if (s.sw == 1) {
            std::memcpy(o + q0, row + q0, sizeof(T) * (q1 - q0));
          } else {
            for (index_t q = q0; q < q1; ++q) o[q] = row[q * s.sw];
          }
          for (index_t q = q1; q < WO; ++q) o[q] = T(0);
        }
      }
    }
  });
}

#define PYSSL_IM2COL(T) template void im2col_nchw<T>(const Im2colShape&, const T*, T*);
PYSSL_INSTANTIATE_FLOATS(PYSSL_IM2COL)
#undef PYSSL_IM2COL

}  // namespace pyssl::nn
