#include "nn/norm.hpp"

#include <cmath>

#include "core/instantiate.hpp"
#include "core/reduce.hpp"
#include "nn/activation.hpp"
#include "parallel/parallel.hpp"

namespace pyssl::nn {
namespace {
// Per-feature (column) loops walk feature blocks; inside a block the rows are visited in order
// 0..n-1 and each feature keeps its own accumulator (vectorised across features only), so a
// feature's sum is the same whatever the block width or thread count. Wide blocks stream each
// row segment (fewer cache and TLB misses per byte); there is at least one block per thread.
constexpr index_t kMaxBlock = 256;

inline index_t block_width(index_t d) {
  const index_t nt = num_threads();
  index_t w = ((d + nt - 1) / nt + 15) / 16 * 16;
  return w < 32 ? 32 : (w > kMaxBlock ? kMaxBlock : w);
}

// Row sums over d entries use lane_sum (core/reduce.hpp) with 32 lanes: breaks the add latency
// chain, and the association is fixed, so the result depends on the data alone.
constexpr int kLanes = 32;
}  // namespace

// ------------------------------------------------------------------------------------------
// LayerNorm
// ------------------------------------------------------------------------------------------

template <class T>
void layer_norm_forward(const T* x, const T* gamma, const T* beta, T* y, T* mean, T* rstd, index_t n,
                        index_t d, double eps) {
  PYSSL_CHECK(n >= 0 && d >= 1, "layer_norm: need d >= 1, got n=", n, ", d=", d);
  parallel_for(n, 4 * d, [&](index_t r0, index_t r1) {
    for (index_t r = r0; r < r1; ++r) {
      const T* xr = x + r * d;
      T* yr = y + r * d;
      const double mu = lane_sum<kLanes>(0, d, [&](index_t c) { return double(xr[c]); }) / double(d);
      const double q = lane_sum<kLanes>(0, d, [&](index_t c) {
        const double t = double(xr[c]) - mu;
        return t * t;
      });
      const T m = T(mu), rs = T(1.0 / std::sqrt(q / double(d) + eps));
      mean[r] = m;
      rstd[r] = rs;
      if (gamma != nullptr) {
#pragma omp simd
        for (index_t c = 0; c < d; ++c) yr[c] = (xr[c] - m) * rs * gamma[c] + beta[c];
      } else {
#pragma omp simd
        for (index_t c = 0; c < d; ++c) yr[c] = (xr[c] - m) * rs;
      }
    }
  });
}

template <class T>
void layer_norm_backward(const T* x, const T* mean, const T* rstd, const T* gamma, const T* dy, T* dx,
                         T* dgamma, T* dbeta, index_t n, index_t d, bool accumulate) {
  if (dx != nullptr) {
    const double inv_d = 1.0 / double(d);
    parallel_for(n, 6 * d, [&](index_t r0, index_t r1) {
      for (index_t r = r0; r < r1; ++r) {
        const T* xr = x + r * d;
        const T* gr = dy + r * d;
        T* dxr = dx + r * d;
        const T m = mean[r], rs = rstd[r];
        double a, b;
        if (gamma != nullptr) {
          lane_sum2<kLanes>(
              index_t(0), d, [&](index_t c) { return double(gr[c] * gamma[c]); },
              [&](index_t c) { return double(gr[c] * gamma[c] * ((xr[c] - m) * rs)); }, a, b);
        } else {
          lane_sum2<kLanes>(
              index_t(0), d, [&](index_t c) { return double(gr[c]); },
              [&](index_t c) { return double(gr[c] * ((xr[c] - m) * rs)); }, a, b);
        }
        const T ma = T(a * inv_d), mb = T(b * inv_d);
        if (gamma != nullptr) {
#pragma omp simd
          for (index_t c = 0; c < d; ++c) dxr[c] = rs * (gr[c] * gamma[c] - ma - (xr[c] - m) * rs * mb);
        } else {
#pragma omp simd
          for (index_t c = 0; c < d; ++c) dxr[c] = rs * (gr[c] - ma - (xr[c] - m) * rs * mb);
        }
      }
    });
  }
  if (dgamma == nullptr && dbeta == nullptr) return;
  // dγ_d = Σ_n dy_nd x̂_nd, dβ_d = Σ_n dy_nd: column sums, rows in order inside a feature block.
  for_column_blocks(d, block_width(d), 4 * n, [&](index_t c0, index_t c1) {
    const index_t w = c1 - c0;
    double s1[kMaxBlock] = {}, s2[kMaxBlock] = {};
    for (index_t r = 0; r < n; ++r) {
      const T* xr = x + r * d + c0;
      const T* gr = dy + r * d + c0;
      const T m = mean[r], rs = rstd[r];
#pragma omp simd
      for (index_t c = 0; c < w; ++c) {
        s1[c] += double(gr[c]);
        s2[c] += double(gr[c] * ((xr[c] - m) * rs));
      }
    }
    for (index_t c = 0; c < w; ++c) {
      if (dgamma != nullptr) dgamma[c0 + c] = accumulate ? T(double(dgamma[c0 + c]) + s2[c]) : T(s2[c]);
      if (dbeta != nullptr) dbeta[c0 + c] = accumulate ? T(double(dbeta[c0 + c]) + s1[c]) : T(s1[c]);
    }
  });
}

// ------------------------------------------------------------------------------------------
// BatchNorm1d
// ------------------------------------------------------------------------------------------

template <class T>
void batch_norm_forward(const T* x, const T* gamma, const T* beta, bool relu, T* running_mean, T* running_var,
                        T* y, T* mean, T* rstd, index_t n, index_t d, bool training, double momentum,
                        double eps, const double* given_mean, const double* given_var, double given_count) {
  PYSSL_CHECK(d >= 1 && n >= 1, "batch_norm: need n >= 1 and d >= 1, got n=", n, ", d=", d);
  if (!training) {
    PYSSL_CHECK(running_mean != nullptr && running_var != nullptr,
                "batch_norm: eval mode needs running_mean and running_var");
    for (index_t c = 0; c < d; ++c) {
      mean[c] = running_mean[c];
      rstd[c] = T(1.0 / std::sqrt(double(running_var[c]) + eps));
    }
    parallel_for(n, 3 * d, [&](index_t r0, index_t r1) {
      for (index_t r = r0; r < r1; ++r) {
        const T* xr = x + r * d;
        T* yr = y + r * d;
        if (gamma != nullptr) {
#pragma omp simd
          for (index_t c = 0; c < d; ++c) yr[c] = (xr[c] - mean[c]) * rstd[c] * gamma[c] + beta[c];
        } else {
#pragma omp simd
          for (index_t c = 0; c < d; ++c) yr[c] = (xr[c] - mean[c]) * rstd[c];
        }
        if (relu) {
#pragma omp simd
          for (index_t c = 0; c < d; ++c) yr[c] = yr[c] > T(0) ? yr[c] : T(0);
        }
      }
    });
    return;
  }
  PYSSL_CHECK(n >= 2, "batch_norm: training mode needs at least 2 rows to estimate the batch variance, "
                      "got a batch of ", n, " (use eval mode, or a larger batch)");
  const bool given = given_mean != nullptr;
  PYSSL_CHECK(!given || (given_var != nullptr && given_count >= 2),
              "batch_norm: given statistics need a variance and a count of at least 2 rows, got count ",
              given_count);
  const double count = given ? given_count : double(n);
  const double inv_n = 1.0 / count, unbias = count / (count - 1.0);
  for_column_blocks(d, block_width(d), 5 * n, [&](index_t c0, index_t c1) {
    const index_t w = c1 - c0;
    double s[kMaxBlock] = {}, q[kMaxBlock] = {};
    if (given) {
      for (index_t c = 0; c < w; ++c) {
        s[c] = given_mean[c0 + c];
        q[c] = given_var[c0 + c] * count;
      }
    } else {
      add_column_sums(x + c0, n, d, w, s);
      for (index_t c = 0; c < w; ++c) s[c] *= inv_n;  // now the mean
      add_column_squared_deviations(x + c0, n, d, w, s, q);
    }
    T m[kMaxBlock], k[kMaxBlock], b[kMaxBlock];
    for (index_t c = 0; c < w; ++c) {
      const double var = q[c] * inv_n;
      m[c] = T(s[c]);
      const T rs = T(1.0 / std::sqrt(var + eps));
      mean[c0 + c] = m[c];
      rstd[c0 + c] = rs;
      k[c] = gamma != nullptr ? rs * gamma[c0 + c] : rs;
      b[c] = beta != nullptr ? beta[c0 + c] : T(0);
      if (running_mean != nullptr)
        running_mean[c0 + c] = T((1.0 - momentum) * double(running_mean[c0 + c]) + momentum * s[c]);
      if (running_var != nullptr)
        running_var[c0 + c] = T((1.0 - momentum) * double(running_var[c0 + c]) + momentum * var * unbias);
    }
    for (index_t r = 0; r < n; ++r) {
      const T* xr = x + r * d + c0;
      T* yr = y + r * d + c0;
      if (relu) {
#pragma omp simd
        for (index_t c = 0; c < w; ++c) {
          const T u = (xr[c] - m[c]) * k[c] + b[c];
          yr[c] = u > T(0) ? u : T(0);
        }
      } else {
#pragma omp simd
        for (index_t c = 0; c < w; ++c) yr[c] = (xr[c] - m[c]) * k[c] + b[c];
      }
    }
  });
}

template <class T>
void batch_norm_moments(const T* x, double* mean, double* m2, index_t n, index_t d) {
  PYSSL_CHECK(d >= 1 && n >= 1, "batch_norm_moments: need n >= 1 and d >= 1, got n=", n, ", d=", d);
  const double inv_n = 1.0 / double(n);
  for_column_blocks(d, block_width(d), 3 * n, [&](index_t c0, index_t c1) {
    const index_t w = c1 - c0;
    double s[kMaxBlock] = {}, q[kMaxBlock] = {};
    add_column_sums(x + c0, n, d, w, s);
    for (index_t c = 0; c < w; ++c) s[c] *= inv_n;
    add_column_squared_deviations(x + c0, n, d, w, s, q);
    for (index_t c = 0; c < w; ++c) {
      mean[c0 + c] = s[c];
      m2[c0 + c] = q[c];
    }
  });
}

template <class T>
void batch_norm_backward(const T* x, const T* mean, const T* rstd, const T* gamma, const T* y, bool relu,
                         const T* dy, T* dx, T* dgamma, T* dbeta, index_t n, index_t d, bool training,
                         bool accumulate, const double* given_sums, double given_count) {
  PYSSL_CHECK(!relu || y != nullptr, "batch_norm_backward: relu needs the forward output y");
  if (!training && dgamma == nullptr && dbeta == nullptr) {
    // Eval mode with no parameter gradient wanted: dx is elementwise.
    if (dx == nullptr) return;
    parallel_for(n, 2 * d, [&](index_t r0, index_t r1) {
      for (index_t r = r0; r < r1; ++r) {
        const T* gr = dy + r * d;
        T* dxr = dx + r * d;
        if (gamma != nullptr) {
#pragma omp simd
          for (index_t c = 0; c < d; ++c) dxr[c] = gr[c] * gamma[c] * rstd[c];
        } else {
#pragma omp simd
          for (index_t c = 0; c < d; ++c) dxr[c] = gr[c] * rstd[c];
        }
        if (relu) {
          const T* yr = y + r * d;
#pragma omp simd
          for (index_t c = 0; c < d; ++c) dxr[c] = relu_grad(yr[c], dxr[c]);
        }
      }
    });
    return;
  }
  PYSSL_CHECK(given_sums == nullptr || given_count >= 1, "batch_norm_backward: given sums need a count >= 1");
  const double inv_n = 1.0 / (given_sums != nullptr ? given_count : double(n));
  for_column_blocks(d, block_width(d), 6 * n, [&](index_t c0, index_t c1) {
    const index_t w = c1 - c0;
    const T* mb = mean + c0;
    const T* rb = rstd + c0;
    double s1[kMaxBlock] = {}, s2[kMaxBlock] = {};
    for (index_t r = 0; r < n; ++r) {
      const T* xr = x + r * d + c0;
      const T* gr = dy + r * d + c0;
      if (relu) {
        const T* yr = y + r * d + c0;
#pragma omp simd
        for (index_t c = 0; c < w; ++c) {
          const T g = relu_grad(yr[c], gr[c]);
          s1[c] += double(g);
          s2[c] += double(g * ((xr[c] - mb[c]) * rb[c]));
        }
      } else {
#pragma omp simd
        for (index_t c = 0; c < w; ++c) {
          s1[c] += double(gr[c]);
          s2[c] += double(gr[c] * ((xr[c] - mb[c]) * rb[c]));
        }
      }
    }
    for (index_t c = 0; c < w; ++c) {
      if (dgamma != nullptr) dgamma[c0 + c] = accumulate ? T(double(dgamma[c0 + c]) + s2[c]) : T(s2[c]);
      if (dbeta != nullptr) dbeta[c0 + c] = accumulate ? T(double(dbeta[c0 + c]) + s1[c]) : T(s1[c]);
    }
    if (dx == nullptr) return;
    T k[kMaxBlock], m1[kMaxBlock], m2[kMaxBlock];
    for (index_t c = 0; c < w; ++c) {
      k[c] = gamma != nullptr ? gamma[c0 + c] * rb[c] : rb[c];
      const double t1 = given_sums != nullptr ? given_sums[c0 + c] : s1[c];
      const double t2 = given_sums != nullptr ? given_sums[d + c0 + c] : s2[c];
      m1[c] = training ? T(t1 * inv_n) : T(0);
      m2[c] = training ? T(t2 * inv_n) : T(0);
    }
    for (index_t r = 0; r < n; ++r) {
      const T* xr = x + r * d + c0;
      const T* gr = dy + r * d + c0;
      T* dxr = dx + r * d + c0;
      if (relu) {
        const T* yr = y + r * d + c0;
#pragma omp simd
        for (index_t c = 0; c < w; ++c) {
          const T g = relu_grad(yr[c], gr[c]);
          dxr[c] = k[c] * (g - m1[c] - (xr[c] - mb[c]) * rb[c] * m2[c]);
        }
      } else {
#pragma omp simd
        for (index_t c = 0; c < w; ++c) dxr[c] = k[c] * (gr[c] - m1[c] - (xr[c] - mb[c]) * rb[c] * m2[c]);
      }
    }
  });
}

#define PYSSL_NORM(T)                                                                               \
  template void layer_norm_forward<T>(const T*, const T*, const T*, T*, T*, T*, index_t, index_t,   \
                                      double);                                                      \
  template void layer_norm_backward<T>(const T*, const T*, const T*, const T*, const T*, T*, T*, T*, \
                                       index_t, index_t, bool);                                     \
  template void batch_norm_forward<T>(const T*, const T*, const T*, bool, T*, T*, T*, T*, T*, index_t, \
                                      index_t, bool, double, double, const double*, const double*,  \
                                      double);                                                      \
  template void batch_norm_moments<T>(const T*, double*, double*, index_t, index_t);                \
  template void batch_norm_backward<T>(const T*, const T*, const T*, const T*, const T*, bool, const T*, \
                                       T*, T*, T*, index_t, index_t, bool, bool, const double*, double);
PYSSL_INSTANTIATE_FLOATS(PYSSL_NORM)
#undef PYSSL_NORM

}  // namespace pyssl::nn
