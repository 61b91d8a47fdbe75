// pyssl CUDA backend: plain C++ interface (no CUDA headers), so the pybind11 binding TU compiles
// with g++ and only the .cu files see nvcc.
//
// Memory model: float32 only. Every pointer taken by the functions below is a *device* pointer
// (from DeviceBuffer or from another library through __cuda_array_interface__), row-major and
// contiguous. All work is queued on the legacy default stream (stream 0) in call order; functions
// that return host values (a loss, a copy to host) synchronise. Errors from the CUDA runtime and
// from cuBLAS become std::runtime_error (-> Python RuntimeError) naming the call, the file:line and
// the library's own message.
//
// cuBLAS is loaded at run time with dlopen (load_cublas), not linked: the package builds on a
// machine whose toolkit has no cuBLAS and imports on a machine without a GPU driver.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/check.hpp"

namespace pyssl::cuda {

// ---- runtime ------------------------------------------------------------------------------
// Number of usable devices; 0 when there is no driver or no device (never throws).
int device_count();
// Why the runtime is unusable ("" when device_count() > 0).
std::string unavailable_reason();
// Throws std::runtime_error with a clear message unless a device is usable.
void require_device();
std::string device_name(int device);
void synchronize();

// cuBLAS, loaded at run time. `path` empty: try libcublas.so.13, .so.12, .so in that order.
// Returns the path that was loaded; throws std::runtime_error listing what was tried.
std::string load_cublas(const std::string& path);
bool cublas_loaded();
// TF32 tensor-core math in GEMMs (off by default: full float32, as PyTorch's default).
void set_tf32(bool on);
bool tf32();

// ---- memory -------------------------------------------------------------------------------
class DeviceBuffer {
 public:
  explicit DeviceBuffer(std::size_t n);  // n floats, uninitialised
  ~DeviceBuffer();
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& o) noexcept : ptr_(o.ptr_), n_(o.n_) { o.ptr_ = nullptr; o.n_ = 0; }
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept;
  float* data() const { return ptr_; }
  std::size_t size() const { return n_; }

 private:
  float* ptr_ = nullptr;
  std::size_t n_ = 0;
};

void copy_to_device(float* dst, const float* host_src, std::size_t n);
void copy_to_host(float* host_dst, const float* src, std::size_t n);  // synchronises
void copy_device(float* dst, const float* src, std::size_t n);
void fill_zero(float* dst, std::size_t n);
// True for memory the current device can address (device or managed allocations).
bool is_device_pointer(const void* p);
// Wait for work queued on a foreign stream (a __cuda_array_interface__ "stream" value:
// 1 = legacy default, 2 = per-thread default, otherwise a cudaStream_t).
void stream_synchronize(std::uintptr_t stream);

// ---- matrix products (cuBLAS) ----------------------------------------------------------------
// Row-major C (m, n) = alpha op(A) op(B) + beta C, op(A) (m, k), op(B) (k, n); lda/ldb/ldc are
// row-major leading dimensions (elements between rows as stored).
void gemm(bool trans_a, bool trans_b, index_t m, index_t n, index_t k, float alpha, const float* a, index_t lda,
          const float* b, index_t ldb, float beta, float* c, index_t ldc);

// ---- layers ---------------------------------------------------------------------------------
// Same conventions as csrc/nn/dense.hpp and activation.hpp: Y = X W + b with W (I, O).
enum class Act : int { None = -1, ReLU = 0, GELU = 1 };
// y = act(x W + b) (b may be null, act None for a plain dense layer).
void dense_forward(const float* x, const float* w, const float* b, float* y, index_t n, index_t in, index_t out,
                   Act act);
// y = act(y + b) in place (b may be null): the epilogue of dense_forward.
void bias_act(float* y, const float* b, index_t n, index_t out, Act act);
// dX = dY Wᵀ (dx may be null), dW (+)= Xᵀ dY, db (+)= Σ_n dY. `scratch` holds
// column_sum_scratch(n, out) floats.
void dense_backward(const float* x, const float* w, const float* dy, float* dx, float* dw, float* db, index_t n,
                    index_t in, index_t out, bool accumulate, float* scratch);
// out[j] (+)= Σ_i a[i, j], in a fixed order (row chunks of fixed size, then chunks in order).
index_t column_sum_scratch(index_t n, index_t d);
void column_sum(const float* a, float* out, index_t n, index_t d, bool accumulate, float* scratch);
void activation_forward(Act act, const float* x, float* y, index_t n);
void activation_backward(Act act, const float* x, const float* dy, float* dx, index_t n);
// Fused ReLU backward + bias gradient: dp = dy ⊙ [y > 0] (y = relu output; dp may alias dy),
// db (+)= Σ_n dp.
void relu_backward_colsum(const float* y, const float* dy, float* dp, float* db, index_t n, index_t d,
                          bool accumulate, float* scratch);

// ---- optimizers (torch.optim semantics; state buffers start at zero) ---------------------------
// SGD: g = grad + wd p; buf = momentum buf + g; p -= lr (nesterov ? g + momentum buf : buf).
void sgd_momentum(float* p, const float* g, float* buf, index_t n, float lr, float momentum, float weight_decay,
                  bool nesterov);
// Adam (decoupled=false: g += wd p) / AdamW (decoupled=true: p *= 1 − lr wd); step t ≥ 1.
void adam(float* p, const float* g, float* m, float* v, index_t n, std::int64_t step, float lr, float beta1,
          float beta2, float eps, float weight_decay, bool decoupled);
// target = tau target + (1 − tau) online (BYOL / MoCo momentum encoder).
void ema(float* target, const float* online, index_t n, float tau);

// ---- losses --------------------------------------------------------------------------------
// NT-Xent (SimCLR), z (2N, D): rows i and i+N are the positive pair. Writes dL/dz into grad
// (2N, D) and the mean loss into the last float of scratch; returns it when want_loss
// (synchronises), NaN otherwise. Scratch: nt_xent_scratch(2N, D) floats.
index_t nt_xent_scratch(index_t rows, index_t d);
float nt_xent(const float* z, float* grad, index_t rows, index_t d, float temperature, float* scratch,
              bool want_loss);

// ---- augmentations ---------------------------------------------------------------------------
// Feature masking: keep[i, j] = (Stream(seed, stream).uniform(i D + j) >= p); out = x keep,
// mask = keep as 0/1 (mask may be null). Same draws as pyssl::rng::Stream on the CPU.
void feature_mask(const float* x, float* out, float* mask, index_t n, index_t d, float p, std::uint64_t seed,
                  std::uint64_t stream);

// ---- a device-resident SimCLR training step -----------------------------------------------------
// Layers (dims d0 → d1 → ... → dL), ReLU after the layers flagged in `relu_after`. Weights are
// kept transposed on the device, Wᵀ (d_{l+1}, d_l) as torch.nn.Linear stores them, so every
// cuBLAS call has the same shape and transposes as PyTorch's for the same layer. All parameters, gradients, optimizer state and
// activations live on the device; they are allocated once (activations at the first batch size).
struct StepConfig {
  std::vector<index_t> dims;
  std::vector<bool> relu_after;  // one per layer
  float temperature = 0.5f;
  int optimizer = 0;  // 0 SGD momentum, 1 Adam, 2 AdamW
  float lr = 1e-3f, momentum = 0.9f, beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f, weight_decay = 0.f;
  bool nesterov = false;
};

class SimCLRStep {
 public:
  explicit SimCLRStep(const StepConfig& cfg);
  ~SimCLRStep();
  SimCLRStep(const SimCLRStep&) = delete;
  SimCLRStep& operator=(const SimCLRStep&) = delete;
  int num_layers() const;
  const std::vector<index_t>& dims() const;
  // Host float32 arrays, W (d_l, d_{l+1}) row-major and b (d_{l+1}).
  void set_layer(int l, const float* w, const float* b);
  void get_layer(int l, float* w, float* b) const;
  // x1, x2: device (B, d0) each (may be the same device pointers as earlier steps). Returns the
  // loss when `want_loss` (synchronises), NaN otherwise.
  float step(const float* x1, const float* x2, index_t batch, bool want_loss);
  std::int64_t steps_done() const;

 private:
  struct Impl;
  Impl* impl_;
};

}  // namespace pyssl::cuda
