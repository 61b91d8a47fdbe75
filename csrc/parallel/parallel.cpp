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
  // Below ~32k scalar ops a parallel region costs more than it saves.
  constexpr std::int64_t kMinWorkPerThread = 1 << 15;
  const std::int64_t want = std::max<std::int64_t>(1, work / kMinWorkPerThread);
  return int(std::min<std::int64_t>(num_threads(), want));
}

}  // namespace pyssl
