#include "loss/mse.hpp"

#include "core/instantiate.hpp"
#include "parallel/parallel.hpp"

namespace pyssl::loss {

template <class T>
double mse(const T* pred, const T* target, T* dpred, double* partial, index_t m) {
  PYSSL_CHECK(m >= 1, "mse: need at least one element, got ", m);
  const index_t chunks = mse_chunks(m);
  const T scale = T(2.0 / double(m));
  parallel_for(chunks, 3 * kMseChunk, [&, scale](index_t c0, index_t c1) {
    for (index_t c = c0; c < c1; ++c) {
      const index_t i0 = c * kMseChunk, i1 = i0 + kMseChunk < m ? i0 + kMseChunk : m;
      double s = 0;
      if (dpred != nullptr) {
#pragma omp simd reduction(+ : s)
        for (index_t i = i0; i < i1; ++i) {
          const T diff = pred[i] - target[i];
          dpred[i] = scale * diff;
          s += double(diff) * double(diff);
        }
      } else {
#pragma omp simd reduction(+ : s)
        for (index_t i = i0; i < i1; ++i) {
          const double diff = double(pred[i] - target[i]);
          s += diff * diff;
        }
      }
      partial[c] = s;
    }
  });
  double total = 0;
  for (index_t c = 0; c < chunks; ++c) total += partial[c];
  return total / double(m);
}

#define PYSSL_MSE(T) template double mse<T>(const T*, const T*, T*, double*, index_t);
PYSSL_INSTANTIATE_FLOATS(PYSSL_MSE)
#undef PYSSL_MSE

}  // namespace pyssl::loss
