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

namespace {
// Second derivatives M[0..m) of the not-a-knot cubic spline through (k, y[k]), k = 0..m−1 (unit
// spacing; scipy.interpolate.CubicSpline's default, which Um et al.'s code uses). With
// d_k = y[k+1] − 2 y[k] + y[k−1] the interior conditions are M[k−1] + 4 M[k] + M[k+1] = 6 d_k and
// not-a-knot makes the third derivative continuous at knots 1 and m−2, i.e. M[0] = 2 M[1] − M[2]
// and M[m−1] = 2 M[m−2] − M[m−3]; substituted into rows 1 and m−2 they give M[1] = d_1 and
// M[m−2] = d_{m−2}, leaving a tridiagonal system for M[2..m−3] (Thomas algorithm, `c` scratch of
// m doubles). m = 2 is a line and m = 3 a parabola (M constant), as in scipy.
inline void not_a_knot_second_derivatives(const double* y, index_t m, double* M, double* c) {
  if (m <= 2) {
    for (index_t k = 0; k < m; ++k) M[k] = 0.0;
    return;
  }
  auto d = [&](index_t k) { return y[k + 1] - 2.0 * y[k] + y[k - 1]; };
  if (m == 3) {
    M[0] = M[1] = M[2] = d(1);
    return;
  }
  M[1] = d(1);
  M[m - 2] = d(m - 2);
  // rows k = 2..m−3: M[k−1] + 4 M[k] + M[k+1] = 6 d_k, the known M[1], M[m−2] moved right
  const index_t lo = 2, hi = m - 3;
  for (index_t k = lo; k <= hi; ++k) {
    double rhs = 6.0 * d(k);
    if (k == lo) rhs -= M[1];
    if (k == hi) rhs -= M[m - 2];
    const double diag = k == lo ? 4.0 : 4.0 - c[k - 1];
    c[k] = 1.0 / diag;           // super-diagonal after elimination
    M[k] = (k == lo ? rhs : rhs - M[k - 1]) / diag;
  }
  for (index_t k = hi - 1; k >= lo; --k) M[k] -= c[k] * M[k + 1];
  M[0] = 2.0 * M[1] - M[2];
  M[m - 1] = 2.0 * M[m - 2] - M[m - 3];
}

// The spline at u in [0, m−1].
inline double spline_at(const double* y, const double* M, index_t m, double u) {
  const index_t k = std::min<index_t>(index_t(u), m - 2);
  const double f = u - double(k), g = 1.0 - f;
  return g * y[k] + f * y[k + 1] + ((g * g * g - g) * M[k] + (f * f * f - f) * M[k + 1]) / 6.0;
}
}  // namespace

template <class T>
void time_warp(const T* x, T* out, index_t n, index_t c, index_t t, double sigma, index_t knots,
               std::uint64_t seed) {
  const index_t nk = knots + 2;
  for_samples_scratch<double>(n, c * t * 4, t + 3 * nk, [&](index_t i, double* buf) {
    double* pos = buf;              // t warped read positions
    double* speed = buf + t;        // nk knot speeds
    double* curv = speed + nk;      // their spline second derivatives
    double* work = curv + nk;       // solver scratch
    for_normal_tiles(seed, stream_id(Tag::TimeWarp, i), nk, [&](index_t off, index_t len, const float* z) {
      for (index_t q = 0; q < len; ++q) speed[off + q] = 1.0 + sigma * double(z[q]);
    });
    not_a_knot_second_derivatives(speed, nk, curv, work);
    // speed at step j: the spline at u = j (nk−1)/(t−1), floored at 0.1 so time never runs back
    double acc = 0.0;
    for (index_t j = 0; j < t; ++j) {
      const double u = t > 1 ? double(j) * double(nk - 1) / double(t - 1) : 0.0;
      pos[j] = acc;
      acc += std::max(spline_at(speed, curv, nk, u), 0.1);
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
