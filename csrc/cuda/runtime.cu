// Device runtime: availability, memory, copies, and cuBLAS loaded at run time (dlopen).
#include <dlfcn.h>

#include <cstdlib>
#include <mutex>

#include "cuda/common.cuh"

namespace pyssl::cuda {

// ---- availability --------------------------------------------------------------------------

int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky error so later calls report their own
    return 0;
  }
  return n;
}

std::string unavailable_reason() {
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    cudaGetLastError();
    // Without a GPU the runtime reports cudaErrorInsufficientDriver ("CUDA driver version is
    // insufficient for CUDA runtime version"), which reads as an outdated driver: say what it means.
    if (e == cudaErrorInsufficientDriver || e == cudaErrorNoDevice)
      return std::string("no CUDA device/driver found (") + cudaGetErrorName(e) + ")";
    return std::string(cudaGetErrorName(e)) + ": " + cudaGetErrorString(e);
  }
  return n > 0 ? std::string() : std::string("no CUDA device/driver found (no device)");
}

void require_device() {
  static std::once_flag ok_flag;
  static bool ok = false;
  if (ok) return;
  const std::string why = unavailable_reason();
  if (!why.empty())
    throw std::runtime_error("pyssl.cuda: no usable CUDA device (" + why +
                             "); check pyssl.cuda.is_available() first, or use the CPU kernels");
  std::call_once(ok_flag, [] { ok = true; });
}

std::string device_name(int device) {
  require_device();
  cudaDeviceProp prop;
  PYSSL_CUDA_CHECK(cudaGetDeviceProperties(&prop, device));
  return prop.name;
}

void synchronize() { PYSSL_CUDA_CHECK(cudaDeviceSynchronize()); }

// ---- memory ----------------------------------------------------------------------------------

DeviceBuffer::DeviceBuffer(std::size_t n) : n_(n) {
  if (n == 0) return;
  require_device();
  PYSSL_CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&ptr_), n * sizeof(float)));
}

DeviceBuffer::~DeviceBuffer() {
  if (ptr_) cudaFree(ptr_);  // never throw from a destructor
}

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& o) noexcept {
  if (this != &o) {
    if (ptr_) cudaFree(ptr_);
    ptr_ = o.ptr_;
    n_ = o.n_;
    o.ptr_ = nullptr;
    o.n_ = 0;
  }
  return *this;
}

void copy_to_device(float* dst, const float* src, std::size_t n) {
  if (n) PYSSL_CUDA_CHECK(cudaMemcpy(dst, src, n * sizeof(float), cudaMemcpyHostToDevice));
}
void copy_to_host(float* dst, const float* src, std::size_t n) {
  if (n) PYSSL_CUDA_CHECK(cudaMemcpy(dst, src, n * sizeof(float), cudaMemcpyDeviceToHost));
}
void copy_device(float* dst, const float* src, std::size_t n) {
  if (n) PYSSL_CUDA_CHECK(cudaMemcpyAsync(dst, src, n * sizeof(float), cudaMemcpyDeviceToDevice, 0));
}
void fill_zero(float* dst, std::size_t n) {
  if (n) PYSSL_CUDA_CHECK(cudaMemsetAsync(dst, 0, n * sizeof(float), 0));
}
bool is_device_pointer(const void* p) {
  cudaPointerAttributes attr;
  if (cudaPointerGetAttributes(&attr, p) != cudaSuccess) {
    cudaGetLastError();
    return false;
  }
  return attr.type == cudaMemoryTypeDevice || attr.type == cudaMemoryTypeManaged;
}

void stream_synchronize(std::uintptr_t stream) {
  cudaStream_t s = stream == 1 ? cudaStreamLegacy
                 : stream == 2 ? cudaStreamPerThread
                               : reinterpret_cast<cudaStream_t>(stream);
  PYSSL_CUDA_CHECK(cudaStreamSynchronize(s));
}

// ---- cuBLAS through dlopen ----------------------------------------------------------------------
// Only the stable C entry points used here are declared (cublas_api.h, cuBLAS 12 and 13 agree);
// enums are passed as int: CUBLAS_OP_N = 0, CUBLAS_OP_T = 1, CUBLAS_DEFAULT_MATH = 0,
// CUBLAS_TF32_TENSOR_OP_MATH = 3, CUBLAS_STATUS_SUCCESS = 0.
namespace {
using cublasHandle_t = void*;
using create_fn = int (*)(cublasHandle_t*);
using set_stream_fn = int (*)(cublasHandle_t, cudaStream_t);
using set_math_fn = int (*)(cublasHandle_t, int);
using sgemm_fn = int (*)(cublasHandle_t, int, int, int, int, int, const float*, const float*, int, const float*,
                         int, const float*, float*, int);
using status_string_fn = const char* (*)(int);

struct Cublas {
  std::mutex mu;
  void* lib = nullptr;
  std::string path;
  create_fn create = nullptr;
  set_stream_fn set_stream = nullptr;
  set_math_fn set_math = nullptr;
  sgemm_fn sgemm = nullptr;
  status_string_fn status_string = nullptr;
  cublasHandle_t handle = nullptr;  // one handle for the process, on the legacy default stream
  bool tf32 = false;
};

Cublas& cublas() {
  static Cublas* c = new Cublas();  // leaked on purpose: no teardown order issues at exit
  return *c;
}

[[noreturn]] void cublas_fail(int status, const char* what, const char* file, int line) {
  Cublas& c = cublas();
  std::ostringstream os;
  os << "cuBLAS error " << status;
  if (c.status_string) os << " (" << c.status_string(status) << ")";
  os << " in " << what << " at " << file << ":" << line;
  throw std::runtime_error(os.str());
}

#define PYSSL_CUBLAS_CHECK(expr)                                                   \
  do {                                                                             \
    const int pyssl_s_ = (expr);                                                   \
    if (pyssl_s_ != 0) cublas_fail(pyssl_s_, #expr, __FILE__, __LINE__);           \
  } while (0)

void* sym(void* lib, const char* name, const std::string& path) {
  void* f = dlsym(lib, name);
  if (!f) throw std::runtime_error("pyssl.cuda: " + path + " has no symbol " + name);
  return f;
}
}  // namespace

std::string load_cublas(const std::string& path) {
  Cublas& c = cublas();
  std::lock_guard<std::mutex> lock(c.mu);
  if (c.lib) return c.path;
  std::vector<std::string> tries;
  if (!path.empty()) tries.push_back(path);
  else tries = {"libcublas.so.13", "libcublas.so.12", "libcublas.so"};
  std::string errors;
  for (const auto& p : tries) {
    void* lib = dlopen(p.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
      const char* e = dlerror();
      errors += "\n  " + p + ": " + (e ? e : "not found");
      continue;
    }
    c.create = reinterpret_cast<create_fn>(sym(lib, "cublasCreate_v2", p));
    c.set_stream = reinterpret_cast<set_stream_fn>(sym(lib, "cublasSetStream_v2", p));
    c.set_math = reinterpret_cast<set_math_fn>(sym(lib, "cublasSetMathMode", p));
    c.sgemm = reinterpret_cast<sgemm_fn>(sym(lib, "cublasSgemm_v2", p));
    c.status_string = reinterpret_cast<status_string_fn>(dlsym(lib, "cublasGetStatusString"));
    c.lib = lib;
    c.path = p;
    return p;
  }
  throw std::runtime_error("pyssl.cuda: could not load cuBLAS; tried:" + errors +
                           "\nInstall the nvidia-cublas wheel (or a CUDA toolkit) or set PYSSL_CUBLAS to the path "
                           "of libcublas.so");
}

bool cublas_loaded() { return cublas().lib != nullptr; }

namespace {
cublasHandle_t handle() {
  Cublas& c = cublas();
  if (!c.lib) load_cublas("");
  if (!c.handle) {
    require_device();
    std::lock_guard<std::mutex> lock(c.mu);
    if (!c.handle) {
      cublasHandle_t h = nullptr;
      PYSSL_CUBLAS_CHECK(c.create(&h));
      PYSSL_CUBLAS_CHECK(c.set_stream(h, 0));
      PYSSL_CUBLAS_CHECK(c.set_math(h, c.tf32 ? 3 : 0));
      c.handle = h;
    }
  }
  return c.handle;
}
}  // namespace

void set_tf32(bool on) {
  Cublas& c = cublas();
  c.tf32 = on;
  if (c.handle) PYSSL_CUBLAS_CHECK(c.set_math(c.handle, on ? 3 : 0));
}
bool tf32() { return cublas().tf32; }

// Row-major C = op(A) op(B) is column-major Cᵀ = op(B)ᵀ op(A)ᵀ: swap the operands and sizes.
void gemm(bool trans_a, bool trans_b, index_t m, index_t n, index_t k, float alpha, const float* a, index_t lda,
          const float* b, index_t ldb, float beta, float* c, index_t ldc) {
  if (m == 0 || n == 0) return;
  const index_t lim = 0x7fffffff;
  if (m > lim || n > lim || k > lim || lda > lim || ldb > lim || ldc > lim)
    throw std::invalid_argument("pyssl.cuda.gemm: a dimension exceeds 2^31 - 1");
  cublasHandle_t h = handle();
  PYSSL_CUBLAS_CHECK(cublas().sgemm(h, trans_b ? 1 : 0, trans_a ? 1 : 0, int(n), int(m), int(k), &alpha, b,
                                    int(ldb), a, int(lda), &beta, c, int(ldc)));
}

}  // namespace pyssl::cuda
