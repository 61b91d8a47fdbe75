// A process-wide cache of large freed output buffers.
//
// Kernels write their results into fresh arrays. Large fresh arrays come from mmap (always above
// glibc's 32 MiB mmap ceiling; below it, also from the top of the heap after glibc trims it when
// other code frees big temporaries), so a call pays a page fault and a kernel-side zeroing per
// page it writes: benchmarks/bench_buffer_cache.py measures 540 faults per call for 48 MiB
// outputs, and hflip 3.7× slower without this cache. (Before this file, outputs were numpy
// allocations: with numpy's SCARF running between calls, scarf_corrupt on a (256, 3072) batch
// paid 1,504 faults and ~1.2 ms extra per call.) Training loops allocate the same shapes every
// step, so blocks of at least kMinCachedBytes are kept when freed and handed out again (the same
// idea as PyTorch's CUDA caching allocator, for host memory).
//
// Size classes: sizes are rounded up to a multiple of 1/8 of their power of two (≤ 12.5 % slack),
// and a request is served from a cached block of exactly its class. The cache holds at most
// limit() bytes of freed blocks (default 1 GiB, or PYSSL_BUFFER_CACHE_MB at first use); a block
// freed beyond the limit goes back to the system. Blocks of 4 MiB and more are advised as
// transparent huge pages, as numpy does. All functions are thread-safe.
#pragma once
#include <cstddef>

namespace pyssl::memory {

constexpr std::size_t kMinCachedBytes = std::size_t(1) << 16;

// At least `bytes` bytes, 64-byte aligned, contents undefined. Throws std::bad_alloc.
void* acquire(std::size_t bytes);
// Give back a pointer returned by acquire.
void release(void* p) noexcept;

struct CacheInfo {
  std::size_t cached_bytes;   // freed blocks held for reuse
  std::size_t cached_blocks;
  std::size_t limit_bytes;
  std::size_t hits;           // requests served from the cache since start
  std::size_t misses;         // requests of cacheable size that were not
};
CacheInfo info();
void set_limit(std::size_t bytes);  // 0 disables caching (and empties the cache)
void clear();                       // return every cached block to the system

}  // namespace pyssl::memory
