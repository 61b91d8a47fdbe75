#include "augment/feature.hpp"

#include <algorithm>
#include <numeric>

#include "augment/common.hpp"
#include "core/instantiate.hpp"

namespace pyssl::augment {

template <class T>
void mask_features(const T* x, T* out, T* mask, index_t n, index_t d, double ratio, T fill,
                   const T* fill_per_feature, std::uint64_t seed) {
  const Bernoulli bern(ratio);
  for_samples(n, 4 * d, [&](index_t i) {
    const T* xi = x + i * d;
    T* oi = out + i * d;
    T* mi = mask + i * d;
    for_word_tiles(seed, stream_id(Tag::Mask, i), d, [&](index_t off, index_t len, const u32* w) {
      const T* xs = xi + off;
      T* os = oi + off;
      T* ms = mi + off;
      if (fill_per_feature) {
        const T* f = fill_per_feature + off;
#pragma omp simd
        for (index_t j = 0; j < len; ++j) {
          const bool m = bern(w[j]);
          os[j] = m ? f[j] : xs[j];
          ms[j] = m ? T(1) : T(0);
        }
      } else {
        const T fv = fill;  // a local copy: stores through os cannot alias it
#pragma omp simd
        for (index_t j = 0; j < len; ++j) {
          const bool m = bern(w[j]);
          os[j] = m ? fv : xs[j];
          ms[j] = m ? T(1) : T(0);
        }
      }
    });
  });
}

template <class T>
void gaussian_noise(const T* x, T* out, index_t n, index_t d, double std, std::uint64_t seed) {
  const T s = T(std);
  for_samples(n, 8 * d, [&](index_t i) {
    const T* xi = x + i * d;
    T* oi = out + i * d;
    for_normal_tiles(seed, stream_id(Tag::Noise, i), d, [&](index_t off, index_t len, const float* z) {
#pragma omp simd
      for (index_t j = 0; j < len; ++j) oi[off + j] = xi[off + j] + s * T(z[j]);
    });
  });
}

template <class T>
void scarf_corrupt(const T* x, const T* ref, T* out, T* mask, index_t n, index_t d, index_t n_ref,
                   index_t k, std::uint64_t seed) {
  // scratch per chunk: d feature indices (32-bit, to keep the row's working set in L1), 2k words
  const index_t nw = words_capacity(2 * k);
  parallel_for(n, 2 * d + kScatteredRead * k, [&](index_t b, index_t e) {
    std::vector<u32> idx(static_cast<size_t>(d));
    std::vector<u32> words(static_cast<size_t>(nw));
    for (index_t i = b; i < e; ++i) {
      const T* xi = x + i * d;
      T* oi = out + i * d;
      T* mi = mask + i * d;
      std::copy(xi, xi + d, oi);
      std::fill(mi, mi + d, T(0));
      random_subset(idx.data(), d, k, seed, stream_id(Tag::Scarf, i), words.data(), 2 * k);
      const u32* wr = words.data() + k;
      // The reads ref[r, j] are scattered over the whole reference set (cache misses when it
      // exceeds L2): prefetch kPrefetch replacements ahead so that the misses overlap.
      constexpr index_t kPrefetch = 24;
      const u32 nr = u32(n_ref);
      for (index_t t = 0; t < std::min(k, kPrefetch); ++t)
        __builtin_prefetch(ref + index_t(below(wr[t], nr)) * d + idx[size_t(t)]);
      for (index_t t = 0; t < k; ++t) {
        if (t + kPrefetch < k)
          __builtin_prefetch(ref + index_t(below(wr[t + kPrefetch], nr)) * d + idx[size_t(t + kPrefetch)]);
        const index_t j = idx[size_t(t)];
        const index_t r = index_t(below(wr[t], nr));
        oi[j] = ref[r * d + j];
        mi[j] = T(1);
      }
    }
  });
}

template <class T>
void vime_corrupt(const T* x, T* out, T* mask, index_t n, index_t d, double p, std::uint64_t seed) {
  const Bernoulli bern(p);
  const u32 nn = u32(n);
  // Stream words [0, d) draw the mask, words [d, 2d) the donor rows. One pass per tile of
  // kTileWords features: copy the row, list the masked features with their donor rows, fetch the
  // donors (scattered over the whole batch: prefetched kPrefetch ahead so the misses overlap),
  // then VIME's label m_new = 1[x̃ ≠ x].
  constexpr index_t kPrefetch = 16;
  for_samples(n, 8 * d, [&](index_t i) {
    const T* xi = x + i * d;
    T* oi = out + i * d;
    T* mi = mask + i * d;
    const u64 sid = stream_id(Tag::Vime, i);
    alignas(64) u32 wm[kTileWords], wd[kTileWords + 8], js[kTileWords], rs[kTileWords];
    for (index_t off = 0; off < d; off += kTileWords) {
      const index_t len = std::min(kTileWords, d - off);
      philox_blocks(seed, sid, u64(off / 4), (len + 3) / 4, wm);  // off is a multiple of 4
      const u64 w0 = u64(d + off);
      const index_t skip = index_t(w0 % 4);
      philox_blocks(seed, sid, w0 / 4, (skip + len + 3) / 4, wd);
      index_t cnt = 0;
      std::copy(xi + off, xi + off + len, oi + off);
      for (index_t j = 0; j < len; ++j) {  // branch-free compaction of the masked features
        js[cnt] = u32(j);
        rs[cnt] = below(wd[skip + j], nn);
        cnt += bern(wm[j]) ? 1 : 0;
      }
      const T* xo = x + off;
      for (index_t t = 0; t < std::min(cnt, kPrefetch); ++t) __builtin_prefetch(xo + index_t(rs[t]) * d + js[t]);
      for (index_t t = 0; t < cnt; ++t) {
        if (t + kPrefetch < cnt) __builtin_prefetch(xo + index_t(rs[t + kPrefetch]) * d + js[t + kPrefetch]);
        oi[off + js[t]] = xo[index_t(rs[t]) * d + js[t]];
      }
      for (index_t j = 0; j < len; ++j) mi[off + j] = oi[off + j] != xi[off + j] ? T(1) : T(0);
    }
  });
}

template <class T>
void mixup(const T* x, T* out, T* lam, std::int64_t* partner, index_t n, index_t d, double alpha,
           bool positive_only, std::uint64_t seed) {
  for_samples(n, 4 * d + 64, [&](index_t i) {
    BlockCursor ca{sample_stream(seed, Tag::MixupA, i), 0};
    BlockCursor cb{sample_stream(seed, Tag::MixupB, i), 0};
    const double ga = gamma_draw(ca, alpha), gb = gamma_draw(cb, alpha);
    double l = ga / (ga + gb);
    if (!(l == l)) l = 0.5;  // both gammas underflowed to 0 (tiny α): symmetric choice
    if (positive_only) l = std::max(l, 1.0 - l);
    index_t p = i;
    if (n > 1) {
      const u32 w = sample_stream(seed, Tag::MixupPartner, i).bits(0);
      p = index_t(below(w, u32(n - 1)));
      if (p >= i) ++p;
    }
    lam[i] = T(l);
    partner[i] = p;
    const T a = T(l), b = T(1.0 - l);
    const T* xi = x + i * d;
    const T* xp = x + p * d;
    T* oi = out + i * d;
#pragma omp simd
    for (index_t j = 0; j < d; ++j) oi[j] = a * xi[j] + b * xp[j];
  });
}

template <class T>
void span_mask(const T* x, T* out, T* mask, index_t n, index_t c, index_t t, index_t span, T fill,
               std::uint64_t seed) {
  const T fv = fill;
  for_samples(n, c * t, [&](index_t i) {
    const u32 w = sample_stream(seed, Tag::Span, i).bits(0);
    const index_t start = index_t(below(w, u32(t - span + 1)));
    for (index_t ch = 0; ch < c; ++ch) {
      const T* xr = x + (i * c + ch) * t;
      T* o = out + (i * c + ch) * t;
      T* m = mask + (i * c + ch) * t;
#pragma omp simd
      for (index_t j = 0; j < t; ++j) {
        const bool in = j >= start && j < start + span;
        o[j] = in ? fv : xr[j];
        m[j] = in ? T(1) : T(0);
      }
    }
  });
}

template <class T>
void shuffle_tokens(const T* x, T* out, T* label, index_t n, index_t l, index_t d, index_t m,
                    std::uint64_t seed) {
  parallel_for(n, l * d, [&](index_t b, index_t e) {
    std::vector<std::int64_t> idx(static_cast<size_t>(l));
    std::vector<u32> words(static_cast<size_t>(words_capacity(m)));
    for (index_t i = b; i < e; ++i) {
      const T* xi = x + i * l * d;
      T* oi = out + i * l * d;
      std::copy(xi, xi + l * d, oi);
      std::fill(label + i * l, label + (i + 1) * l, T(0));
      random_subset(idx.data(), l, m, seed, stream_id(Tag::ShuffleTokens, i), words.data());
      std::sort(idx.begin(), idx.begin() + m);
      if (m < 2) continue;  // one token cannot move
      for (index_t s = 0; s < m; ++s) {
        const index_t dst = idx[size_t(s)], src = idx[size_t((s + 1) % m)];
        std::copy(xi + src * d, xi + (src + 1) * d, oi + dst * d);
        label[i * l + dst] = T(1);
      }
    }
  });
}

void permutations(std::int64_t* out, index_t count, index_t n, std::uint64_t seed) {
  parallel_for(count, 4 * n, [&](index_t b, index_t e) {
    std::vector<u32> words(static_cast<size_t>(words_capacity(n)));
    for (index_t r = b; r < e; ++r) {
      random_subset(out + r * n, n, n - 1, seed, stream_id(Tag::Permutation, r), words.data());
    }
  });
}

void integers(std::int64_t* out, index_t count, std::int64_t high, std::uint64_t seed) {
  for_samples(count, 32, [&](index_t i) {
    out[i] = std::int64_t(below(sample_stream(seed, Tag::Integers, i).bits(0), u32(high)));
  });
}

void uniforms(double* out, index_t count, std::uint64_t seed) {
  for_samples(count, 32, [&](index_t i) { out[i] = unit(sample_stream(seed, Tag::Uniform, i).bits(0)); });
}

void philox_words(std::uint32_t* out, index_t count, std::uint64_t seed, std::uint64_t stream,
                  bool vectorised) {
  if (vectorised) {
    for_word_tiles(seed, stream, count, [&](index_t off, index_t len, const u32* w) {
      std::copy(w, w + len, out + off);
    });
  } else {
    const rng::Stream s(seed, stream);
    for (index_t i = 0; i < count; ++i) out[i] = s.bits(u64(i));
  }
}

#define PYSSL_FEATURE(T)                                                                              \
  template void mask_features<T>(const T*, T*, T*, index_t, index_t, double, T, const T*, std::uint64_t); \
  template void gaussian_noise<T>(const T*, T*, index_t, index_t, double, std::uint64_t);           \
  template void scarf_corrupt<T>(const T*, const T*, T*, T*, index_t, index_t, index_t, index_t,     \
                                 std::uint64_t);                                                    \
  template void vime_corrupt<T>(const T*, T*, T*, index_t, index_t, double, std::uint64_t);         \
  template void mixup<T>(const T*, T*, T*, std::int64_t*, index_t, index_t, double, bool, std::uint64_t); \
  template void span_mask<T>(const T*, T*, T*, index_t, index_t, index_t, index_t, T, std::uint64_t); \
  template void shuffle_tokens<T>(const T*, T*, T*, index_t, index_t, index_t, index_t, std::uint64_t);
PYSSL_INSTANTIATE_FLOATS(PYSSL_FEATURE)
#undef PYSSL_FEATURE

}  // namespace pyssl::augment
