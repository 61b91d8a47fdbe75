// One process-wide thread knob for OpenMP kernels and the BLAS.
//
// OpenMP's own setting is per OS thread, so the count lives in a global and every
// parallel region passes it explicitly (num_threads(pyssl::num_threads())).
// Work is split in static, contiguous chunks (parallel_for), or handed out in chunks from a
// shared counter (parallel_for_dynamic, for per-sample work): which thread runs a chunk never
// changes what is computed, so kernels that do not reduce across chunks are bit-identical
// whatever the thread count.
#pragma once
#include <omp.h>

#include <atomic>
#include <cstdint>
#include <exception>
#include <mutex>

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

// An exception must not leave an OpenMP region (the runtime calls std::terminate, killing the
// Python process): the regions below run each chunk through FirstException, which keeps the first
// exception thrown (std::bad_alloc of a scratch buffer, a failed check), skips the chunks not yet
// started, and rethrows it on the calling thread after the region, where the bindings turn it into
// a Python exception.
class FirstException {
 public:
  template <class F>
  void run(const F& body, std::int64_t b, std::int64_t e) noexcept {
    if (failed_.load(std::memory_order_relaxed)) return;
    try {
      run_chunk(body, b, e);
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!error_) error_ = std::current_exception();
      failed_.store(true, std::memory_order_relaxed);
    }
  }
  void rethrow() const {
    if (error_) std::rethrow_exception(error_);
  }

 private:
  std::atomic<bool> failed_{false};
  std::mutex mutex_;
  std::exception_ptr error_;
};

// Run body(begin, end) over [0, n) in static contiguous chunks.
template <class F>
void parallel_for(std::int64_t n, std::int64_t work_per_item, const F& body) {
  const int nt = threads_for(n * (work_per_item > 0 ? work_per_item : 1));
  if (nt <= 1 || n <= 1) {
    run_chunk(body, std::int64_t(0), n);
    return;
  }
  FirstException guard;
#pragma omp parallel num_threads(nt)
  {
    const int t = omp_get_thread_num();
    const int T = omp_get_num_threads();
    const std::int64_t chunk = (n + T - 1) / T;
    const std::int64_t b = std::int64_t(t) * chunk;
    const std::int64_t e = b + chunk < n ? b + chunk : n;
    if (b < e) guard.run(body, b, e);
  }
  guard.rethrow();
}

// Run body(begin, end) over [0, n) in chunks of `grain` items handed out in order from a shared
// counter (OpenMP dynamic schedule). The thread that opens the region starts on the first chunk at
// once; a team member that wakes late (a passive team takes ~50–100 µs to wake on this class of
// machine) just takes fewer chunks, instead of the whole region waiting for its static half.
// For bodies whose result for an item does not depend on the chunk it falls in (per-sample
// transforms with per-sample random streams): the output is the same for any thread count.
template <class F>
void parallel_for_dynamic(std::int64_t n, std::int64_t work_per_item, std::int64_t grain, const F& body) {
  const int nt = threads_for(n * (work_per_item > 0 ? work_per_item : 1));
  if (nt <= 1 || n <= 1) {
    run_chunk(body, std::int64_t(0), n);
    return;
  }
  const std::int64_t g = grain > 0 ? grain : 1;
  const std::int64_t chunks = (n + g - 1) / g;
  FirstException guard;
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt)
  for (std::int64_t c = 0; c < chunks; ++c) guard.run(body, c * g, c * g + g < n ? c * g + g : n);
  guard.rethrow();
}

// Chunk size for parallel_for_dynamic: about `per_thread` chunks per thread, each at least
// `min_work` scalar ops (so the shared counter is not contended).
inline std::int64_t dynamic_grain(std::int64_t n, std::int64_t work_per_item, int per_thread = 8,
                                  std::int64_t min_work = 1 << 14) {
  const std::int64_t w = work_per_item > 0 ? work_per_item : 1;
  const std::int64_t by_count = n / (std::int64_t(num_threads()) * per_thread);
  const std::int64_t by_work = (min_work + w - 1) / w;
  return by_count > by_work ? by_count : (by_work > 1 ? by_work : 1);
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
