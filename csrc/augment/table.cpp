#include "augment/table.hpp"

#include <algorithm>
#include <vector>

#include "augment/common.hpp"
#include "core/instantiate.hpp"

namespace pyssl::augment {

namespace {
// Kernel ids of this file (common.hpp's Tag enum numbers the others below 32; never renumber).
constexpr Tag kTableScarf = Tag(40);
constexpr Tag kTableVime = Tag(41);

template <class T>
inline void copy_group(const T* src, T* dst, const std::int64_t* cols, std::int64_t b, std::int64_t e) {
  for (std::int64_t q = b; q < e; ++q) dst[cols[q]] = src[cols[q]];
}
}  // namespace

void check_table_groups(const std::int64_t* start, const std::int64_t* cols, index_t n_groups, index_t w) {
  if (n_groups < 1) fail("a table needs at least one column group, got ", n_groups);
  if (start[0] != 0) fail("group_start[0] must be 0, got ", start[0]);
  for (index_t c = 0; c < n_groups; ++c)
    if (start[c + 1] <= start[c]) fail("group_start must be increasing (every column owns a position), got ",
                                       start[c], " then ", start[c + 1], " at column ", c);
  for (index_t q = 0; q < start[n_groups]; ++q)
    if (cols[q] < 0 || cols[q] >= w) fail("group_cols must lie in [0, ", w, "), got ", cols[q], " at ", q);
}

template <class T>
void table_scarf_corrupt(const T* x, const T* ref, T* out, T* mask, index_t n, index_t w, index_t n_ref,
                         const std::int64_t* start, const std::int64_t* cols, index_t n_groups, index_t k,
                         std::uint64_t seed) {
  check_table_groups(start, cols, n_groups, w);
  if (k < 1 || k > n_groups) fail("k must be in [1, ", n_groups, "], got ", k);
  if (n_ref < 1) fail("reference must have at least one row");
  const u32 nr = u32(n_ref);
  parallel_for(n, 2 * w + kScatteredRead * k, [&](index_t b, index_t e) {
    std::vector<u32> idx(static_cast<size_t>(n_groups));
    std::vector<u32> words(static_cast<size_t>(words_capacity(2 * k)));
    for (index_t i = b; i < e; ++i) {
      const T* xi = x + i * w;
      T* oi = out + i * w;
      T* mi = mask + i * n_groups;
      std::copy(xi, xi + w, oi);
      std::fill(mi, mi + n_groups, T(0));
      random_subset(idx.data(), n_groups, k, seed, stream_id(kTableScarf, i), words.data(), 2 * k);
      for (index_t t = 0; t < k; ++t) {
        const index_t c = idx[size_t(t)];
        const index_t r = index_t(below(words[size_t(k + t)], nr));
        copy_group(ref + r * w, oi, cols, start[c], start[c + 1]);
        mi[c] = T(1);
      }
    }
  });
}

template <class T>
void table_vime_corrupt(const T* x, const T* ref, T* out, T* mask, index_t n, index_t w, index_t n_ref,
                        const std::int64_t* start, const std::int64_t* cols, index_t n_groups, double p,
                        std::uint64_t seed) {
  check_table_groups(start, cols, n_groups, w);
  if (!(p >= 0.0 && p <= 1.0)) fail("p must be in [0, 1], got ", p);
  if (n_ref < 1) fail("reference must have at least one row");
  const Bernoulli bern(p);
  const u32 nr = u32(n_ref);
  parallel_for(n, 2 * w + 8 * n_groups + kScatteredRead * n_groups / 2, [&](index_t b, index_t e) {
    std::vector<u32> words(static_cast<size_t>(words_capacity(2 * n_groups)));
    for (index_t i = b; i < e; ++i) {
      const T* xi = x + i * w;
      T* oi = out + i * w;
      T* mi = mask + i * n_groups;
      std::copy(xi, xi + w, oi);
      stream_words(seed, stream_id(kTableVime, i), 2 * n_groups, words.data());
      for (index_t c = 0; c < n_groups; ++c) {
        mi[c] = T(0);
        if (!bern(words[size_t(c)])) continue;
        const index_t r = index_t(below(words[size_t(n_groups + c)], nr));
        copy_group(ref + r * w, oi, cols, start[c], start[c + 1]);
        bool changed = false;
        for (std::int64_t q = start[c]; q < start[c + 1]; ++q) changed |= oi[cols[q]] != xi[cols[q]];
        mi[c] = changed ? T(1) : T(0);
      }
    }
  });
}

#define PYSSL_TABLE(T)                                                                                    \
  template void table_scarf_corrupt<T>(const T*, const T*, T*, T*, index_t, index_t, index_t,             \
                                       const std::int64_t*, const std::int64_t*, index_t, index_t,         \
                                       std::uint64_t);                                                    \
  template void table_vime_corrupt<T>(const T*, const T*, T*, T*, index_t, index_t, index_t,              \
                                      const std::int64_t*, const std::int64_t*, index_t, double, std::uint64_t);
PYSSL_INSTANTIATE_FLOATS(PYSSL_TABLE)
#undef PYSSL_TABLE

}  // namespace pyssl::augment
