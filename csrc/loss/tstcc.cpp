#include "loss/tstcc.hpp"

#include "core/instantiate.hpp"
#include "loss/rows.hpp"

namespace pyssl::loss {

template <class T>
double tstcc_temporal(const T* z, const T* p, index_t k, index_t b, index_t d, T* dz, T* dp, T* s,
                      double* partial) {
  PYSSL_CHECK(k >= 1 && b >= 1 && d >= 1, "tstcc_temporal: z and p must be non-empty (K, B, D) arrays, got (", k,
              ", ", b, ", ", d, ")");
  using blas::Trans;
  const index_t bd = b * d, bb = b * b;
  for (index_t q = 0; q < k; ++q)  // S_k = Z_k P_kᵀ
    blas::gemm<T>(Trans::No, Trans::Yes, b, b, d, T(1), z + q * bd, d, p + q * bd, d, T(0), s + q * bb, b);
  const T scale = T(1.0 / (double(k) * double(b)));
  parallel_for(k * b, 8 * b, [&](index_t r0, index_t r1) {
    for (index_t r = r0; r < r1; ++r) {
      T* row = s + r * b;
      const index_t i = r % b;
      const T positive = row[i];
      T m;
      const T log_sum = softmax_row_parts(row, row, b, T(1), m);  // row ← softmax(row)
      partial[r] = double(log_sum) + double(m - positive);        // lse − s_ii, without cancellation
      row[i] -= T(1);
#pragma omp simd
      for (index_t j = 0; j < b; ++j) row[j] *= scale;  // G = (softmax − I)/(K·B)
    }
  });
  for (index_t q = 0; q < k; ++q) {
    blas::gemm<T>(Trans::No, Trans::No, b, d, b, T(1), s + q * bb, b, p + q * bd, d, T(0), dz + q * bd, d);
    blas::gemm<T>(Trans::Yes, Trans::No, b, d, b, T(1), s + q * bb, b, z + q * bd, d, T(0), dp + q * bd, d);
  }
  return sum_serial(partial, k * b) / (double(k) * double(b));
}

#define PYSSL_TSTCC(T) \
  template double tstcc_temporal<T>(const T*, const T*, index_t, index_t, index_t, T*, T*, T*, double*);
PYSSL_INSTANTIATE_FLOATS(PYSSL_TSTCC)
#undef PYSSL_TSTCC

}  // namespace pyssl::loss
