#include "nn/conv.hpp"

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
  PYSSL_CHECK(ph >= 0 && pw >= 0, "conv: padding must be >= 0, got (", ph, ", ", pw, ")");
  PYSSL_CHECK(h + 2 * ph >= kh && w + 2 * pw >= kw, "conv: kernel (", kh, ", ", kw,
              ") is larger than the padded input (", h + 2 * ph, ", ", w + 2 * pw, ")");
}

namespace {

// Row r = (c, i, j) of cols, all N·P columns.
template <class T>
void im2col(const ConvShape& s, const T* x, T* cols) {
  const index_t HO = s.ho(), WO = s.wo(), P = HO * WO, NP = s.n * P;
  parallel_for(s.ck(), NP, [&](index_t r0, index_t r1) {
    for (index_t r = r0; r < r1; ++r) {
      const index_t c = r / (s.kh * s.kw), i = (r / s.kw) % s.kh, j = r % s.kw;
      T* out = cols + r * NP;
      for (index_t n = 0; n < s.n; ++n) {
        const T* plane = x + (n * s.c + c) * s.h * s.w;
        for (index_t p = 0; p < HO; ++p) {
          const index_t hi = p * s.sh + i - s.ph;
          T* o = out + n * P + p * WO;
          if (hi < 0 || hi >= s.h) {
            for (index_t q = 0; q < WO; ++q) o[q] = T(0);
            continue;
          }
          const T* row = plane + hi * s.w;
          for (index_t q = 0; q < WO; ++q) {
            const index_t wi = q * s.sw + j - s.pw;
            o[q] = (wi >= 0 && wi < s.w) ? row[wi] : T(0);
          }
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
          const T* src = dcols + ((c * s.kh + i) * s.kw + j) * NP + n * P;
          for (index_t p = 0; p < HO; ++p) {
            const index_t hi = p * s.sh + i - s.ph;
            if (hi < 0 || hi >= s.h) continue;
            T* row = plane + hi * s.w;
            for (index_t q = 0; q < WO; ++q) {
              const index_t wi = q * s.sw + j - s.pw;
              if (wi >= 0 && wi < s.w) row[wi] += src[p * WO + q];
            }
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
