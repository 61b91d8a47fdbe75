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

// How one product is cut: `slices` contiguous slices of C's longer side, `per` rows/columns each.
template <class T>
struct Sliced {
  GemmCall<T> g;
  bool by_rows;
  std::int64_t len, slices, per;

  // Slices for a product that gets up to `most` slices (a power of two).
  Sliced(const GemmCall<T>& call, std::int64_t most) : g(call) {
    by_rows = g.m >= g.n;
    len = by_rows ? g.m : g.n;
    const std::int64_t blocks = (len + kSliceAlign - 1) / kSliceAlign;
    const std::int64_t macs = g.m * g.n * (g.k > 0 ? g.k : 1);
    slices = 1;
    while (slices * 2 <= std::min<std::int64_t>({blocks, macs / kMinMacsPerSlice, most})) slices *= 2;
    per = (blocks + slices - 1) / slices * kSliceAlign;
  }

  void run(std::int64_t i) const {
    if (slices == 1) {
      blas_call(g.ta, g.tb, g.m, g.n, g.k, g.alpha, g.a, g.lda, g.b, g.ldb, g.beta, g.c, g.ldc);
      return;
    }
    const std::int64_t lo = std::min(len, i * per), hi = std::min(len, lo + per);
    if (lo >= hi) return;
    if (by_rows)
      blas_call(g.ta, g.tb, hi - lo, g.n, g.k, g.alpha, g.ta == Trans::No ? g.a + lo * g.lda : g.a + lo, g.lda, g.b,
                g.ldb, g.beta, g.c + lo * g.ldc, g.ldc);
    else
      blas_call(g.ta, g.tb, g.m, hi - lo, g.k, g.alpha, g.a, g.lda, g.tb == Trans::No ? g.b + lo : g.b + lo * g.ldb,
                g.ldb, g.beta, g.c + lo, g.ldc);
  }
};

// Runs tasks 0..count-1 (task(i) computes one slice) on the team, contiguous runs per thread.
template <class Task>
void run_slices(std::int64_t count, const Task& task) {
  const std::int64_t nt = std::min<std::int64_t>(num_threads(), count);
  if (nt <= 1 || omp_in_parallel()) {
    for (std::int64_t i = 0; i < count; ++i) task(i);
    return;
  }
#pragma omp parallel num_threads(int(nt))
  {
    const std::int64_t t = omp_get_thread_num(), team = omp_get_num_threads();
    for (std::int64_t i = t * count / team; i < (t + 1) * count / team; ++i) task(i);
  }
}

template <class T>
void gemm_split(const GemmCall<T>& call) {
  const Sliced<T> s(call, max_slices());
  run_slices(s.slices, [&](std::int64_t i) { s.run(i); });
}
}  // namespace

namespace {
// Anything may have raised OpenBLAS's thread count since pyssl was loaded (threadpoolctl's
// threadpool_limits does, for every BLAS in the process); two threads each calling a
// multi-threaded OpenBLAS queue on its single server and run many times slower.
void keep_blas_single_threaded() {
  if (PYSSL_OPENBLAS(get_num_threads)() != 1) PYSSL_OPENBLAS(set_num_threads)(1);
}
}  // namespace

template <class T>
void gemm(Trans ta, Trans tb, std::int64_t m, std::int64_t n, std::int64_t k, T alpha, const T* a,
          std::int64_t lda, const T* b, std::int64_t ldb, T beta, T* c, std::int64_t ldc) {
  gemm(GemmCall<T>{ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc});
}

template <class T>
void gemm(const GemmCall<T>& g) {
  check_dims(g.m, g.n, g.k, g.lda, g.ldb, g.ldc);
  if (g.m == 0 || g.n == 0) return;
  if (split_enabled()) {
    keep_blas_single_threaded();
    gemm_split(g);
  } else {
    blas_call(g.ta, g.tb, g.m, g.n, g.k, g.alpha, g.a, g.lda, g.b, g.ldb, g.beta, g.c, g.ldc);
  }
}

template <class T>
void gemm_pair(const GemmCall<T>& p, const GemmCall<T>& q) {
  check_dims(p.m, p.n, p.k, p.lda, p.ldb, p.ldc);
  check_dims(q.m, q.n, q.k, q.lda, q.ldb, q.ldc);
  if (!split_enabled() || p.m == 0 || p.n == 0 || q.m == 0 || q.n == 0) {
    gemm(p);
    gemm(q);
    return;
  }
  keep_blas_single_threaded();
  // Each product gets half the slices it would get alone, and the two run side by side: on two
  // cores each is one whole BLAS call on its own core, so neither packs a panel the other also packs.
  const std::int64_t half = std::max<std::int64_t>(1, max_slices() / 2);
  const Sliced<T> sp(p, half), sq(q, half);
  run_slices(sp.slices + sq.slices, [&](std::int64_t i) {
    if (i < sp.slices)
      sp.run(i);
    else
      sq.run(i - sp.slices);
  });
}

template void gemm<float>(Trans, Trans, std::int64_t, std::int64_t, std::int64_t, float, const float*,
                          std::int64_t, const float*, std::int64_t, float, float*, std::int64_t);
template void gemm<double>(Trans, Trans, std::int64_t, std::int64_t, std::int64_t, double, const double*,
                           std::int64_t, const double*, std::int64_t, double, double*, std::int64_t);
template void gemm<float>(const GemmCall<float>&);
template void gemm<double>(const GemmCall<double>&);
template void gemm_pair<float>(const GemmCall<float>&, const GemmCall<float>&);
template void gemm_pair<double>(const GemmCall<double>&, const GemmCall<double>&);

void set_threads(int n) { PYSSL_OPENBLAS(set_num_threads)(split_enabled() ? 1 : n); }
int get_threads() { return PYSSL_OPENBLAS(get_num_threads)(); }
const char* config() { return PYSSL_OPENBLAS(get_config)(); }
const char* corename() { return PYSSL_OPENBLAS(get_corename)(); }

}  // namespace pyssl::blas
