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

// One out-of-line instance of the body per kernel: the serial path and the OpenMP region call
// the same machine code. (When the body was inlined into both, GCC compiled the two copies
// differently — contraction and vectorisation — and NT-Xent rounded differently on 1 and 2
// threads.)
template <class F>
__attribute__((noinline)) void run_chunk(const F& body, std::int64_t b, std::int64_t e) {
  body(b, e);
}

// Run body(begin, end) over [0, n) in static contiguous chunks.
template <class F>
void parallel_for(std::int64_t n, std::int64_t work_per_item, const F& body) {
  const int nt = threads_for(n * (work_per_item > 0 ? work_per_item : 1));
  if (nt <= 1 || n <= 1) {
    run_chunk(body, std::int64_t(0), n);
    return;
  }
#pragma omp parallel num_threads(nt)
  {
    const int t = omp_get_thread_num();
    const int T = omp_get_num_threads();
    const std::int64_t chunk = (n + T - 1) / T;
    const std::int64_t b = std::int64_t(t) * chunk;
    const std::int64_t e = b + chunk < n ? b + chunk : n;
    if (b < e) run_chunk(body, b, e);
  }
}

// Column reductions over a row-major (n, d) matrix: body(c0, c1) for blocks of at most `block`
// columns, in parallel over blocks. Inside a block the body walks rows 0..n-1 in order with one
// accumulator per column, so each column's result is the same whatever the block width or the
// thread count. `work_per_column` is the scalar-op count of one column (e.g. n or 4·n).
template <class F>
void for_column_blocks(std::int64_t d, std::int64_t block, std::int64_t work_per_column, const F& body) {
  const std::int64_t nb = (d + block - 1) / block;
  parallel_for(nb, work_per_column * block, [&](std::int64_t b0, std::int64_t b1) {
    for (std::int64_t b = b0; b < b1; ++b) body(b * block, b * block + block < d ? b * block + block : d);
  });
}

}  // namespace pyssl
