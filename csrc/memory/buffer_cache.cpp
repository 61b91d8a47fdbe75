#include "memory/buffer_cache.hpp"

#include <sys/mman.h>

#include <cstdint>
#include <cstdlib>
#include <map>
#include <mutex>
#include <new>
#include <string>
#include <vector>

namespace pyssl::memory {
namespace {

constexpr std::size_t kAlign = 64;
constexpr std::size_t kHeader = 64;  // keeps the user pointer 64-byte aligned
constexpr std::size_t kHugePage = std::size_t(2) << 20;
constexpr std::size_t kHugeAdviceFrom = std::size_t(4) << 20;

struct Header {
  std::size_t capacity;  // usable bytes after the header (the size class for cached blocks)
  bool cacheable;
};

std::size_t size_class(std::size_t bytes) {
  if (bytes < kMinCachedBytes) return bytes;
  std::size_t top = std::size_t(1) << (63 - __builtin_clzll(static_cast<unsigned long long>(bytes)));
  const std::size_t step = top / 8;
  return (bytes + step - 1) / step * step;
}

std::size_t default_limit() {
  if (const char* env = std::getenv("PYSSL_BUFFER_CACHE_MB")) {
    char* end = nullptr;
    const unsigned long long mb = std::strtoull(env, &end, 10);
    if (end != env) return static_cast<std::size_t>(mb) << 20;
  }
  return std::size_t(1) << 30;
}

struct Cache {
  std::mutex mu;
  std::map<std::size_t, std::vector<void*>> free_blocks;  // size class -> raw blocks
  std::size_t cached = 0, blocks = 0, limit = default_limit(), hits = 0, misses = 0;
};

Cache& cache() {
  static Cache* c = new Cache();  // never destroyed: arrays may be freed during interpreter exit
  return *c;
}

void* raw_alloc(std::size_t capacity, bool cacheable) {
  void* raw = nullptr;
  if (posix_memalign(&raw, kAlign, kHeader + capacity) != 0 || raw == nullptr) throw std::bad_alloc();
  auto* h = static_cast<Header*>(raw);
  h->capacity = capacity;
  h->cacheable = cacheable;
#ifdef MADV_HUGEPAGE
  if (capacity >= kHugeAdviceFrom) {
    // advise the whole 2 MiB pages inside the block (numpy does the same for its large arrays)
    const auto begin = (reinterpret_cast<std::uintptr_t>(raw) + kHugePage - 1) & ~(kHugePage - 1);
    const auto end = (reinterpret_cast<std::uintptr_t>(raw) + kHeader + capacity) & ~(kHugePage - 1);
    if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
  }
#endif
  return raw;
}

void* user(void* raw) { return static_cast<char*>(raw) + kHeader; }
void* raw_of(void* p) { return static_cast<char*>(p) - kHeader; }

}  // namespace

void* acquire(std::size_t bytes) {
  if (bytes == 0) bytes = 1;
  const bool cacheable = bytes >= kMinCachedBytes;
  if (!cacheable) return user(raw_alloc(bytes, false));
  const std::size_t cls = size_class(bytes);
  Cache& c = cache();
  {
    std::lock_guard<std::mutex> lock(c.mu);
    auto it = c.free_blocks.find(cls);
    if (it != c.free_blocks.end() && !it->second.empty()) {
      void* raw = it->second.back();
      it->second.pop_back();
      c.cached -= cls;
      --c.blocks;
      ++c.hits;
      return user(raw);
    }
    ++c.misses;
  }
  return user(raw_alloc(cls, true));
}

void release(void* p) noexcept {
  if (p == nullptr) return;
  void* raw = raw_of(p);
  const Header h = *static_cast<Header*>(raw);
  if (h.cacheable) {
    Cache& c = cache();
    std::lock_guard<std::mutex> lock(c.mu);
    if (c.cached + h.capacity <= c.limit) {
      try {
        c.free_blocks[h.capacity].push_back(raw);
        c.cached += h.capacity;
        ++c.blocks;
        return;
      } catch (...) {  // bookkeeping could not grow: free the block instead
      }
    }
  }
  std::free(raw);
}

CacheInfo info() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  return {c.cached, c.blocks, c.limit, c.hits, c.misses};
}

void clear() {
  Cache& c = cache();
  std::map<std::size_t, std::vector<void*>> drop;
  {
    std::lock_guard<std::mutex> lock(c.mu);
    drop.swap(c.free_blocks);
    c.cached = 0;
    c.blocks = 0;
  }
  for (auto& kv : drop)
    for (void* raw : kv.second) std::free(raw);
}

void set_limit(std::size_t bytes) {
  {
    Cache& c = cache();
    std::lock_guard<std::mutex> lock(c.mu);
    c.limit = bytes;
  }
  clear();
}

}  // namespace pyssl::memory
