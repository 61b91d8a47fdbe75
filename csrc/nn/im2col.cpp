#include "nn/im2col.hpp"

#include <algorithm>
#include <cstring>
#include <vector>

#include "blas/blas_api.hpp"
#include "core/instantiate.hpp"
#include "nn/conv.hpp"
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
  // Rows (c, live i, live j) first, then zero rows for the dead taps (those reading only padding):
  // csrc/nn/conv.hpp's column layout, so these columns feed conv2d_backward as the forward's do.
  std::vector<index_t> li, lj;
  for (index_t i = 0; i < s.kh; ++i)
    if (conv_tap_live(i - s.ph, s.sh, HO, s.h)) li.push_back(i);
  for (index_t j = 0; j < s.kw; ++j)
    if (conv_tap_live(j - s.pw, s.sw, WO, s.w)) lj.push_back(j);
  const index_t ni = index_t(li.size()), nj = index_t(lj.size()), CL = s.c * ni * nj;
  if (CL < CK) std::fill(cols + CL * NP, cols + CK * NP, T(0));
  parallel_for(CL, NP, [&](index_t r0, index_t r1) {
    for (index_t r = r0; r < r1; ++r) {
      const index_t c = r / (ni * nj), i = li[(r / nj) % ni], j = lj[r % nj];
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

namespace {
// Output columns q with 0 <= q·sw + j − pw < W, as [q0, q1).
inline void valid_q(const Im2colShape& s, index_t j, index_t WO, index_t& q0, index_t& q1) {
  q0 = j >= s.pw ? 0 : (s.pw - j + s.sw - 1) / s.sw;
  q1 = s.w + s.pw - j <= 0 ? 0 : (s.w + s.pw - j - 1) / s.sw + 1;
  if (q1 > WO) q1 = WO;
}
}  // namespace

template <class T>
void col2im_nchw(const Im2colShape& s, const T* dcols, T* dx) {
  s.validate();
  const index_t HO = s.ho(), WO = s.wo(), P = HO * WO, NP = s.n * P;
  parallel_for(s.n * s.c, s.h * s.w * s.kh * s.kw, [&](index_t a0, index_t a1) {
    for (index_t a = a0; a < a1; ++a) {
      const index_t n = a / s.c, c = a % s.c;
      T* plane = dx + a * s.h * s.w;
      std::memset(plane, 0, sizeof(T) * s.h * s.w);
      for (index_t i = 0; i < s.kh; ++i)
        for (index_t j = 0; j < s.kw; ++j) {
          index_t q0, q1;
          valid_q(s, j, WO, q0, q1);
          if (q0 >= q1) continue;
          const T* src = dcols + ((c * s.kh + i) * s.kw + j) * NP + n * P;
          for (index_t p = 0; p < HO; ++p) {
            const index_t hi = p * s.sh + i - s.ph;
            if (hi < 0 || hi >= s.h) continue;
            T* row = plane + hi * s.w + j - s.pw;  // row[q·sw] is input column q·sw + j − pw
            const T* sp = src + p * WO;
            if (s.sw == 1) {
#pragma omp simd
              for (index_t q = q0; q < q1; ++q) row[q] += sp[q];
            } else {
              for (index_t q = q0; q < q1; ++q) row[q * s.sw] += sp[q];
            }
          }
        }
    }
  });
}

template <class T>
void conv2d_input_grad(const Im2colShape& s, index_t o, const T* w, const T* dy, T* dytmp, T* dcols, T* dx) {
  s.validate();
  PYSSL_CHECK(o >= 1, "conv2d_input_grad: need at least one output channel");
  const index_t P = s.ho() * s.wo(), NP = s.n * P, CK = s.c * s.kh * s.kw;
  parallel_for(o, NP, [&](index_t o0, index_t o1) {
    for (index_t k = o0; k < o1; ++k)
      for (index_t n = 0; n < s.n; ++n) std::memcpy(dytmp + k * NP + n * P, dy + (n * o + k) * P, sizeof(T) * P);
  });
  blas::gemm<T>(blas::Trans::Yes, blas::Trans::No, CK, NP, o, T(1), w, CK, dytmp, NP, T(0), dcols, NP);
  col2im_nchw(s, dcols, dx);
}

#define PYSSL_IM2COL(T)                                                                   \
  template void im2col_nchw<T>(const Im2colShape&, const T*, T*);                          \
  template void col2im_nchw<T>(const Im2colShape&, const T*, T*);                          \
  template void conv2d_input_grad<T>(const Im2colShape&, index_t, const T*, const T*, T*, T*, T*);
PYSSL_INSTANTIATE_FLOATS(PYSSL_IM2COL)
#undef PYSSL_IM2COL

}  // namespace pyssl::nn
