#include "augment/sequence.hpp"

#include <algorithm>
#include <numeric>

#include "augment/common.hpp"
#include "augment/resample.hpp"
#include "core/instantiate.hpp"

namespace pyssl::augment {

template <class T>
void crop_resize_1d(const T* x, T* out, index_t n, index_t c, index_t t, index_t t_out, double scale_lo,
                    double scale_hi, std::int64_t* windows, std::uint64_t seed) {
  for_samples_scratch<LinearTap>(n, c * t_out * 4, t_out, [&](index_t i, LinearTap* taps) {
    const rng::Block b = sample_stream(seed, Tag::SeqCrop, i).block(0);
    const double s = scale_lo + (scale_hi - scale_lo) * unit(b.v[0]);
    const index_t len = std::clamp<index_t>(index_t(std::llround(s * double(t))), 1, t);
    const index_t start = index_t(below(b.v[1], u32(t - len + 1)));
    windows[2 * i] = start;
    windows[2 * i + 1] = len;
    linear_taps(start, len, t_out, taps);
    for (index_t ch = 0; ch < c; ++ch)
      apply_taps(x + (i * c + ch) * t, taps, t_out, out + (i * c + ch) * t_out);
  });
}

template <class T>
void scaling(const T* x, T* out, index_t n, index_t c, index_t t, double sigma, std::uint64_t seed) {
  for_samples(n, c * t, [&](index_t i) {
    for_normal_tiles(seed, stream_id(Tag::Scaling, i), c, [&](index_t off, index_t len, const float* z) {
      for (index_t q = 0; q < len; ++q) {
        const index_t ch = off + q;
        const T f = T(1.0 + sigma * double(z[q]));
        const T* xr = x + (i * c + ch) * t;
        T* o = out + (i * c + ch) * t;
#pragma omp simd
        for (index_t j = 0; j < t; ++j) o[j] = f * xr[j];
      }
    });
  });
}

template <class T>
void segment_permute(const T* x, T* out, std::int64_t* perms, index_t n, index_t c, index_t t,
                     index_t segments, std::uint64_t seed) {
  const index_t m = segments;
  parallel_for(n, c * t, [&](index_t b, index_t e) {
    std::vector<u32> words(static_cast<size_t>(words_capacity(m)));
    for (index_t i = b; i < e; ++i) {
      std::int64_t* p = perms + i * m;
      random_subset(p, m, m - 1, seed, stream_id(Tag::SegmentPermute, i), words.data());
      for (index_t ch = 0; ch < c; ++ch) {
        const T* xr = x + (i * c + ch) * t;
        T* o = out + (i * c + ch) * t;
        index_t pos = 0;
        for (index_t k = 0; k < m; ++k) {
          const index_t s0 = p[k] * t / m, s1 = (p[k] + 1) * t / m;
          std::copy(xr + s0, xr + s1, o + pos);
          pos += s1 - s0;
        }
      }
    }
  });
}

template <class T>
void time_warp(const T* x, T* out, index_t n, index_t c, index_t t, double sigma, index_t knots,
               std::uint64_t seed) {
  const index_t nk = knots + 2;
  for_samples_scratch<double>(n, c * t * 4, t + nk, [&](index_t i, double* buf) {
    double* pos = buf;        // t warped read positions
    double* speed = buf + t;  // nk knot speeds
    for_normal_tiles(seed, stream_id(Tag::TimeWarp, i), nk, [&](index_t off, index_t len, const float* z) {
      for (index_t q = 0; q < len; ++q) speed[off + q] = std::max(1.0 + sigma * double(z[q]), 0.1);
    });
    // speed at step j: linear between knots placed at j = k (t−1)/(nk−1)
    double acc = 0.0;
    for (index_t j = 0; j < t; ++j) {
      const double u = t > 1 ? double(j) * double(nk - 1) / double(t - 1) : 0.0;
      const index_t k0 = std::min<index_t>(index_t(u), nk - 2);
      const double f = u - double(k0);
      pos[j] = acc;
      acc += (1.0 - f) * speed[k0] + f * speed[k0 + 1];
    }
    const double last = pos[t - 1];
    const double scale = last > 0 ? double(t - 1) / last : 0.0;
    for (index_t ch = 0; ch < c; ++ch) {
      const T* xr = x + (i * c + ch) * t;
      T* o = out + (i * c + ch) * t;
      for (index_t j = 0; j < t; ++j) {
        const double p = std::min(pos[j] * scale, double(t - 1));
        const index_t j0 = std::min<index_t>(index_t(p), t - 1), j1 = std::min<index_t>(j0 + 1, t - 1);
        const T w = T(p - double(j0));
        o[j] = (T(1) - w) * xr[j0] + w * xr[j1];
      }
    }
  });
}

#define PYSSL_SEQUENCE(T)                                                                          \
  template void crop_resize_1d<T>(const T*, T*, index_t, index_t, index_t, index_t, double, double, \
                                  std::int64_t*, std::uint64_t);                                 \
  template void scaling<T>(const T*, T*, index_t, index_t, index_t, double, std::uint64_t);         \
  template void segment_permute<T>(const T*, T*, std::int64_t*, index_t, index_t, index_t, index_t, \
                                   std::uint64_t);                                               \
  template void time_warp<T>(const T*, T*, index_t, index_t, index_t, double, index_t, std::uint64_t);
PYSSL_INSTANTIATE_FLOATS(PYSSL_SEQUENCE)
#undef PYSSL_SEQUENCE

}  // namespace pyssl::augment
