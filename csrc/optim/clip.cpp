#include "optim/clip.hpp"

#include <omp.h>

#include <cmath>

#include "core/instantiate.hpp"

namespace pyssl::optim {
namespace {

template <class T>
void block_squares(const T* x, index_t n, double* partial, index_t b0, index_t b1) {
  for (index_t k = b0; k < b1; ++k) {
    const index_t i0 = k * kBlockSize, i1 = i0 + kBlockSize < n ? i0 + kBlockSize : n;
    partial[k] = sum_squares_fixed(x, i0, i1);
  }
}

template <class T>
void block_scale(T* x, index_t n, T c, index_t b0, index_t b1) {
  const index_t i0 = b0 * kBlockSize, i1 = b1 * kBlockSize < n ? b1 * kBlockSize : n;
#pragma omp simd
  for (index_t i = i0; i < i1; ++i) x[i] *= c;
}

inline double ordered_sum(const double* partial, index_t nb) {
  double s = 0;
  for (index_t k = 0; k < nb; ++k) s += partial[k];
  return s;
}

}  // namespace

template <class T>
double sum_squares(const T* x, index_t n, double* partial) {
  const index_t nb = num_plain_blocks(n);
  parallel_for(nb, 2 * kBlockSize, [&](index_t b0, index_t b1) { block_squares(x, n, partial, b0, b1); });
  return ordered_sum(partial, nb);
}

template <class T>
double clip_grad_norm(T* grad, index_t n, double max_norm, double* partial) {
  const index_t nb = num_plain_blocks(n);
  double norm = 0;
  auto coefficient = [&]() {
    norm = std::sqrt(ordered_sum(partial, nb));
    const double c = max_norm / (norm + 1e-6);
    return (std::isfinite(norm) && c < 1.0) ? c : 1.0;
  };
  const int nt = threads_for(n * 3);
  if (nt <= 1 || nb <= 1) {
    block_squares(grad, n, partial, 0, nb);
    const double c = coefficient();
    if (c < 1.0) block_scale(grad, n, T(c), 0, nb);
    return norm;
  }
  double c = 1.0;
#pragma omp parallel num_threads(nt)
  {
    index_t b0, b1;
    thread_share(nb, omp_get_thread_num(), omp_get_num_threads(), b0, b1);
    block_squares(grad, n, partial, b0, b1);
#pragma omp barrier
#pragma omp single
    c = coefficient();
    if (c < 1.0) block_scale(grad, n, T(c), b0, b1);
  }
  return norm;
}

#define PYSSL_CLIP(T)                                               \
  template double sum_squares<T>(const T*, index_t, double*);      \
  template double clip_grad_norm<T>(T*, index_t, double, double*);
PYSSL_INSTANTIATE_FLOATS(PYSSL_CLIP)
#undef PYSSL_CLIP

}  // namespace pyssl::optim
