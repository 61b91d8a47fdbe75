#include "augment/image.hpp"

#include <algorithm>
#include <cstring>

#if defined(__AVX2__)
#include <immintrin.h>
#endif
#include <numeric>

#include "augment/common.hpp"
#include "augment/resample.hpp"
#include "core/instantiate.hpp"

namespace pyssl::augment {

namespace {
// Odd quarter turns of one (h, w) plane into out (w, h):
//   k = 1: out[(w−1−q)·h + c] = in[c·w + q];   k = 3: out[q·h + (h−1−c)] = in[c·w + q].
// Generic form (any T); float has an 8×8 register-transpose path below.
template <class T>
inline void rotate_odd_scalar(const T* in, T* out, index_t h, index_t w, int k, index_t c_begin, index_t c_end,
                              index_t q_begin, index_t q_end) {
  for (index_t c = c_begin; c < c_end; ++c)
    for (index_t q = q_begin; q < q_end; ++q) {
      if (k == 1) out[(w - 1 - q) * h + c] = in[c * w + q];
      else out[q * h + (h - 1 - c)] = in[c * w + q];
    }
}

template <class T>
inline void rotate_odd(const T* in, T* out, index_t h, index_t w, int k) {
  rotate_odd_scalar(in, out, h, w, k, 0, h, 0, w);
}

#if defined(__AVX2__)
// 8×8 blocks: load 8 input rows, transpose in registers (unpack / shuffle / permute2f128),
// store 8 output rows (lane-reversed for k = 3). Pure data movement: same bits as the scalar path.
template <>
inline void rotate_odd<float>(const float* in, float* out, index_t h, index_t w, int k) {
  const index_t h8 = h / 8 * 8, w8 = w / 8 * 8;
  const __m256i rev = _mm256_setr_epi32(7, 6, 5, 4, 3, 2, 1, 0);
  for (index_t c0 = 0; c0 < h8; c0 += 8)
    for (index_t q0 = 0; q0 < w8; q0 += 8) {
      __m256 r[8];
      for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(in + (c0 + i) * w + q0);
      const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
      const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
      const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
      const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
      const __m256 u0 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0));
      const __m256 u1 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
      const __m256 u2 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0));
      const __m256 u3 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
      const __m256 u4 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(1, 0, 1, 0));
      const __m256 u5 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(3, 2, 3, 2));
      const __m256 u6 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(1, 0, 1, 0));
      const __m256 u7 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(3, 2, 3, 2));
      r[0] = _mm256_permute2f128_ps(u0, u4, 0x20);
      r[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
      r[2] = _mm256_permute2f128_ps(u2, u6, 0x20);
      r[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
      r[4] = _mm256_permute2f128_ps(u0, u4, 0x31);
      r[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
      r[6] = _mm256_permute2f128_ps(u2, u6, 0x31);
      r[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
      // r[j][i] = in[c0 + i][q0 + j]
      for (int j = 0; j < 8; ++j) {
        if (k == 1) _mm256_storeu_ps(out + (w - 1 - (q0 + j)) * h + c0, r[j]);
        else _mm256_storeu_ps(out + (q0 + j) * h + (h - 8 - c0), _mm256_permutevar8x32_ps(r[j], rev));
      }
    }
  rotate_odd_scalar(in, out, h, w, k, 0, h8, w8, w);  // right strip
  rotate_odd_scalar(in, out, h, w, k, h8, h, 0, w);   // bottom strip
}
#endif

// One (h, w) plane rotated by k quarter turns into out (w, h) for odd k, (h, w) for even k.
template <class T>
inline void rotate_plane(const T* in, T* out, index_t h, index_t w, int k) {
  switch (k & 3) {
    case 0:
      std::copy(in, in + h * w, out);
      break;
    case 1:
      rotate_odd(in, out, h, w, 1);
      break;
    case 2:
      for (index_t r = 0; r < h; ++r) {
        T* o = out + r * w;
        const T* src = in + (h - 1 - r) * w + (w - 1);
#pragma omp simd
        for (index_t cc = 0; cc < w; ++cc) o[cc] = src[-cc];
      }
      break;
    default:
      rotate_odd(in, out, h, w, 3);
  }
}

// Copy a short run (a tile row): 8-element blocks by constant-size memcpy, which the compiler
// inlines as vector moves (a libc call per 32-byte row would dominate the jigsaw).
template <class T>
inline void copy_run(T* o, const T* s, index_t n) {
  index_t q = 0;
  for (index_t q8 = n / 8 * 8; q < q8; q += 8) std::memcpy(o + q, s + q, 8 * sizeof(T));
  for (; q < n; ++q) o[q] = s[q];
}

// A run copier of a fixed width W (one or two vector moves, no loop) or, for W = 0, of the
// runtime width n. Tile rows of common widths (16, 32 or 64 bytes) take the fixed path: in the
// jigsaw the per-row loop overhead of the generic copy cost as much as the copy itself.
template <class T, index_t W>
struct RunCopy {
  index_t n;
  void operator()(T* o, const T* s) const {
    if constexpr (W > 0) std::memcpy(o, s, W * sizeof(T));
    else copy_run(o, s, n);
  }
};

template <class T, class F>
inline void with_run_copy(index_t n, F&& f) {
  const index_t bytes = n * index_t(sizeof(T));
  if (bytes == 16) f(RunCopy<T, 16 / sizeof(T)>{n});
  else if (bytes == 32) f(RunCopy<T, 32 / sizeof(T)>{n});
  else if (bytes == 64) f(RunCopy<T, 64 / sizeof(T)>{n});
  else f(RunCopy<T, 0>{n});
}

inline index_t reflect(index_t i, index_t n) {
  if (i >= 0 && i < n) return i;  // the common case, without a division
  if (n == 1) return 0;
  const index_t period = 2 * (n - 1);
  i %= period;
  if (i < 0) i += period;
  return i < n ? i : period - i;
}
}  // namespace

template <class T>
void rotate90(const T* x, T* out, const std::int64_t* k, index_t n, index_t c, index_t h, index_t w) {
  const index_t plane = h * w;
  for_samples(n, c * plane, [&](index_t i) {
    const int ki = int(((k[i] % 4) + 4) % 4);
    for (index_t ch = 0; ch < c; ++ch) rotate_plane(x + (i * c + ch) * plane, out + (i * c + ch) * plane, h, w, ki);
  });
}

template <class T>
void hflip(const T* x, T* out, const std::int64_t* flags, index_t n, index_t c, index_t h, index_t w) {
  const index_t plane = h * w;
  for_samples(n, c * plane, [&](index_t i) {
    const T* xi = x + i * c * plane;
    T* oi = out + i * c * plane;
    if (!flags[i]) {
      std::copy(xi, xi + c * plane, oi);
      return;
    }
    for (index_t r = 0; r < c * h; ++r) {
      const T* src = xi + r * w + (w - 1);
      T* o = oi + r * w;
#pragma omp simd
      for (index_t q = 0; q < w; ++q) o[q] = src[-q];
    }
  });
}

void crop_boxes(std::int64_t* boxes, index_t n, index_t h, index_t w, double scale_lo, double scale_hi,
                double ratio_lo, double ratio_hi, std::uint64_t seed) {
  const double area = double(h) * double(w);
  const double lr0 = std::log(ratio_lo), lr1 = std::log(ratio_hi);
  for_samples(n, 256, [&](index_t i) {
    const rng::Stream s = sample_stream(seed, Tag::CropBox, i);
    std::int64_t* b = boxes + 4 * i;
    for (int a = 0; a < 10; ++a) {
      const rng::Block blk = s.block(u64(a));
      const double target = area * (scale_lo + (scale_hi - scale_lo) * unit(blk.v[0]));
      const double ar = std::exp(lr0 + (lr1 - lr0) * unit(blk.v[1]));
      const index_t cw = index_t(std::llround(std::sqrt(target * ar)));
      const index_t ch = index_t(std::llround(std::sqrt(target / ar)));
      if (cw > 0 && cw <= w && ch > 0 && ch <= h) {
        b[0] = below(blk.v[2], u32(h - ch + 1));
        b[1] = below(blk.v[3], u32(w - cw + 1));
        b[2] = ch;
        b[3] = cw;
        return;
      }
    }
    // fallback: central crop with the aspect ratio clamped into [ratio_lo, ratio_hi]
    const double in_ratio = double(w) / double(h);
    index_t cw = w, ch = h;
    if (in_ratio < ratio_lo) {
      ch = std::max<index_t>(1, index_t(std::llround(double(w) / ratio_lo)));
    } else if (in_ratio > ratio_hi) {
      cw = std::max<index_t>(1, index_t(std::llround(double(h) * ratio_hi)));
    }
    b[0] = (h - ch) / 2;
    b[1] = (w - cw) / 2;
    b[2] = ch;
    b[3] = cw;
  });
}

template <class T>
void resized_crop(const T* x, T* out, const std::int64_t* boxes, index_t n, index_t c, index_t h, index_t w,
                  index_t oh, index_t ow) {
  // scratch per chunk: oh + ow taps and one blended row of w values
  parallel_for(n, c * oh * ow * 4, [&](index_t b, index_t e) {
    std::vector<LinearTap> taps(static_cast<size_t>(oh + ow));
    std::vector<T> row(static_cast<size_t>(w));
    for (index_t i = b; i < e; ++i) {
      const std::int64_t* bx = boxes + 4 * i;
      linear_taps(bx[0], bx[2], oh, taps.data());
      linear_taps(bx[1], bx[3], ow, taps.data() + oh);
      for (index_t ch = 0; ch < c; ++ch)
        apply_taps_2d(x + (i * c + ch) * h * w, w, taps.data(), oh, taps.data() + oh, ow,
                      out + (i * c + ch) * oh * ow, row.data());
    }
  });
}

template <class T>
void jigsaw(const T* x, T* out, const std::int64_t* perms, const std::int64_t* labels, index_t n, index_t c,
            index_t h, index_t w, index_t grid, bool tiles) {
  const index_t th = h / grid, tw = w / grid, g2 = grid * grid;
  // Loops run in output order, so writes are sequential; each tile row is a short contiguous copy.
  with_run_copy<T>(tw, [&](const auto copy) {
    for_samples(n, c * h * w, [&](index_t i) {
      const std::int64_t* pi = perms + labels[i] * g2;
      if (tiles) {
        T* o = out + i * g2 * c * th * tw;
        for (index_t t = 0; t < g2; ++t) {
          const index_t src = pi[t], r0 = (src / grid) * th, c0 = (src % grid) * tw;
          for (index_t ch = 0; ch < c; ++ch) {
            const T* in = x + (i * c + ch) * h * w + r0 * w + c0;
            for (index_t r = 0; r < th; ++r, o += tw) copy(o, in + r * w);
          }
        }
        return;
      }
      // source offset of each output tile's top-left corner (no divisions in the copy loop)
      index_t small[64];
      std::vector<index_t> big;
      index_t* so = small;
      if (g2 > 64) {
        big.resize(static_cast<size_t>(g2));
        so = big.data();
      }
      for (index_t t = 0; t < g2; ++t) so[t] = (pi[t] / grid) * th * w + (pi[t] % grid) * tw;
      for (index_t ch = 0; ch < c; ++ch) {
        const T* in = x + (i * c + ch) * h * w;
        T* o = out + (i * c + ch) * h * w;
        for (index_t tr = 0; tr < grid; ++tr)
          for (index_t r = 0; r < th; ++r)
            for (index_t tc = 0; tc < grid; ++tc, o += tw) copy(o, in + so[tr * grid + tc] + r * w);
      }
    });
  });
}

template <class T>
void patch_mask(const T* x, T* out, T* mask, std::int64_t* kept, std::int64_t* masked, index_t n, index_t c,
                index_t h, index_t w, index_t patch, index_t n_masked, T fill, std::uint64_t seed) {
  const index_t gh = h / patch, gw = w / patch, l = gh * gw, n_kept = l - n_masked;
  const T fv = fill;
  parallel_for(n, c * h * w, [&](index_t b, index_t e) {
    std::vector<std::int64_t> idx(static_cast<size_t>(l));
    std::vector<u32> words(static_cast<size_t>(words_capacity(n_masked)));
    std::vector<T> line(static_cast<size_t>(gh * w));  // per patch row: 1 where masked (T: one vector type)
    for (index_t i = b; i < e; ++i) {
      random_subset(idx.data(), l, n_masked, seed, stream_id(Tag::PatchMask, i), words.data());
      T* mi = mask + i * l;
      std::fill(mi, mi + l, T(0));
      for (index_t t = 0; t < n_masked; ++t) mi[idx[size_t(t)]] = T(1);
      index_t a = 0, m = 0;
      for (index_t p = 0; p < l; ++p) {
        if (mi[p] != T(0)) masked[i * n_masked + m++] = p;
        else kept[i * n_kept + a++] = p;
        T* lp = line.data() + (p / gw) * w + (p % gw) * patch;
        std::fill(lp, lp + patch, mi[p]);
      }
      // one select pass over the image: out = masked ? fill : x
      const T f = fv;  // a local copy: the stores below cannot alias it, so the loop vectorises
      for (index_t ch = 0; ch < c; ++ch)
        for (index_t r = 0; r < h; ++r) {
          const T* xr = x + ((i * c + ch) * h + r) * w;
          T* o = out + ((i * c + ch) * h + r) * w;
          const T* lr = line.data() + (r / patch) * w;
#pragma omp simd
          for (index_t q = 0; q < w; ++q) o[q] = lr[q] != T(0) ? f : xr[q];
        }
    }
  });
}

template <class T>
void color_jitter(const T* x, T* out, T* factors, index_t n, index_t c, index_t h, index_t w,
                  double brightness, double contrast, bool clip, std::uint64_t seed) {
  const index_t plane = h * w;
  auto clamp01 = [clip](T v) { return clip ? std::min(std::max(v, T(0)), T(1)) : v; };
  for_samples(n, 3 * c * plane, [&](index_t i) {
    const rng::Block blk = sample_stream(seed, Tag::ColorJitter, i).block(0);
    const double bf = std::max(0.0, 1.0 - brightness + 2.0 * brightness * unit(blk.v[0]));
    const double cf = std::max(0.0, 1.0 - contrast + 2.0 * contrast * unit(blk.v[1]));
    factors[2 * i] = T(bf);
    factors[2 * i + 1] = T(cf);
    const T b = T(bf), cc = T(cf);
    const T* xi = x + i * c * plane;
    T* oi = out + i * c * plane;
    for (index_t j = 0; j < c * plane; ++j) oi[j] = clamp01(b * xi[j]);
    // mean of the grayscale image (fixed serial order)
    double mean = 0.0;
    if (c == 3) {
      for (index_t j = 0; j < plane; ++j)
        mean += 0.299 * double(oi[j]) + 0.587 * double(oi[plane + j]) + 0.114 * double(oi[2 * plane + j]);
      mean /= double(plane);
    } else {
      for (index_t j = 0; j < c * plane; ++j) mean += double(oi[j]);
      mean /= double(c * plane);
    }
    const T shift = T((1.0 - cf) * mean);
    for (index_t j = 0; j < c * plane; ++j) oi[j] = clamp01(cc * oi[j] + shift);
  });
}

template <class T>
void gaussian_blur(const T* x, T* out, T* sigmas, index_t n, index_t c, index_t h, index_t w, index_t ksize,
                   double sigma_lo, double sigma_hi, std::uint64_t seed) {
  const index_t rad = ksize / 2, wp = w + 2 * rad;
  // scratch per sample: tmp (h·w) | kernel (ksize) | one reflect-padded row (w + 2·rad)
  for_samples_scratch<T>(n, c * h * w * 2 * ksize, h * w + ksize + wp, [&](index_t i, T* buf) {
    T* tmp = buf;
    T* kern = buf + h * w;
    T* pad = kern + ksize;
    const u32 word = sample_stream(seed, Tag::Blur, i).bits(0);
    const double sigma = sigma_lo + (sigma_hi - sigma_lo) * unit(word);
    sigmas[i] = T(sigma);
    // The centre tap is exactly exp(0) = 1, written out so that a σ whose square underflows to 0
    // gives the identity kernel (its limit) instead of exp(−0/0) = NaN.
    auto weight = [&](index_t k) {
      return k == rad ? 1.0 : std::exp(-double((k - rad) * (k - rad)) / (2.0 * sigma * sigma));
    };
    double tot = 0.0;
    for (index_t k = 0; k < ksize; ++k) tot += weight(k);
    for (index_t k = 0; k < ksize; ++k) kern[k] = T(weight(k) / tot);
    for (index_t ch = 0; ch < c; ++ch) {
      const T* in = x + (i * c + ch) * h * w;
      T* o = out + (i * c + ch) * h * w;
      for (index_t r = 0; r < h; ++r) {  // horizontal pass on a reflect-padded copy of the row
        for (index_t q = 0; q < wp; ++q) pad[q] = in[r * w + reflect(q - rad, w)];
        T* trow = tmp + r * w;
        std::fill(trow, trow + w, T(0));
        for (index_t k = 0; k < ksize; ++k) {
          const T kk = kern[k];
          const T* src = pad + k;
#pragma omp simd
          for (index_t q = 0; q < w; ++q) trow[q] += kk * src[q];
        }
      }
      for (index_t r = 0; r < h; ++r) {  // vertical pass, reflect at the top and bottom rows
        T* orow = o + r * w;
        std::fill(orow, orow + w, T(0));
        for (index_t k = 0; k < ksize; ++k) {
          const T* trow = tmp + reflect(r + k - rad, h) * w;
          const T kk = kern[k];
#pragma omp simd
          for (index_t q = 0; q < w; ++q) orow[q] += kk * trow[q];
        }
      }
    }
  });
}

#define PYSSL_IMAGE(T)                                                                                   \
  template void rotate90<T>(const T*, T*, const std::int64_t*, index_t, index_t, index_t, index_t);     \
  template void hflip<T>(const T*, T*, const std::int64_t*, index_t, index_t, index_t, index_t);        \
  template void resized_crop<T>(const T*, T*, const std::int64_t*, index_t, index_t, index_t, index_t,  \
                                index_t, index_t);                                                     \
  template void jigsaw<T>(const T*, T*, const std::int64_t*, const std::int64_t*, index_t, index_t,     \
                          index_t, index_t, index_t, bool);                                            \
  template void patch_mask<T>(const T*, T*, T*, std::int64_t*, std::int64_t*, index_t, index_t, index_t, \
                              index_t, index_t, index_t, T, std::uint64_t);                            \
  template void color_jitter<T>(const T*, T*, T*, index_t, index_t, index_t, index_t, double, double,  \
                                bool, std::uint64_t);                                                  \
  template void gaussian_blur<T>(const T*, T*, T*, index_t, index_t, index_t, index_t, index_t, double, \
                                 double, std::uint64_t);
PYSSL_INSTANTIATE_FLOATS(PYSSL_IMAGE)
#undef PYSSL_IMAGE

}  // namespace pyssl::augment
