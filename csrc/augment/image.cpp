#include "augment/image.hpp"

#include <algorithm>
#include <numeric>

#include "augment/common.hpp"
#include "augment/resample.hpp"
#include "core/instantiate.hpp"

namespace pyssl::augment {

namespace {
// One (h, w) plane rotated by k quarter turns into out (w, h) for odd k, (h, w) for even k.
template <class T>
inline void rotate_plane(const T* in, T* out, index_t h, index_t w, int k) {
  switch (k & 3) {
    case 0:
      std::copy(in, in + h * w, out);
      break;
    case 1:  // out (w, h): out[r, c] = in[c, w-1-r]
      for (index_t r = 0; r < w; ++r) {
        T* o = out + r * h;
        const T* src = in + (w - 1 - r);
#pragma omp simd
        for (index_t cc = 0; cc < h; ++cc) o[cc] = src[cc * w];
      }
      break;
    case 2:
      for (index_t r = 0; r < h; ++r) {
        T* o = out + r * w;
        const T* src = in + (h - 1 - r) * w + (w - 1);
#pragma omp simd
        for (index_t cc = 0; cc < w; ++cc) o[cc] = src[-cc];
      }
      break;
    default:  // 3, out (w, h): out[r, c] = in[h-1-c, r]
      for (index_t r = 0; r < w; ++r) {
        T* o = out + r * h;
        const T* src = in + (h - 1) * w + r;
#pragma omp simd
        for (index_t cc = 0; cc < h; ++cc) o[cc] = src[-cc * w];
      }
  }
}

inline index_t reflect(index_t i, index_t n) {
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
  for_samples(n, c * h * w, [&](index_t i) {
    const std::int64_t* pi = perms + labels[i] * g2;
    for (index_t ch = 0; ch < c; ++ch) {
      const T* in = x + (i * c + ch) * h * w;
      for (index_t tr = 0; tr < grid; ++tr)
        for (index_t r = 0; r < th; ++r)
          for (index_t tc = 0; tc < grid; ++tc) {
            const index_t t = tr * grid + tc, src = pi[t];
            const T* s = in + ((src / grid) * th + r) * w + (src % grid) * tw;
            T* o = tiles ? out + (((i * g2 + t) * c + ch) * th + r) * tw
                         : out + (i * c + ch) * h * w + (tr * th + r) * w + tc * tw;
#pragma omp simd
            for (index_t q = 0; q < tw; ++q) o[q] = s[q];
          }
    }
  });
}

template <class T>
void patch_mask(const T* x, T* out, T* mask, std::int64_t* kept, std::int64_t* masked, index_t n, index_t c,
                index_t h, index_t w, index_t patch, index_t n_masked, T fill, std::uint64_t seed) {
  const index_t gh = h / patch, gw = w / patch, l = gh * gw, n_kept = l - n_masked;
  parallel_for(n, c * h * w, [&](index_t b, index_t e) {
    std::vector<std::int64_t> idx(static_cast<size_t>(l));
    std::vector<u32> words(static_cast<size_t>(words_capacity(n_masked)));
    for (index_t i = b; i < e; ++i) {
      std::iota(idx.begin(), idx.end(), std::int64_t(0));
      stream_words(seed, stream_id(Tag::PatchMask, i), n_masked, words.data());
      partial_shuffle(idx.data(), l, n_masked, words.data());
      T* mi = mask + i * l;
      std::fill(mi, mi + l, T(0));
      for (index_t t = 0; t < n_masked; ++t) mi[idx[size_t(t)]] = T(1);
      index_t a = 0, m = 0;
      for (index_t p = 0; p < l; ++p) {
        if (mi[p] != T(0)) masked[i * n_masked + m++] = p;
        else kept[i * n_kept + a++] = p;
      }
      std::copy(x + i * c * h * w, x + (i + 1) * c * h * w, out + i * c * h * w);
      for (index_t t = 0; t < n_masked; ++t) {
        const index_t p = masked[i * n_masked + t];
        const index_t r0 = (p / gw) * patch, c0 = (p % gw) * patch;
        for (index_t ch = 0; ch < c; ++ch)
          for (index_t r = 0; r < patch; ++r) {
            T* o = out + (i * c + ch) * h * w + (r0 + r) * w + c0;
            std::fill(o, o + patch, fill);
          }
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
  const index_t rad = ksize / 2;
  for_samples_scratch<T>(n, c * h * w * 2 * ksize, h * w + ksize, [&](index_t i, T* buf) {
    T* tmp = buf;
    T* kern = buf + h * w;
    const u32 word = sample_stream(seed, Tag::Blur, i).bits(0);
    const double sigma = sigma_lo + (sigma_hi - sigma_lo) * unit(word);
    sigmas[i] = T(sigma);
    double tot = 0.0;
    std::vector<double> kd(static_cast<size_t>(ksize));
    for (index_t k = 0; k < ksize; ++k) {
      const double d = double(k - rad);
      kd[size_t(k)] = std::exp(-d * d / (2.0 * sigma * sigma));
      tot += kd[size_t(k)];
    }
    for (index_t k = 0; k < ksize; ++k) kern[k] = T(kd[size_t(k)] / tot);
    for (index_t ch = 0; ch < c; ++ch) {
      const T* in = x + (i * c + ch) * h * w;
      T* o = out + (i * c + ch) * h * w;
      for (index_t r = 0; r < h; ++r)  // horizontal pass
        for (index_t q = 0; q < w; ++q) {
          T s = 0;
          for (index_t k = 0; k < ksize; ++k) s += kern[k] * in[r * w + reflect(q + k - rad, w)];
          tmp[r * w + q] = s;
        }
      for (index_t r = 0; r < h; ++r) {  // vertical pass
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
