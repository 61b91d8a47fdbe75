// Device kernels: layers, activations, optimizer updates, NT-Xent, feature masking.
// Every reduction runs in a fixed order (fixed block size, fixed row chunks, tree inside a block),
// so results repeat bit for bit on the same device.
#include <cmath>

#include "cuda/common.cuh"
#include "cuda/philox_device.hpp"

namespace pyssl::cuda {

namespace {

constexpr int kThreads = 256;
constexpr index_t kRowChunk = 64;  // rows summed by one thread in a column-sum pass

// Sum over a block of kThreads threads; the result is valid in every thread.
__device__ float block_sum(float v, float* shared) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  __syncthreads();  // shared may still be read by a previous call
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  float s = 0.f;
  for (int w = 0; w < kThreads / 32; ++w) s += shared[w];
  return s;
}

__device__ float block_max(float v, float* shared) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  __syncthreads();
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  float s = shared[0];
  for (int w = 1; w < kThreads / 32; ++w) s = fmaxf(s, shared[w]);
  return s;
}

__device__ __forceinline__ float gelu_f(float x) { return 0.5f * x * (1.f + erff(x * 0.70710678118654752f)); }
__device__ __forceinline__ float gelu_grad(float x) {
  const float cdf = 0.5f * (1.f + erff(x * 0.70710678118654752f));
  const float pdf = 0.39894228040143268f * expf(-0.5f * x * x);
  return cdf + x * pdf;
}
__device__ __forceinline__ float apply_act(int act, float x) {
  return act == 0 ? fmaxf(x, 0.f) : act == 1 ? gelu_f(x) : x;
}

// y[i, j] = act(y[i, j] + b[j]): threads along columns (coalesced), blocks along rows (no
// per-element division).
__global__ void bias_act_kernel(float* y, const float* b, index_t n, index_t d, int act) {
  const index_t j = blockIdx.x * index_t(blockDim.x) + threadIdx.x;
  if (j >= d) return;
  const float bj = b ? b[j] : 0.f;
  for (index_t i = blockIdx.y; i < n; i += gridDim.y) {
    float* p = y + i * d + j;
    *p = apply_act(act, *p + bj);
  }
}

__global__ void act_forward_kernel(int act, const float* x, float* y, index_t n) {
  for (index_t i = blockIdx.x * index_t(blockDim.x) + threadIdx.x; i < n; i += index_t(gridDim.x) * blockDim.x)
    y[i] = apply_act(act, x[i]);
}

__global__ void act_backward_kernel(int act, const float* x, const float* dy, float* dx, index_t n) {
  for (index_t i = blockIdx.x * index_t(blockDim.x) + threadIdx.x; i < n; i += index_t(gridDim.x) * blockDim.x) {
    const float v = x[i];
    dx[i] = dy[i] * (act == 0 ? (v > 0.f ? 1.f : 0.f) : gelu_grad(v));
  }
}

// Pass 1 of the column sum: partial[c, j] = Σ over rows [c kRowChunk, (c+1) kRowChunk) of a[i, j]
// (optionally a ⊙ [y > 0], written back to dp).
__global__ void colsum_partial_kernel(const float* a, const float* relu_y, float* dp, float* partial, index_t n,
                                      index_t d) {
  const index_t j = blockIdx.x * index_t(blockDim.x) + threadIdx.x;
  const index_t c = blockIdx.y;
  if (j >= d) return;
  const index_t r0 = c * kRowChunk, r1 = min(n, r0 + kRowChunk);
  float s = 0.f;
  for (index_t i = r0; i < r1; ++i) {
    float v = a[i * d + j];
    if (relu_y) {
      v = relu_y[i * d + j] > 0.f ? v : 0.f;
      dp[i * d + j] = v;
    }
    s += v;
  }
  partial[c * d + j] = s;
}

__global__ void colsum_final_kernel(const float* partial, float* out, index_t chunks, index_t d, bool accumulate) {
  const index_t j = blockIdx.x * index_t(blockDim.x) + threadIdx.x;
  if (j >= d) return;
  float s = 0.f;
  for (index_t c = 0; c < chunks; ++c) s += partial[c * d + j];
  out[j] = accumulate ? out[j] + s : s;
}

void colsum_impl(const float* a, const float* relu_y, float* dp, float* out, index_t n, index_t d, bool accumulate,
                 float* scratch) {
  if (d == 0) return;
  const index_t chunks = n == 0 ? 1 : (n + kRowChunk - 1) / kRowChunk;
  if (chunks > 65535) throw std::invalid_argument("pyssl.cuda: too many rows for the column sum");
  dim3 grid(blocks_for(d, kThreads), unsigned(chunks));
  if (n > 0) {
    colsum_partial_kernel<<<grid, kThreads>>>(a, relu_y, dp, scratch, n, d);
    PYSSL_CUDA_LAUNCHED("colsum_partial");
  } else {
    fill_zero(scratch, std::size_t(d));
  }
  colsum_final_kernel<<<blocks_for(d, kThreads), kThreads>>>(scratch, out, chunks, d, accumulate);
  PYSSL_CUDA_LAUNCHED("colsum_final");
}

// ---- optimizers ----
__global__ void sgd_kernel(float* p, const float* g, float* buf, index_t n, float lr, float momentum, float wd,
                           bool nesterov) {
  for (index_t i = blockIdx.x * index_t(blockDim.x) + threadIdx.x; i < n; i += index_t(gridDim.x) * blockDim.x) {
    float d = g[i];
    const float pi = p[i];
    if (wd != 0.f) d += wd * pi;
    float b = d;
    if (momentum != 0.f) {
      b = momentum * buf[i] + d;
      buf[i] = b;
      d = nesterov ? d + momentum * b : b;
    }
    p[i] = pi - lr * d;
  }
}

__global__ void adam_kernel(float* p, const float* g, float* m, float* v, index_t n, float lr, float beta1, float beta2,
                            float eps, float wd, bool decoupled, float step_size, float bc2_sqrt) {
  for (index_t i = blockIdx.x * index_t(blockDim.x) + threadIdx.x; i < n; i += index_t(gridDim.x) * blockDim.x) {
    float pi = p[i], gi = g[i];
    if (wd != 0.f) {
      if (decoupled) pi *= 1.f - lr * wd;
      else gi += wd * pi;
    }
    const float mi = m[i] + (1.f - beta1) * (gi - m[i]);
    const float vi = beta2 * v[i] + (1.f - beta2) * gi * gi;
    m[i] = mi;
    v[i] = vi;
    const float denom = sqrtf(vi) / bc2_sqrt + eps;
    p[i] = pi - step_size * (mi / denom);
  }
}

__global__ void ema_kernel(float* t, const float* o, index_t n, float tau) {
  for (index_t i = blockIdx.x * index_t(blockDim.x) + threadIdx.x; i < n; i += index_t(gridDim.x) * blockDim.x)
    t[i] = tau * t[i] + (1.f - tau) * o[i];
}

// ---- NT-Xent ----
// zn = z / max(‖z‖, 1e-12); inv[i] = 1/‖z_i‖, negative when the norm was clamped.
__global__ void normalize_rows_kernel(const float* z, float* zn, float* inv, index_t d) {
  __shared__ float sh[kThreads / 32];
  const index_t r = blockIdx.x;
  const float* zr = z + r * d;
  float s = 0.f;
  for (index_t j = threadIdx.x; j < d; j += kThreads) s += zr[j] * zr[j];
  s = block_sum(s, sh);
  const float norm = sqrtf(s);
  const bool clamped = norm < 1e-12f;
  const float iv = 1.f / (clamped ? 1e-12f : norm);
  for (index_t j = threadIdx.x; j < d; j += kThreads) zn[r * d + j] = zr[j] * iv;
  if (threadIdx.x == 0) inv[r] = clamped ? -iv : iv;
}

// Row i of S = zn znᵀ / τ becomes G_i = (softmax_{k≠i}(S_i) − onehot(pos)) / R with G_ii = 0;
// rowloss[i] = logsumexp_{k≠i} S_ik − S_i,pos.
__global__ void nt_xent_rows_kernel(float* s, float* rowloss, index_t rows) {
  __shared__ float sh[kThreads / 32];
  const index_t i = blockIdx.x, half = rows / 2;
  const index_t pos = i < half ? i + half : i - half;
  float* si = s + i * rows;
  float mx = -INFINITY;
  for (index_t k = threadIdx.x; k < rows; k += kThreads)
    if (k != i) mx = fmaxf(mx, si[k]);
  mx = block_max(mx, sh);
  float se = 0.f;
  for (index_t k = threadIdx.x; k < rows; k += kThreads)
    if (k != i) se += expf(si[k] - mx);
  se = block_sum(se, sh);
  const float lse = mx + logf(se);
  const float spos = si[pos];
  __syncthreads();  // every thread has read si[pos] before it is overwritten
  const float scale = 1.f / float(rows);
  for (index_t k = threadIdx.x; k < rows; k += kThreads) {
    float g = k == i ? 0.f : expf(si[k] - lse);
    if (k == pos) g -= 1.f;
    si[k] = g * scale;
  }
  if (threadIdx.x == 0) rowloss[i] = lse - spos;
}

// dz_i = (dzn_i − zn_i (zn_i · dzn_i)) / ‖z_i‖ (dzn_i / 1e-12 where the norm was clamped).
__global__ void nt_xent_project_kernel(const float* zn, const float* dzn, const float* inv, float* grad, index_t d) {
  __shared__ float sh[kThreads / 32];
  const index_t r = blockIdx.x;
  float dot = 0.f;
  for (index_t j = threadIdx.x; j < d; j += kThreads) dot += zn[r * d + j] * dzn[r * d + j];
  dot = block_sum(dot, sh);
  const float iv = inv[r];
  if (iv < 0.f) dot = 0.f;
  const float a = fabsf(iv);
  for (index_t j = threadIdx.x; j < d; j += kThreads) grad[r * d + j] = (dzn[r * d + j] - zn[r * d + j] * dot) * a;
}

__global__ void mean_kernel(const float* v, index_t n, float* out) {
  __shared__ float sh[kThreads / 32];
  float s = 0.f;
  for (index_t i = threadIdx.x; i < n; i += kThreads) s += v[i];
  s = block_sum(s, sh);
  if (threadIdx.x == 0) *out = s / float(n);
}

// ---- feature masking: one thread per Philox block (4 consecutive elements) ----
__global__ void feature_mask_kernel(const float* x, float* out, float* mask, index_t total, float p,
                                    std::uint64_t seed, std::uint64_t stream) {
  const rng::Stream st{seed, stream};
  const index_t nblocks = (total + 3) / 4;
  for (index_t b = blockIdx.x * index_t(blockDim.x) + threadIdx.x; b < nblocks; b += index_t(gridDim.x) * blockDim.x) {
    const rng::Block r = st.block(std::uint64_t(b));
#pragma unroll
    for (int w = 0; w < 4; ++w) {
      const index_t i = b * 4 + w;
      if (i < total) {
        const bool keep = rng::to_unit_float(r.v[w]) >= p;
        out[i] = keep ? x[i] : 0.f;
        if (mask) mask[i] = keep ? 1.f : 0.f;
      }
    }
  }
}

}  // namespace

// ---- public entry points ----

void dense_forward(const float* x, const float* w, const float* b, float* y, index_t n, index_t in, index_t out,
                   Act act) {
  gemm(false, false, n, out, in, 1.f, x, in, w, out, 0.f, y, out);
  bias_act(y, b, n, out, act);
}

void bias_act(float* y, const float* b, index_t n, index_t out, Act act) {
  if (n * out == 0 || (!b && act == Act::None)) return;
  const int threads = out >= kThreads ? kThreads : int((out + 31) / 32 * 32);
  const dim3 grid(blocks_for(out, threads), unsigned(n < 65535 ? n : 65535));
  bias_act_kernel<<<grid, threads>>>(y, b, n, out, int(act));
  PYSSL_CUDA_LAUNCHED("bias_act");
}

void dense_backward(const float* x, const float* w, const float* dy, float* dx, float* dw, float* db, index_t n,
                    index_t in, index_t out, bool accumulate, float* scratch) {
  const float beta = accumulate ? 1.f : 0.f;
  gemm(true, false, in, out, n, 1.f, x, in, dy, out, beta, dw, out);  // dW = Xᵀ dY
  if (db) colsum_impl(dy, nullptr, nullptr, db, n, out, accumulate, scratch);
  if (dx) gemm(false, true, n, in, out, 1.f, dy, out, w, out, 0.f, dx, in);  // dX = dY Wᵀ
}

index_t column_sum_scratch(index_t n, index_t d) { return (n == 0 ? 1 : (n + kRowChunk - 1) / kRowChunk) * d; }

void column_sum(const float* a, float* out, index_t n, index_t d, bool accumulate, float* scratch) {
  colsum_impl(a, nullptr, nullptr, out, n, d, accumulate, scratch);
}

void relu_backward_colsum(const float* y, const float* dy, float* dp, float* db, index_t n, index_t d,
                          bool accumulate, float* scratch) {
  colsum_impl(dy, y, dp, db, n, d, accumulate, scratch);
}

void activation_forward(Act act, const float* x, float* y, index_t n) {
  if (n == 0) return;
  act_forward_kernel<<<blocks_for(n, kThreads), kThreads>>>(int(act), x, y, n);
  PYSSL_CUDA_LAUNCHED("activation_forward");
}

void activation_backward(Act act, const float* x, const float* dy, float* dx, index_t n) {
  if (n == 0) return;
  act_backward_kernel<<<blocks_for(n, kThreads), kThreads>>>(int(act), x, dy, dx, n);
  PYSSL_CUDA_LAUNCHED("activation_backward");
}

void sgd_momentum(float* p, const float* g, float* buf, index_t n, float lr, float momentum, float weight_decay,
                  bool nesterov) {
  if (n == 0) return;
  sgd_kernel<<<blocks_for(n, kThreads), kThreads>>>(p, g, buf, n, lr, momentum, weight_decay, nesterov);
  PYSSL_CUDA_LAUNCHED("sgd_momentum");
}

void adam(float* p, const float* g, float* m, float* v, index_t n, std::int64_t step, float lr, float beta1,
          float beta2, float eps, float weight_decay, bool decoupled) {
  if (n == 0) return;
  // As torch.optim.Adam (foreach=False): step_size = lr / (1 − β1ᵗ), denom = √v / √(1 − β2ᵗ) + ε.
  const double bc1 = 1.0 - std::pow(double(beta1), double(step));
  const double bc2 = 1.0 - std::pow(double(beta2), double(step));
  adam_kernel<<<blocks_for(n, kThreads), kThreads>>>(p, g, m, v, n, lr, beta1, beta2, eps, weight_decay, decoupled,
                                                     float(lr / bc1), float(std::sqrt(bc2)));
  PYSSL_CUDA_LAUNCHED("adam");
}

void ema(float* target, const float* online, index_t n, float tau) {
  if (n == 0) return;
  ema_kernel<<<blocks_for(n, kThreads), kThreads>>>(target, online, n, tau);
  PYSSL_CUDA_LAUNCHED("ema");
}

index_t nt_xent_scratch(index_t rows, index_t d) { return 2 * rows * d + rows * rows + 2 * rows + 1; }

float nt_xent(const float* z, float* grad, index_t rows, index_t d, float temperature, float* scratch,
              bool want_loss) {
  float* zn = scratch;
  float* dzn = zn + rows * d;
  float* s = dzn + rows * d;
  float* inv = s + rows * rows;
  float* rowloss = inv + rows;
  float* loss = rowloss + rows;
  const float it = 1.f / temperature;
  normalize_rows_kernel<<<unsigned(rows), kThreads>>>(z, zn, inv, d);
  PYSSL_CUDA_LAUNCHED("nt_xent normalize");
  gemm(false, true, rows, rows, d, it, zn, d, zn, d, 0.f, s, rows);  // S = zn znᵀ / τ
  nt_xent_rows_kernel<<<unsigned(rows), kThreads>>>(s, rowloss, rows);
  PYSSL_CUDA_LAUNCHED("nt_xent rows");
  gemm(false, false, rows, d, rows, it, s, rows, zn, d, 0.f, dzn, d);  // dzn = (G + Gᵀ) zn / τ
  gemm(true, false, rows, d, rows, it, s, rows, zn, d, 1.f, dzn, d);
  nt_xent_project_kernel<<<unsigned(rows), kThreads>>>(zn, dzn, inv, grad, d);
  PYSSL_CUDA_LAUNCHED("nt_xent project");
  mean_kernel<<<1, kThreads>>>(rowloss, rows, loss);
  PYSSL_CUDA_LAUNCHED("nt_xent mean");
  if (!want_loss) return std::nanf("");
  float host = 0.f;
  copy_to_host(&host, loss, 1);
  return host;
}

void feature_mask(const float* x, float* out, float* mask, index_t n, index_t d, float p, std::uint64_t seed,
                  std::uint64_t stream) {
  const index_t total = n * d;
  if (total == 0) return;
  feature_mask_kernel<<<blocks_for((total + 3) / 4, kThreads), kThreads>>>(x, out, mask, total, p, seed, stream);
  PYSSL_CUDA_LAUNCHED("feature_mask");
}

}  // namespace pyssl::cuda
