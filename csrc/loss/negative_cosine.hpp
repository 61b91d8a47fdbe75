// Negative cosine similarity (SimSiam, BYOL): L = shift − scale · mean_i cos(p_i, z_i), z constant.
// SimSiam: shift 0, scale 1; BYOL: shift 2, scale 2 (2 − 2 cos).
#pragma once
#include "core/check.hpp"
#include "core/workspace.hpp"

namespace pyssl::loss {

// p, z (N, d); writes dp (N, d); partial (N,) scratch. Returns the loss.
template <class T>
double negative_cosine(const T* p, const T* z, index_t n, index_t d, T shift, T scale, T* dp, T* partial);

// Bytes of scratch negative_cosine needs: the (N,) partials.
template <class T>
std::size_t negative_cosine_workspace(index_t n) {
  return workspace_bytes([&](auto& c) { c.template take<T>(n); });
}
template <class T>
double negative_cosine(const T* p, const T* z, index_t n, index_t d, T shift, T scale, T* dp, void* workspace) {
  WorkspaceCarver c(workspace);
  return negative_cosine<T>(p, z, n, d, shift, scale, dp, c.template take<T>(n));
}

}  // namespace pyssl::loss
