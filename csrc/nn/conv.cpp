#include "nn/conv.hpp"

#include <algorithm>
#include <cstring>

#include "blas/blas_api.hpp"
#include "core/instantiate.hpp"
#include "parallel/parallel.hpp"

namespace pyssl::nn {

void ConvShape::validate() const {
  PYSSL_CHECK(n >= 1 && c >= 1 && h >= 1 && w >= 1, "conv: input must be non-empty, got (N, C, H, W) = (", n,
              ", ", c, ", ", h, ", ", w, ")");
  PYSSL_CHECK(o >= 1 && kh >= 1 && kw >= 1, "conv: kernel must be non-empty");
  PYSSL_CHECK(sh >= 1 && sw >= 1, "conv: stride must be >= 1, got (", sh, ", ", sw, ")");
  PYSSL_CHECK(ph >= 0 && pw >= 0 && pad_h_end() >= 0 && pad_w_end() >= 0, "conv: padding must be >= 0, got (",
              ph, ", ", pw, ") before and (", pad_h_end(), ", ", pad_w_end(), ") after");
  PYSSL_CHECK(dh >= 1 && dw >= 1, "conv: dilation must be >= 1, got (", dh, ", ", dw, ")");
  PYSSL_CHECK(h + ph + pad_h_end() >= span_h() && w + pw + pad_w_end() >= span_w(), "conv: kernel (", kh, ", ", kw,
              ") with dilation (", dh, ", ", dw, ") spans (", span_h(), ", ", span_w(),
              ") and is larger than the padded input (", h + ph + pad_h_end(), ", ", w + pw + pad_w_end(), ")");
}

namespace {

// Output columns q0 <= q < q1 read an input column q·sw + off inside [0, W) (q1 < q0 is empty).
inline void valid_columns(const ConvShape& s, index_t off, index_t wo, index_t& q0, index_t& q1) {
  q0 = off >= 0 ? 0 : (-off + s.sw - 1) / s.sw;
  q1 = s.w - off <= 0 ? 0 : std::min(wo, (s.w - off + s.sw - 1) / s.sw);
  if (q0 > wo) q0 = wo;
}

// Row r = (c, i, j) of cols, all N·P columns.
template <class T>
void im2col(const ConvShape& s, const T* x, T* cols) {
  const index_t HO = s.ho(), WO = s.wo(), P = HO * WO, NP = s.n * P;
  parallel_for(s.ck(), NP, [&](index_t r0, index_t r1) {
    for (index_t r = r0; r < r1; ++r) {
      const index_t c = r / (s.kh * s.kw), i = (r / s.kw) % s.kh, j = r % s.kw;
      T* out = cols + r * NP;
      const index_t off = j * s.dw - s.pw;  // input column of output column 0
      index_t q0, q1;
      valid_columns(s, off, WO, q0, q1);
      for (index_t n = 0; n < s.n; ++n) {
        const T* plane = x + (n * s.c + c) * s.h * s.w;
        for (index_t p = 0; p < HO; ++p) {
          const index_t hi = p * s.sh + i * s.dh - s.ph;
          T* o = out + n * P + p * WO;
          if (hi < 0 || hi >= s.h) {
            for (index_t q = 0; q < WO; ++q) o[q] = T(0);
            continue;
          }
          const T* row = plane + hi * s.w;
          for (index_t q = 0; q < q0; ++q) o[q] = T(0);
          const T* src = row + q0 * s.sw + off;
          if (s.sw == 1) {
            if (q1 > q0) std::memcpy(o + q0, src, sizeof(T) * (q1 - q0));
          } else {
            for (index_t q = q0; q < q1; ++q) o[q] = src[(q - q0) * s.sw];
          }
          for (index_t q = std::max(q1, q0); q < WO; ++q) o[q] = T(0);
        }
      }
    }
  });
}

// dx[n, c] += Σ_{i,j,p,q} dcols[(c,i,j), (n,p,q)] at the matching input position.
template <class T>
void col2im(const ConvShape& s, const T* dcols, T* dx) {
  const index_t HO = s.ho(), WO = s.wo(), P = HO * WO, NP = s.n * P;
  parallel_for(s.n * s.c, s.h * s.w * s.kh * s.kw, [&](index_t a0, index_t a1) {
    for (index_t a = a0; a < a1; ++a) {
      const index_t n = a / s.c, c = a % s.c;
      T* plane = dx + a * s.h * s.w;
      std::memset(plane, 0, sizeof(T) * s.h * s.w);
      for (index_t i = 0; i < s.kh; ++i)
        for (index_t j = 0; j < s.kw; ++j) {
          const index_t off = j * s.dw - s.pw;
          index_t q0, q1;
          valid_columns(s, off, WO, q0, q1);
          const T* src = dcols + ((c * s.kh + i) * s.kw + j) * NP + n * P;
          for (index_t p = 0; p < HO; ++p) {
            const index_t hi = p * s.sh + i * s.dh - s.ph;
            if (hi < 0 || hi >= s.h) continue;
            T* row = plane + hi * s.w;
            const T* g = src + p * WO;
            for (index_t q = q0; q < q1; ++q) row[q * s.sw + off] += g[q];
          }
        }
    }
  });
}

}  // namespace

template <class T>
void conv2d_forward(const ConvShape& s, const T* x, const T* w, const T* b, T* cols, T* ytmp, T* y) {
  s.validate();
  const index_t P = s.ho() * s.wo(), NP = s.n * P, CK = s.ck();
  im2col(s, x, cols);
  blas::gemm<T>(blas::Trans::No, blas::Trans::No, s.o, NP, CK, T(1), w, CK, cols, NP, T(0), ytmp, NP);
  parallel_for(s.n * s.o, P, [&](index_t a0, index_t a1) {
    for (index_t a = a0; a < a1; ++a) {
      const index_t n = a / s.o, o = a % s.o;
      const T* src = ytmp + o * NP + n * P;
      T* dst = y + a * P;
      const T bias = b ? b[o] : T(0);
#pragma omp simd
      for (index_t p = 0; p < P; ++p) dst[p] = src[p] + bias;
    }
  });
}

template <class T>
void conv2d_backward(const ConvShape& s, const T* cols, const T* w, const T* dy, T* dytmp, T* dcols,
                     T* dx, T* dw, T* db, bool accumulate) {
  s.validate();
  const index_t P = s.ho() * s.wo(), NP = s.n * P, CK = s.ck();
  parallel_for(s.o, NP, [&](index_t o0, index_t o1) {
    for (index_t o = o0; o < o1; ++o) {
      T sum = T(0);
      for (index_t n = 0; n < s.n; ++n) {
        const T* src = dy + (n * s.o + o) * P;
        T* dst = dytmp + o * NP + n * P;
        for (index_t p = 0; p < P; ++p) {
          dst[p] = src[p];
          sum += src[p];
        }
      }
      if (db) db[o] = accumulate ? db[o] + sum : sum;
    }
  });
  if (dw)
    blas::gemm<T>(blas::Trans::No, blas::Trans::Yes, s.o, CK, NP, T(1), dytmp, NP, cols, NP,
                  accumulate ? T(1) : T(0), dw, CK);
  if (dx) {
    blas::gemm<T>(blas::Trans::Yes, blas::Trans::No, CK, NP, s.o, T(1), w, CK, dytmp, NP, T(0), dcols, NP);
    col2im(s, dcols, dx);
  }
}

#define PYSSL_CONV(T)                                                                             \
  template void conv2d_forward<T>(const ConvShape&, const T*, const T*, const T*, T*, T*, T*);    \
  template void conv2d_backward<T>(const ConvShape&, const T*, const T*, const T*, T*, T*, T*, T*, \
                                   T*, bool);
PYSSL_INSTANTIATE_FLOATS(PYSSL_CONV)
#undef PYSSL_CONV

}  // namespace pyssl::nn
