#include <climits>

#include "blas/blas_api.hpp"
#include "core/check.hpp"

#ifdef PYSSL_BLAS_PREFIX_SCIPY
#define PYSSL_CBLAS(name) scipy_cblas_##name
#define PYSSL_OPENBLAS(name) scipy_openblas_##name
#else
#define PYSSL_CBLAS(name) cblas_##name
#define PYSSL_OPENBLAS(name) openblas_##name
#endif

#include <cblas.h>

namespace pyssl::blas {
namespace {
CBLAS_TRANSPOSE to_cblas(Trans t) { return t == Trans::Yes ? CblasTrans : CblasNoTrans; }

void check_int(std::int64_t v, const char* what) {
  PYSSL_CHECK(v >= 0 && v <= INT_MAX, "gemm: ", what, " = ", v,
              " does not fit the 32-bit BLAS index (max ", INT_MAX, ")");
}

void check_dims(std::int64_t m, std::int64_t n, std::int64_t k, std::int64_t lda, std::int64_t ldb,
                std::int64_t ldc) {
  check_int(m, "m");
  check_int(n, "n");
  check_int(k, "k");
  check_int(lda, "lda");
  check_int(ldb, "ldb");
  check_int(ldc, "ldc");
}
}  // namespace

template <>
void gemm<float>(Trans ta, Trans tb, std::int64_t m, std::int64_t n, std::int64_t k, float alpha,
                 const float* a, std::int64_t lda, const float* b, std::int64_t ldb, float beta,
                 float* c, std::int64_t ldc) {
  check_dims(m, n, k, lda, ldb, ldc);
  if (m == 0 || n == 0) return;
  PYSSL_CBLAS(sgemm)(CblasRowMajor, to_cblas(ta), to_cblas(tb), int(m), int(n), int(k), alpha, a,
                     int(lda), b, int(ldb), beta, c, int(ldc));
}

template <>
void gemm<double>(Trans ta, Trans tb, std::int64_t m, std::int64_t n, std::int64_t k, double alpha,
                  const double* a, std::int64_t lda, const double* b, std::int64_t ldb, double beta,
                  double* c, std::int64_t ldc) {
  check_dims(m, n, k, lda, ldb, ldc);
  if (m == 0 || n == 0) return;
  PYSSL_CBLAS(dgemm)(CblasRowMajor, to_cblas(ta), to_cblas(tb), int(m), int(n), int(k), alpha, a,
                     int(lda), b, int(ldb), beta, c, int(ldc));
}

void set_threads(int n) { PYSSL_OPENBLAS(set_num_threads)(n); }
int get_threads() { return PYSSL_OPENBLAS(get_num_threads)(); }
const char* config() { return PYSSL_OPENBLAS(get_config)(); }
const char* corename() { return PYSSL_OPENBLAS(get_corename)(); }

}  // namespace pyssl::blas
