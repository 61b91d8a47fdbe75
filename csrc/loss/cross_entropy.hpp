// Cross-entropy with integer labels and optional label smoothing, fused with log-softmax and the
// gradient (one kernel, one pass over each row after its max).
//
//   logits (N, K), labels (N,) int64 in [0, K), ε = label_smoothing in [0, 1].
//   log p_nk = x_nk − log Σ_j exp(x_nj)                        (max-shifted)
//   target t_nk = (1 − ε) [k = y_n] + ε / K                     (Szegedy et al. 2016, §7, eq. for q′;
//                                                                PyTorch's convention: the ε/K mass
//                                                                also goes to the true class)
//   L = (1/N) Σ_n Σ_k −t_nk log p_nk
//   dL/dx_nk = (p_nk − t_nk) / N
//
// Labels are checked (serially, before any work) and a bad one raises naming its index and value.
// `row_loss` is an (N) workspace; the per-row losses are summed in row order, so the loss is
// bit-identical for any thread count. `dlogits` may be null (loss only). Returns L.
#pragma once
#include <cstdint>

#include "core/check.hpp"
#include "core/workspace.hpp"

namespace pyssl::loss {

template <class T>
double cross_entropy(const T* logits, const std::int64_t* labels, T* dlogits, double* row_loss, index_t n,
                     index_t k, double label_smoothing);

// Bytes of scratch cross_entropy needs: the (N,) per-row losses.
inline std::size_t cross_entropy_workspace(index_t n) {
  return workspace_bytes([&](auto& c) { c.template take<double>(n); });
}
template <class T>
double cross_entropy(const T* logits, const std::int64_t* labels, T* dlogits, void* workspace, index_t n, index_t k,
                     double label_smoothing) {
  WorkspaceCarver c(workspace);
  return cross_entropy<T>(logits, labels, dlogits, c.template take<double>(n), n, k, label_smoothing);
}

}  // namespace pyssl::loss
