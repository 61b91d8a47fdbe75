// Shared by the .cu files: error checking and launch helpers. nvcc only.
#pragma once
#include <cuda_runtime.h>

#include <sstream>
#include <stdexcept>
#include <string>

#include "cuda/api.hpp"

namespace pyssl::cuda {

[[noreturn]] inline void cuda_fail(cudaError_t e, const char* what, const char* file, int line) {
  std::ostringstream os;
  os << "CUDA error " << int(e) << " (" << cudaGetErrorName(e) << ": " << cudaGetErrorString(e) << ") in " << what
     << " at " << file << ":" << line;
  throw std::runtime_error(os.str());
}

// Turns a failing CUDA runtime call into std::runtime_error (Python RuntimeError).
#define PYSSL_CUDA_CHECK(expr)                                                     \
  do {                                                                             \
    const cudaError_t pyssl_e_ = (expr);                                           \
    if (pyssl_e_ != cudaSuccess) ::pyssl::cuda::cuda_fail(pyssl_e_, #expr, __FILE__, __LINE__); \
  } while (0)

// After a kernel launch: catches bad launch configurations at once (execution errors surface at
// the next synchronising call).
#define PYSSL_CUDA_LAUNCHED(name) PYSSL_CUDA_CHECK(cudaGetLastError())

inline unsigned blocks_for(index_t n, int threads, unsigned cap = 65535u * 8u) {
  const index_t b = (n + threads - 1) / threads;
  return unsigned(b < 1 ? 1 : (b > index_t(cap) ? index_t(cap) : b));
}

}  // namespace pyssl::cuda
