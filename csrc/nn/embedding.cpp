#include "nn/embedding.hpp"

#include <algorithm>
#include <cstring>

#include "core/instantiate.hpp"
#include "parallel/parallel.hpp"

namespace pyssl::nn {

void embedding_check_indices(const std::int64_t* idx, index_t n_idx, index_t num) {
  for (index_t p = 0; p < n_idx; ++p) {
    if (idx[p] < 0 || idx[p] >= num)
      fail("indices must lie in [0, ", num, "), got ", idx[p], " at flat position ", p);
  }
}

template <class T>
void embedding_forward(const T* weight, const std::int64_t* idx, T* out, index_t n_idx, index_t num, index_t dim) {
  embedding_check_indices(idx, n_idx, num);
  parallel_for(n_idx, dim, [&](index_t b, index_t e) {
    for (index_t p = b; p < e; ++p) std::memcpy(out + p * dim, weight + idx[p] * dim, sizeof(T) * size_t(dim));
  });
}

template <class T>
void embedding_backward(const std::int64_t* idx, const T* grad, T* dweight, index_t n_idx, index_t num,
                        index_t dim, bool accumulate, void* workspace) {
  embedding_check_indices(idx, n_idx, num);
  WorkspaceCarver carver(workspace);
  const EmbeddingBackwardWork w = embedding_backward_layout(carver, n_idx, num);
  // Stable counting sort of the positions by table row: positions of row r are
  // order[start[r] .. start[r + 1]), in increasing order.
  index_t* start = w.start;
  index_t* order = w.order;
  std::fill(start, start + num + 1, index_t(0));
  for (index_t p = 0; p < n_idx; ++p) ++start[size_t(idx[p]) + 1];
  for (index_t r = 0; r < num; ++r) start[size_t(r) + 1] += start[size_t(r)];
  std::copy(start, start + num, w.fill);
  for (index_t p = 0; p < n_idx; ++p) order[size_t(w.fill[size_t(idx[p])]++)] = p;
  const index_t avg = num > 0 ? (n_idx + num - 1) / num : 0;
  parallel_for(num, dim * (avg + 1), [&](index_t r0, index_t r1) {
    for (index_t r = r0; r < r1; ++r) {
      T* d = dweight + r * dim;
      if (!accumulate) std::fill(d, d + dim, T(0));
      for (index_t q = start[size_t(r)]; q < start[size_t(r) + 1]; ++q) {
        const T* g = grad + order[size_t(q)] * dim;
#pragma omp simd
        for (index_t j = 0; j < dim; ++j) d[j] += g[j];
      }
    }
  });
}

#define PYSSL_EMBEDDING(T)                                                                              \
  template void embedding_forward<T>(const T*, const std::int64_t*, T*, index_t, index_t, index_t);    \
  template void embedding_backward<T>(const std::int64_t*, const T*, T*, index_t, index_t, index_t, bool, void*);
PYSSL_INSTANTIATE_FLOATS(PYSSL_EMBEDDING)
#undef PYSSL_EMBEDDING

}  // namespace pyssl::nn
