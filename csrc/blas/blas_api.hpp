// Thin, typed access to the linked BLAS (scipy-openblas32: symbols carry a `scipy_` prefix).
#pragma once
#include <cstdint>

namespace pyssl::blas {

enum class Trans { No, Yes };

// C = alpha * op(A) @ op(B) + beta * C, row-major. op(A) is (m, k), op(B) is (k, n), C is (m, n).
// lda/ldb/ldc are row strides in elements. Dimensions must fit in a 32-bit int (LP64 BLAS).
template <class T>
void gemm(Trans ta, Trans tb, std::int64_t m, std::int64_t n, std::int64_t k, T alpha, const T* a,
          std::int64_t lda, const T* b, std::int64_t ldb, T beta, T* c, std::int64_t ldc);

void set_threads(int n);
int get_threads();
const char* config();
const char* corename();

}  // namespace pyssl::blas
