#include "parallel/parallel.hpp"

#include <omp.h>

#include <algorithm>
#include <atomic>

#include "blas/blas_api.hpp"
#include "core/check.hpp"

namespace pyssl {
namespace {
std::atomic<int> g_threads{0};  // 0 = not set yet: use omp_get_max_threads()
}

int num_threads() {
  int n = g_threads.load(std::memory_order_relaxed);
  return n > 0 ? n : std::max(1, omp_get_max_threads());
}

void set_num_threads(int n) {
  PYSSL_CHECK(n >= 1, "num_threads must be >= 1, got ", n);
  g_threads.store(n, std::memory_order_relaxed);
  blas::set_threads(n);
}

int blas_num_threads() { return blas::get_threads(); }

int threads_for(std::int64_t work) {
  // Waking a sleeping OpenMP team (OMP_WAIT_POLICY=PASSIVE, which pyssl sets so that its pool
  // does not steal the cores OpenBLAS needs) costs ~50 µs on this class of machine; an elementwise
  // op over 2^18 floats takes ~35 µs on one core. So a thread gets at least 2^18 scalar ops
  // (measured: ReLU on 256×256 took 60 µs on 2 threads against 9 µs on 1 with 2^15).
  constexpr std::int64_t kMinWorkPerThread = 1 << 18;
  const std::int64_t want = std::max<std::int64_t>(1, work / kMinWorkPerThread);
  return int(std::min<std::int64_t>(num_threads(), want));
}

}  // namespace pyssl
