#include <omp.h>

#include <algorithm>
#include <climits>
#include <cstdlib>

#include "blas/blas_api.hpp"
#include "core/check.hpp"
#include "parallel/parallel.hpp"

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
// The raw BLAS call, on the calling thread (OpenBLAS is kept at one thread, see below).
void blas_call(Trans ta, Trans tb, std::int64_t m, std::int64_t n, std::int64_t k, float alpha,
               const float* a, std::int64_t lda, const float* b, std::int64_t ldb, float beta, float* c,
               std::int64_t ldc) {
  PYSSL_CBLAS(sgemm)(CblasRowMajor, to_cblas(ta), to_cblas(tb), int(m), int(n), int(k), alpha, a,
                     int(lda), b, int(ldb), beta, c, int(ldc));
}

void blas_call(Trans ta, Trans tb, std::int64_t m, std::int64_t n, std::int64_t k, double alpha,
               const double* a, std::int64_t lda, const double* b, std::int64_t ldb, double beta,
               double* c, std::int64_t ldc) {
  PYSSL_CBLAS(dgemm)(CblasRowMajor, to_cblas(ta), to_cblas(tb), int(m), int(n), int(k), alpha, a,
                     int(lda), b, int(ldb), beta, c, int(ldc));
}

// One thread pool. OpenBLAS keeps its own pthread pool next to the OpenMP team that runs pyssl's
// other kernels; when the OpenMP runtime spins (it does whenever another package — PyTorch,
// scikit-learn, numba — loaded libgomp before pyssl could ask for a passive wait), its idle
// workers take the cores OpenBLAS's threads need. So OpenBLAS runs on one thread, and a large
// product is cut into contiguous slices of C's longer side, each computed by one single-threaded
// BLAS call, the slices shared out among the threads of pyssl's OpenMP team.
//
// The slices depend on the shape and the machine's core count only — never on the thread count —
// so a product is bit-identical on 1, 2 or any number of threads: every entry of C comes from the
// same BLAS call on the same operands (OpenBLAS picks its kernel by the call's shape; cutting a
// product differently would change which kernel, and so which rounding, an entry gets).
constexpr std::int64_t kSliceAlign = 64;             // slice edges on whole register tiles
constexpr std::int64_t kMinMacsPerSlice = 1 << 21;   // below this, one call beats a team wake-up

bool split_enabled() {
  static const bool on = [] {
    const char* v = std::getenv("PYSSL_GEMM_SPLIT");
    return !(v && v[0] == '0');
  }();
  return on;
}

// OpenBLAS starts with one thread per core; from the moment pyssl is loaded it runs on one.
const bool g_blas_single_threaded = [] {
  if (split_enabled()) PYSSL_OPENBLAS(set_num_threads)(1);
  return true;
}();

// Most slices a product is cut into: the largest power of two <= the core count (at least 2), so
// any thread count up to the core count gets a balanced share.
std::int64_t max_slices() {
  static const std::int64_t s = [] {
    std::int64_t cores = std::max(2, omp_get_num_procs()), p = 1;
    while (p * 2 <= cores && p < 64) p *= 2;
    return p;
  }();
  return s;
}

template <class T>
void gemm_split(Trans ta, Trans tb, std::int64_t m, std::int64_t n, std::int64_t k, T alpha, const T* a,
                std::int64_t lda, const T* b, std::int64_t ldb, T beta, T* c, std::int64_t ldc) {
  const bool by_rows = m >= n;
  const std::int64_t len = by_rows ? m : n;
  const std::int64_t blocks = (len + kSliceAlign - 1) / kSliceAlign;
  const std::int64_t macs = m * n * (k > 0 ? k : 1);
  std::int64_t slices = 1;
  while (slices * 2 <= std::min<std::int64_t>({blocks, macs / kMinMacsPerSlice, max_slices()})) slices *= 2;
  if (slices <= 1) {
    blas_call(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
  const std::int64_t per = (blocks + slices - 1) / slices * kSliceAlign;
  auto slice = [&](std::int64_t i) {
    const std::int64_t lo = std::min(len, i * per), hi = std::min(len, lo + per);
    if (lo >= hi) return;
    if (by_rows)
      blas_call(ta, tb, hi - lo, n, k, alpha, ta == Trans::No ? a + lo * lda : a + lo, lda, b, ldb, beta,
                c + lo * ldc, ldc);
    else
      blas_call(ta, tb, m, hi - lo, k, alpha, a, lda, tb == Trans::No ? b + lo : b + lo * ldb, ldb, beta,
                c + lo, ldc);
  };
  const std::int64_t nt = std::min<std::int64_t>(num_threads(), slices);
  if (nt <= 1 || omp_in_parallel()) {
    for (std::int64_t i = 0; i < slices; ++i) slice(i);
    return;
  }
#pragma omp parallel num_threads(int(nt))
  {
    const std::int64_t t = omp_get_thread_num(), team = omp_get_num_threads();
    for (std::int64_t i = t * slices / team; i < (t + 1) * slices / team; ++i) slice(i);
  }
}
}  // namespace

template <class T>
void gemm(Trans ta, Trans tb, std::int64_t m, std::int64_t n, std::int64_t k, T alpha, const T* a,
          std::int64_t lda, const T* b, std::int64_t ldb, T beta, T* c, std::int64_t ldc) {
  check_dims(m, n, k, lda, ldb, ldc);
  if (m == 0 || n == 0) return;
  if (split_enabled()) {
    // Anything may have raised OpenBLAS's thread count since (threadpoolctl's
    // threadpool_limits does, for every BLAS in the process); two threads each calling a
    // multi-threaded OpenBLAS queue on its single server and run many times slower.
    if (PYSSL_OPENBLAS(get_num_threads)() != 1) PYSSL_OPENBLAS(set_num_threads)(1);
    gemm_split(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  }
  else
    blas_call(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

template void gemm<float>(Trans, Trans, std::int64_t, std::int64_t, std::int64_t, float, const float*,
                          std::int64_t, const float*, std::int64_t, float, float*, std::int64_t);
template void gemm<double>(Trans, Trans, std::int64_t, std::int64_t, std::int64_t, double, const double*,
                           std::int64_t, const double*, std::int64_t, double, double*, std::int64_t);

void set_threads(int n) { PYSSL_OPENBLAS(set_num_threads)(split_enabled() ? 1 : n); }
int get_threads() { return PYSSL_OPENBLAS(get_num_threads)(); }
const char* config() { return PYSSL_OPENBLAS(get_config)(); }
const char* corename() { return PYSSL_OPENBLAS(get_corename)(); }

}  // namespace pyssl::blas
