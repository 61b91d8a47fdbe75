#include "nn/batchnorm2d.hpp"

#include <cmath>

#include "core/instantiate.hpp"
#include "core/reduce.hpp"
#include "nn/activation.hpp"
#include "parallel/parallel.hpp"

namespace pyssl::nn {
namespace {
constexpr int kLanes = 16;
constexpr index_t kChunk = 1024;  // elements summed in T lanes before they are added in double

// Σ f(i) over [0, s): kLanes accumulators of type T per chunk of kChunk elements (so the loop
// vectorises without conversions), chunks and lanes added in double in a fixed order — the
// association depends on s alone, never on the thread count or the buffer's address.
template <class T, class F>
inline double row_sum(index_t s, F f) {
  double total = 0;
  for (index_t c0 = 0; c0 < s; c0 += kChunk) {
    const index_t c1 = c0 + kChunk < s ? c0 + kChunk : s;
    T acc[kLanes] = {};
    index_t i = c0;
    for (; i + kLanes <= c1; i += kLanes) {
#pragma omp simd
      for (int j = 0; j < kLanes; ++j) acc[j] += f(i + j);
    }
    for (int j = 0; i < c1; ++i, ++j) acc[j] += f(i);
    for (int j = 0; j < kLanes; ++j) total += double(acc[j]);
  }
  return total;
}

template <class T, class FA, class FB>
inline void row_sum2(index_t s, FA fa, FB fb, double& sa, double& sb) {
  sa = sb = 0;
  for (index_t c0 = 0; c0 < s; c0 += kChunk) {
    const index_t c1 = c0 + kChunk < s ? c0 + kChunk : s;
    T a[kLanes] = {}, b[kLanes] = {};
    index_t i = c0;
    for (; i + kLanes <= c1; i += kLanes) {
#pragma omp simd
      for (int j = 0; j < kLanes; ++j) {
        a[j] += fa(i + j);
        b[j] += fb(i + j);
      }
    }
    for (int j = 0; i < c1; ++i, ++j) {
      a[j] += fa(i);
      b[j] += fb(i);
    }
    for (int j = 0; j < kLanes; ++j) {
      sa += double(a[j]);
      sb += double(b[j]);
    }
  }
}

void check_shape(const ChannelShape& sh) {
  PYSSL_CHECK(sh.n >= 1 && sh.c >= 1 && sh.s >= 1, "batch_norm_channels: x must be non-empty, got (N, C, S) = (",
              sh.n, ", ", sh.c, ", ", sh.s, ")");
}

// Mean and M2 of channel c: per-row two-pass moments combined over rows in order (Chan et al.).
template <class T>
void channel_moments(const ChannelShape& sh, const T* x, index_t c, double& mean, double& m2) {
  const index_t S = sh.s;
  double cnt = 0, mu = 0, q = 0;
  for (index_t n = 0; n < sh.n; ++n) {
    const T* row = x + (n * sh.c + c) * S;
    const double rm = row_sum<T>(S, [&](index_t i) { return row[i]; }) / double(S);
    const T rmt = T(rm);
    // M2 about the row mean rounded to T, corrected exactly for the rounding offset d:
    // Σ (x − rm)² = Σ (x − rmt)² − S·d², d = rm − rmt.
    const double d = rm - double(rmt);
    const double rq = row_sum<T>(S, [&](index_t i) {
      const T t = row[i] - rmt;
      return t * t;
    }) - double(S) * d * d;
    if (n == 0) {
      cnt = double(S);
      mu = rm;
      q = rq;
    } else {
      const double nb = double(S), tot = cnt + nb, delta = rm - mu;
      mu += delta * nb / tot;
      q += rq + delta * delta * cnt * nb / tot;
      cnt = tot;
    }
  }
  mean = mu;
  m2 = q;
}
}  // namespace

template <class T>
void batch_norm_channels_forward(const ChannelShape& sh, const T* x, const T* gamma, const T* beta,
                                 const T* residual, bool relu, T* running_mean, T* running_var, T* y, T* mean,
                                 T* rstd, bool training, double momentum, double eps, const double* given_mean,
                                 const double* given_var, double given_count) {
  check_shape(sh);
  const index_t C = sh.c, S = sh.s;
  const double M = double(sh.n) * double(S);
  const bool given = given_mean != nullptr;
  if (training) {
    PYSSL_CHECK(M >= 2, "batch_norm_channels: training mode needs at least 2 values per channel (N·S >= 2), got ",
                M, " (use eval mode, or a larger batch)");
    PYSSL_CHECK(!given || (given_var != nullptr && given_count >= 2),
                "batch_norm_channels: given statistics need a variance and a count of at least 2, got ", given_count);
  } else {
    PYSSL_CHECK(running_mean != nullptr && running_var != nullptr,
                "batch_norm_channels: eval mode needs running_mean and running_var");
  }
  const double count = given ? given_count : M;
  parallel_for(C, sh.n * S * 4, [&](index_t c0, index_t c1) {
    for (index_t c = c0; c < c1; ++c) {
      double mu, var;
      if (!training) {
        mu = double(running_mean[c]);
        var = double(running_var[c]);
      } else if (given) {
        mu = given_mean[c];
        var = given_var[c];
      } else {
        double q;
        channel_moments(sh, x, c, mu, q);
        var = q / M;
      }
      const T m = T(mu), rs = T(1.0 / std::sqrt(var + eps));
      mean[c] = m;
      rstd[c] = rs;
      if (training) {
        if (running_mean != nullptr)
          running_mean[c] = T((1.0 - momentum) * double(running_mean[c]) + momentum * mu);
        if (running_var != nullptr)
          running_var[c] = T((1.0 - momentum) * double(running_var[c]) + momentum * var * count / (count - 1.0));
      }
      const T k = gamma != nullptr ? rs * gamma[c] : rs;
      const T b = beta != nullptr ? beta[c] : T(0);
      for (index_t n = 0; n < sh.n; ++n) {
        const index_t off = (n * C + c) * S;
        const T* xr = x + off;
        T* yr = y + off;
        if (residual != nullptr) {
          const T* rr = residual + off;
          if (relu) {
#pragma omp simd
            for (index_t i = 0; i < S; ++i) {
              const T u = (xr[i] - m) * k + b + rr[i];
              yr[i] = u > T(0) ? u : T(0);
            }
          } else {
#pragma omp simd
            for (index_t i = 0; i < S; ++i) yr[i] = (xr[i] - m) * k + b + rr[i];
          }
        } else if (relu) {
#pragma omp simd
          for (index_t i = 0; i < S; ++i) {
            const T u = (xr[i] - m) * k + b;
            yr[i] = u > T(0) ? u : T(0);
          }
        } else {
#pragma omp simd
          for (index_t i = 0; i < S; ++i) yr[i] = (xr[i] - m) * k + b;
        }
      }
    }
  });
}

template <class T>
void batch_norm_channels_moments(const ChannelShape& sh, const T* x, double* mean, double* m2) {
  check_shape(sh);
  parallel_for(sh.c, sh.n * sh.s * 2, [&](index_t c0, index_t c1) {
    for (index_t c = c0; c < c1; ++c) channel_moments(sh, x, c, mean[c], m2[c]);
  });
}

template <class T>
void batch_norm_channels_backward(const ChannelShape& sh, const T* x, const T* mean, const T* rstd,
                                  const T* gamma, const T* y, bool relu, const T* dy, T* dx, T* dres,
                                  T* dgamma, T* dbeta, bool training, bool accumulate, const double* given_sums,
                                  double given_count) {
  check_shape(sh);
  PYSSL_CHECK(!relu || y != nullptr, "batch_norm_channels_backward: relu needs the forward output y");
  PYSSL_CHECK(given_sums == nullptr || given_count >= 1,
              "batch_norm_channels_backward: given sums need a count >= 1");
  const index_t C = sh.c, S = sh.s;
  const double inv_m = 1.0 / (given_sums != nullptr ? given_count : double(sh.n) * double(S));
  const bool need_sums = dgamma != nullptr || dbeta != nullptr || (training && dx != nullptr && given_sums == nullptr);
  parallel_for(C, sh.n * S * 6, [&](index_t c0, index_t c1) {
    for (index_t c = c0; c < c1; ++c) {
      const T m = mean[c], r = rstd[c];
      double s1 = 0, s2 = 0;
      if (need_sums || dres != nullptr) {
        for (index_t n = 0; n < sh.n; ++n) {
          const index_t off = (n * C + c) * S;
          const T* xr = x + off;
          const T* gr = dy + off;
          const T* yr = relu ? y + off : nullptr;
          if (dres != nullptr) {
            T* dr = dres + off;
            if (relu) {
#pragma omp simd
              for (index_t i = 0; i < S; ++i) dr[i] = relu_grad(yr[i], gr[i]);
            } else {
#pragma omp simd
              for (index_t i = 0; i < S; ++i) dr[i] = gr[i];
            }
          }
          if (!need_sums) continue;
          double a, b;  // Σ g and Σ g·(x − μ); the factor r is applied once per channel
          if (relu) {
            row_sum2<T>(
                S, [&](index_t i) { return relu_grad(yr[i], gr[i]); },
                [&](index_t i) { return relu_grad(yr[i], gr[i]) * (xr[i] - m); }, a, b);
          } else {
            row_sum2<T>(
                S, [&](index_t i) { return gr[i]; }, [&](index_t i) { return gr[i] * (xr[i] - m); }, a, b);
          }
          s1 += a;
          s2 += b;
        }
      }
      s2 *= double(r);
      if (dgamma != nullptr) dgamma[c] = accumulate ? T(double(dgamma[c]) + s2) : T(s2);
      if (dbeta != nullptr) dbeta[c] = accumulate ? T(double(dbeta[c]) + s1) : T(s1);
      if (dx == nullptr) continue;
      const T k = gamma != nullptr ? gamma[c] * r : r;
      const double t1 = given_sums != nullptr ? given_sums[c] : s1;
      const double t2 = given_sums != nullptr ? given_sums[C + c] : s2;
      const T m1 = training ? T(t1 * inv_m) : T(0);
      const T m2 = training ? T(t2 * inv_m) : T(0);
      for (index_t n = 0; n < sh.n; ++n) {
        const index_t off = (n * C + c) * S;
        const T* xr = x + off;
        const T* gr = dy + off;
        T* dxr = dx + off;
        if (relu) {
          const T* yr = y + off;
#pragma omp simd
          for (index_t i = 0; i < S; ++i) {
            const T g = relu_grad(yr[i], gr[i]);
            dxr[i] = k * (g - m1 - (xr[i] - m) * r * m2);
          }
        } else {
#pragma omp simd
          for (index_t i = 0; i < S; ++i) dxr[i] = k * (gr[i] - m1 - (xr[i] - m) * r * m2);
        }
      }
    }
  });
}

#define PYSSL_BN2D(T)                                                                                         \
  template void batch_norm_channels_forward<T>(const ChannelShape&, const T*, const T*, const T*, const T*,   \
                                               bool, T*, T*, T*, T*, T*, bool, double, double, const double*, \
                                               const double*, double);                                        \
  template void batch_norm_channels_moments<T>(const ChannelShape&, const T*, double*, double*);              \
  template void batch_norm_channels_backward<T>(const ChannelShape&, const T*, const T*, const T*, const T*,  \
                                                const T*, bool, const T*, T*, T*, T*, T*, bool, bool,         \
                                                const double*, double);
PYSSL_INSTANTIATE_FLOATS(PYSSL_BN2D)
#undef PYSSL_BN2D

}  // namespace pyssl::nn
