#include "nn/conv.hpp"

#include <algorithm>
#include <cstring>
#include <vector>

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

// Kernel taps that read at least one input value. A tap whose every read falls in the padding
// (a dilation as large as the input, as in the deep blocks of TS2Vec's encoder on short series)
// contributes nothing: cols, the GEMMs and col2im cover only the live taps, so such a layer costs
// what its live taps cost. Rows of cols are (c, live i, live j).
struct Taps {
  std::vector<index_t> i, j;
  bool all;
  index_t count() const { return index_t(i.size() * j.size()); }
};

inline bool tap_live(index_t off, index_t stride, index_t n_out, index_t n_in) {
  return conv_tap_live(off, stride, n_out, n_in);
}

inline Taps live_taps(const ConvShape& s) {
  Taps t;
  for (index_t i = 0; i < s.kh; ++i)
    if (tap_live(i * s.dh - s.ph, s.sh, s.ho(), s.h)) t.i.push_back(i);
  for (index_t j = 0; j < s.kw; ++j)
    if (tap_live(j * s.dw - s.pw, s.sw, s.wo(), s.w)) t.j.push_back(j);
  t.all = index_t(t.i.size()) == s.kh && index_t(t.j.size()) == s.kw;
  return t;
}

// Row r = (c, i, j) of cols (live taps only), all N·P columns.
template <class T>
void im2col(const ConvShape& s, const Taps& taps, const T* x, T* cols) {
  const index_t HO = s.ho(), WO = s.wo(), P = HO * WO, NP = s.n * P;
  const index_t li = index_t(taps.i.size()), lj = index_t(taps.j.size());
  parallel_for(s.c * taps.count(), NP, [&](index_t r0, index_t r1) {
    for (index_t r = r0; r < r1; ++r) {
      const index_t c = r / (li * lj), i = taps.i[(r / lj) % li], j = taps.j[r % lj];
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
void col2im(const ConvShape& s, const Taps& taps, const T* dcols, T* dx) {
  const index_t HO = s.ho(), WO = s.wo(), P = HO * WO, NP = s.n * P;
  const index_t li = index_t(taps.i.size()), lj = index_t(taps.j.size());
  parallel_for(s.n * s.c, s.h * s.w * s.kh * s.kw, [&](index_t a0, index_t a1) {
    for (index_t a = a0; a < a1; ++a) {
      const index_t n = a / s.c, c = a % s.c;
      T* plane = dx + a * s.h * s.w;
      std::memset(plane, 0, sizeof(T) * s.h * s.w);
      for (index_t a2 = 0; a2 < li; ++a2)
        for (index_t b2 = 0; b2 < lj; ++b2) {
          const index_t i = taps.i[a2], j = taps.j[b2];
          const index_t off = j * s.dw - s.pw;
          index_t q0, q1;
          valid_columns(s, off, WO, q0, q1);
          const T* src = dcols + ((c * li + a2) * lj + b2) * NP + n * P;
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

// w (O, C·KH·KW) -> wl (O, C·|live|), the live taps' columns.
template <class T>
void gather_weight(const ConvShape& s, const Taps& taps, const T* w, T* wl) {
  const index_t ck = s.ck(), cl = s.c * taps.count(), li = index_t(taps.i.size()), lj = index_t(taps.j.size());
  for (index_t o = 0; o < s.o; ++o)
    for (index_t c = 0; c < s.c; ++c)
      for (index_t a = 0; a < li; ++a)
        for (index_t b = 0; b < lj; ++b)
          wl[o * cl + (c * li + a) * lj + b] = w[o * ck + (c * s.kh + taps.i[a]) * s.kw + taps.j[b]];
}

// dw (O, C·KH·KW) = or += the live columns dwl; dead taps get 0 (or keep their value).
template <class T>
void scatter_weight_grad(const ConvShape& s, const Taps& taps, const T* dwl, T* dw, bool accumulate) {
  const index_t ck = s.ck(), cl = s.c * taps.count(), li = index_t(taps.i.size()), lj = index_t(taps.j.size());
  if (!accumulate) std::fill(dw, dw + s.o * ck, T(0));
  for (index_t o = 0; o < s.o; ++o)
    for (index_t c = 0; c < s.c; ++c)
      for (index_t a = 0; a < li; ++a)
        for (index_t b = 0; b < lj; ++b)
          dw[o * ck + (c * s.kh + taps.i[a]) * s.kw + taps.j[b]] += dwl[o * cl + (c * li + a) * lj + b];
}

}  // namespace

template <class T>
void conv2d_forward(const ConvShape& s, const T* x, const T* w, const T* b, T* cols, T* ytmp, T* wl, T* y) {
  s.validate();
  const index_t P = s.ho() * s.wo(), NP = s.n * P;
  const Taps taps = live_taps(s);
  const index_t CL = s.c * taps.count();
  const T* wp = w;
  if (!taps.all) {
    if (CL > 0) gather_weight(s, taps, w, wl);
    wp = wl;
    std::fill(cols + CL * NP, cols + s.ck() * NP, T(0));  // dead-tap rows: zero, as im2col_nchw
  }
  if (CL > 0) {
    im2col(s, taps, x, cols);
    blas::gemm<T>(blas::Trans::No, blas::Trans::No, s.o, NP, CL, T(1), wp, CL, cols, NP, T(0), ytmp, NP);
  } else {  // every read falls in the padding: y = bias
    std::fill(ytmp, ytmp + s.o * NP, T(0));
  }
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
void conv2d_backward(const ConvShape& s, const T* cols, const T* w, const T* dy, T* dytmp, T* dcols, T* wl,
                     T* dx, T* dw, T* db, bool accumulate) {
  s.validate();
  const index_t P = s.ho() * s.wo(), NP = s.n * P, CK = s.ck();
  const Taps taps = live_taps(s);
  const index_t CL = s.c * taps.count();
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
  if (taps.all) {
    if (dw)
      blas::gemm<T>(blas::Trans::No, blas::Trans::Yes, s.o, CK, NP, T(1), dytmp, NP, cols, NP,
                    accumulate ? T(1) : T(0), dw, CK);
    if (dx) {
      blas::gemm<T>(blas::Trans::Yes, blas::Trans::No, CK, NP, s.o, T(1), w, CK, dytmp, NP, T(0), dcols, NP);
      col2im(s, taps, dcols, dx);
    }
    return;
  }
  if (CL == 0) {
    if (dw && !accumulate) std::fill(dw, dw + s.o * CK, T(0));
    if (dx) std::fill(dx, dx + s.n * s.c * s.h * s.w, T(0));
    return;
  }
  if (dw) {
    blas::gemm<T>(blas::Trans::No, blas::Trans::Yes, s.o, CL, NP, T(1), dytmp, NP, cols, NP, T(0), wl, CL);
    scatter_weight_grad(s, taps, wl, dw, accumulate);
  }
  if (dx) {
    gather_weight(s, taps, w, wl);
    blas::gemm<T>(blas::Trans::Yes, blas::Trans::No, CL, NP, s.o, T(1), wl, CL, dytmp, NP, T(0), dcols, NP);
    col2im(s, taps, dcols, dx);
  }
}

index_t conv2d_live_rows(const ConvShape& s) { return s.c * live_taps(s).count(); }

#define PYSSL_CONV(T)                                                                                 \
  template void conv2d_forward<T>(const ConvShape&, const T*, const T*, const T*, T*, T*, T*, T*);    \
  template void conv2d_backward<T>(const ConvShape&, const T*, const T*, const T*, T*, T*, T*, T*, T*, \
                                   T*, bool);
PYSSL_INSTANTIATE_FLOATS(PYSSL_CONV)
#undef PYSSL_CONV

}  // namespace pyssl::nn
