// One process-wide thread knob for OpenMP kernels and the BLAS.
//
// OpenMP's own setting is per OS thread, so the count lives in a global and every
// parallel region passes it explicitly (num_threads(pyssl::num_threads())).
// Work is split in static, contiguous chunks: which thread runs a chunk never changes
// what is computed, so kernels that do not reduce across chunks are bit-identical
// whatever the thread count.
#pragma once
#include <omp.h>

#include <cstdint>

namespace pyssl {

int num_threads();
void set_num_threads(int n);  // also sets the BLAS pool
int blas_num_threads();

// Threads worth using for `work` scalar operations (small work stays serial).
int threads_for(std::int64_t work);

// Run body(begin, end) over [0, n) in static contiguous chunks.
template <class F>
void parallel_for(std::int64_t n, std::int64_t work_per_item, F&& body) {
  const int nt = threads_for(n * (work_per_item > 0 ? work_per_item : 1));
  if (nt <= 1 || n <= 1) {
    body(std::int64_t(0), n);
    return;
  }
#pragma omp parallel num_threads(nt)
  {
    const int t = omp_get_thread_num();
    const int T = omp_get_num_threads();
    const std::int64_t chunk = (n + T - 1) / T;
    const std::int64_t b = std::int64_t(t) * chunk;
    const std::int64_t e = b + chunk < n ? b + chunk : n;
    if (b < e) body(b, e);
  }
}

}  // namespace pyssl
