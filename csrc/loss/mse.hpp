// Mean squared error, fused with its gradient:
//   L = (1/M) Σ_i (p_i − t_i)²,   dL/dp_i = 2 (p_i − t_i) / M,   M = number of elements.
// (PyTorch's MSELoss(reduction="mean") convention.)
// Partial sums are taken over fixed chunks of kMseChunk elements (independent of the thread
// count) into `partial` (mse_chunks(M) doubles), then summed in order: bit-identical for any
// thread count. `dpred` may be null (loss only). Returns L.
#pragma once
#include "core/check.hpp"
#include "core/workspace.hpp"

namespace pyssl::loss {

constexpr index_t kMseChunk = 4096;
inline index_t mse_chunks(index_t m) { return (m + kMseChunk - 1) / kMseChunk; }

template <class T>
double mse(const T* pred, const T* target, T* dpred, double* partial, index_t m);

// Bytes of scratch mse needs: one double per chunk.
inline std::size_t mse_workspace(index_t m) {
  return workspace_bytes([&](auto& c) { c.template take<double>(mse_chunks(m)); });
}
template <class T>
double mse(const T* pred, const T* target, T* dpred, void* workspace, index_t m) {
  WorkspaceCarver c(workspace);
  return mse<T>(pred, target, dpred, c.template take<double>(mse_chunks(m)), m);
}

}  // namespace pyssl::loss
