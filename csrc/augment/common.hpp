// Shared machinery for the pretext augmentation kernels (csrc/augment/*.cpp).
//
// Random numbers. Every draw made for sample s by a kernel comes from
//     rng::Stream(seed, stream_id(tag, s)),   stream_id(tag, s) = tag · 2^40 + s,
// where `tag` is the kernel's fixed id below and `seed` is the seed the caller passes (the Python
// layer derives one seed per transform, per position in a Compose and per view; see
// pyssl/_seeding.py). Inside a sample's stream, draws are numbered from 0: word w is word
// w % 4 of Philox block w / 4 (the same numbering as rng::Stream::bits). Because a sample's draws
// never depend on which thread handles it, results are bit-identical for any thread count.
//
// `philox_blocks` computes exactly rng::philox (tested against it) for many consecutive blocks
// at once: 32 blocks per pass in AVX-512 registers, or a structure-of-arrays loop the compiler
// vectorises.
#pragma once
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "core/check.hpp"
#include "parallel/parallel.hpp"
#include "random/philox.hpp"

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace pyssl::augment {

using u32 = std::uint32_t;
using u64 = std::uint64_t;

// Kernel ids (never renumber: results depend on them).
enum class Tag : u64 {
  Mask = 1, Noise = 2, Scarf = 3, Vime = 4, MixupA = 5, MixupB = 6, MixupPartner = 7, Span = 8,
  Permutation = 9, Integers = 10, ShuffleTokens = 11, SeqCrop = 12, Scaling = 13,
  SegmentPermute = 14, TimeWarp = 15, CropBox = 16, Flip = 17, PatchMask = 18, ColorJitter = 19,
  Blur = 20, Uniform = 21,
};
// Ids 40 and 41 are taken by the table corruptions (csrc/augment/table.cpp).

constexpr u64 kMaxSamples = u64(1) << 40;

// The batch index of this call's first sample (0 unless set): a process that augments only its
// rows [k, k + n) of a larger batch — a rank in data-parallel training — sets k so that its
// samples get the draws of rows k … k + n − 1 of the whole batch. Process-wide; Python sets it
// for the duration of a block with pyssl.pretext.sample_offset(k).
inline std::atomic<std::int64_t>& sample_offset() {
  static std::atomic<std::int64_t> offset{0};
  return offset;
}

inline u64 stream_id(Tag tag, index_t sample) {
  return (u64(tag) << 40) | u64(sample + sample_offset().load(std::memory_order_relaxed));
}
inline rng::Stream sample_stream(u64 seed, Tag tag, index_t sample) {
  return rng::Stream(seed, stream_id(tag, sample));
}

#if !defined(__AVX512F__)
// Ten Philox rounds on 16 counters at once (structure of arrays), a loop the compiler vectorises
// (the AVX-512 path is PhiloxLanes below).
inline void philox_rounds16(u32* c0, u32* c1, u32* c2, u32* c3, u32 k0, u32 k1) {
  for (int r = 0; r < 10; ++r) {
#pragma omp simd
    for (int l = 0; l < 16; ++l) {
      const u64 p0 = u64(0xD2511F53u) * c0[l];
      const u64 p1 = u64(0xCD9E8D57u) * c2[l];
      const u32 n0 = u32(p1 >> 32) ^ c1[l] ^ k0;
      const u32 n2 = u32(p0 >> 32) ^ c3[l] ^ k1;
      c1[l] = u32(p1);
      c3[l] = u32(p0);
      c0[l] = n0;
      c2[l] = n2;
    }
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
}
#endif

#if defined(__AVX512F__)
// Eight Philox blocks per register in 64-bit lanes: each 32-bit word sits in the low half of a
// lane, so one vpmuludq gives the full 32×32→64 product (lo = the lane, hi = lane >> 32) with no
// blend. Upper halves carry garbage that vpmuludq ignores and the final pack drops. Four
// independent groups of 8 blocks per pass hide the multiply latency (measured: 256×784 words in
// 0.091 ms on one core, against 0.139 ms for the 32-bit-lane form with blends).
struct PhiloxLanes {
  __m512i a[4], b[4], c[4], d[4];
  void rounds(u32 k0, u32 k1) {
    const __m512i m0 = _mm512_set1_epi64(0xD2511F53ll), m1 = _mm512_set1_epi64(0xCD9E8D57ll);
    for (int r = 0; r < 10; ++r) {
      const __m512i kk0 = _mm512_set1_epi64(k0), kk1 = _mm512_set1_epi64(k1);
      for (int g = 0; g < 4; ++g) {
        const __m512i p0 = _mm512_mul_epu32(a[g], m0), p1 = _mm512_mul_epu32(c[g], m1);
        // hi(p) into the low half by a dword swap (vpshufd runs on the shuffle port, leaving the
        // multiply port to vpmuludq; a 64-bit shift would compete with it); 0x96: three-way XOR.
        a[g] = _mm512_ternarylogic_epi64(_mm512_shuffle_epi32(p1, _MM_PERM_CDAB), b[g], kk0, 0x96);
        c[g] = _mm512_ternarylogic_epi64(_mm512_shuffle_epi32(p0, _MM_PERM_CDAB), d[g], kk1, 0x96);
        b[g] = p1;
        d[g] = p0;
      }
      k0 += 0x9E3779B9u;
      k1 += 0xBB67AE85u;
    }
  }
  // Group g's 8 blocks as 32 interleaved words: out[4 l + j] = word j of block l.
  void store(int g, u32* out) const {
    const __mmask16 odd = 0xAAAA;
    const __m512i ab = _mm512_mask_blend_epi32(odd, a[g], _mm512_slli_epi64(b[g], 32));
    const __m512i cd = _mm512_mask_blend_epi32(odd, c[g], _mm512_slli_epi64(d[g], 32));
    const __m512i lo = _mm512_setr_epi64(0, 8, 1, 9, 2, 10, 3, 11), hi = _mm512_setr_epi64(4, 12, 5, 13, 6, 14, 7, 15);
    _mm512_storeu_si512(out, _mm512_permutex2var_epi64(ab, lo, cd));
    _mm512_storeu_si512(out + 16, _mm512_permutex2var_epi64(ab, hi, cd));
  }
};
#endif

// Philox4x32-10 blocks [first, first + nblocks) of (seed, stream), written interleaved
// (out[4 b + j] = word j of block first + b). Identical to rng::philox.
inline void philox_blocks(u64 seed, u64 stream, u64 first, index_t nblocks, u32* out) {
#if defined(__AVX512F__)
  constexpr int L = 32;
  const __m512i lane = _mm512_setr_epi64(0, 1, 2, 3, 4, 5, 6, 7);
  const __m512i s0 = _mm512_set1_epi64(u32(stream)), s1 = _mm512_set1_epi64(stream >> 32);
  for (index_t base = 0; base < nblocks; base += L) {
    PhiloxLanes st;
    for (int g = 0; g < 4; ++g) {
      const __m512i ctr = _mm512_add_epi64(_mm512_set1_epi64(static_cast<long long>(first + u64(base) + u64(8 * g))), lane);
      st.a[g] = ctr;
      st.b[g] = _mm512_srli_epi64(ctr, 32);
      st.c[g] = s0;
      st.d[g] = s1;
    }
    st.rounds(u32(seed), u32(seed >> 32));
    const index_t m = std::min<index_t>(L, nblocks - base);
    u32* o = out + 4 * base;
    if (m == L) {
      for (int g = 0; g < 4; ++g) st.store(g, o + 32 * g);
    } else {
      alignas(64) u32 tmp[4 * L];
      for (int g = 0; g < 4; ++g) st.store(g, tmp + 32 * g);
      std::memcpy(o, tmp, sizeof(u32) * size_t(4 * m));
    }
  }
#else
  constexpr int L = 16;
  const u32 s0 = u32(stream), s1 = u32(stream >> 32);
  for (index_t base = 0; base < nblocks; base += L) {
    alignas(64) u32 c0[L], c1[L], c2[L], c3[L];
#pragma omp simd
    for (int l = 0; l < L; ++l) {
      const u64 ctr = first + u64(base) + u64(l);
      c0[l] = u32(ctr);
      c1[l] = u32(ctr >> 32);
      c2[l] = s0;
      c3[l] = s1;
    }
    philox_rounds16(c0, c1, c2, c3, u32(seed), u32(seed >> 32));
    const index_t m = std::min<index_t>(L, nblocks - base);
    u32* o = out + 4 * base;
    for (index_t l = 0; l < m; ++l) {
      o[4 * l + 0] = c0[l];
      o[4 * l + 1] = c1[l];
      o[4 * l + 2] = c2[l];
      o[4 * l + 3] = c3[l];
    }
  }
#endif
}

// Words [0, count) of one stream, in tiles: f(offset, len, words) with words[0..len) = words
// offset .. offset + len of the stream. Tiles start at multiples of kTileWords, so how a row is
// cut never depends on the thread count.
constexpr index_t kTileWords = 1024;
template <class F>
inline void for_word_tiles(u64 seed, u64 stream, index_t count, F&& f) {
  alignas(64) u32 buf[kTileWords];
  for (index_t w = 0; w < count; w += kTileWords) {
    const index_t len = std::min(kTileWords, count - w);
    philox_blocks(seed, stream, u64(w / 4), (len + 3) / 4, buf);
    f(w, len, static_cast<const u32*>(buf));
  }
}

// Round up to a multiple of 4 (word buffers are filled whole blocks at a time).
inline index_t words_capacity(index_t count) { return (count + 3) / 4 * 4; }

// Words [0, count) of one stream into `out` (which must hold words_capacity(count) words).
inline void stream_words(u64 seed, u64 stream, index_t count, u32* out) {
  philox_blocks(seed, stream, 0, (count + 3) / 4, out);
}

// Bernoulli(p) from one 32-bit word: word < threshold(p), exact to 2^-32.
inline u64 bernoulli_threshold(double p) {
  if (p <= 0) return 0;
  if (p >= 1) return u64(1) << 32;
  return u64(std::ldexp(p, 32));
}

// Bernoulli(p) test on one 32-bit word, exact to 2^-32: word < ⌊p·2^32⌋ (p = 1: always).
struct Bernoulli {
  u32 thr;
  bool all;
  explicit Bernoulli(double p) {
    const u64 t = bernoulli_threshold(p);
    all = t > 0xffffffffull;
    thr = all ? 0xffffffffu : u32(t);
  }
  bool operator()(u32 word) const { return (word < thr) | all; }
};

// Uniform integer in [0, n) from one word by multiply-shift (bias below n / 2^32).
inline u32 below(u32 word, u32 n) { return u32((u64(word) * n) >> 32); }
// Uniform in [0, 1) (53-bit double is not needed for parameters; 32 bits are used).
inline double unit(u32 word) { return double(word) * (1.0 / 4294967296.0); }
// Uniform in (0, 1].
inline double unit_open0(u32 word) { return (double(word) + 1.0) * (1.0 / 4294967296.0); }

// --- fast float normals (Box–Muller, both branches) ---------------------------------------------
// Normal 2q and 2q+1 of a stream come from words 2q (radius) and 2q+1 (angle):
//   u1 = (⌊w_{2q}/2^8⌋ + 1/2) / 2^24 ∈ (0, 1),  θ = 2π w_{2q+1} / 2^32,
//   z_{2q} = √(−2 ln u1) cos θ,  z_{2q+1} = √(−2 ln u1) sin θ.
// ln, sin and cos are Cephes-style float polynomials (≈1 ulp on these ranges), written without
// library calls so the loop vectorises and gives the same bits in its vector and scalar parts.
inline float log_unit(float x) {  // x in (0, 1], normal
  u32 ix;
  std::memcpy(&ix, &x, 4);
  int e = int(ix >> 23) - 127;
  const u32 mi = (ix & 0x7fffffu) | 0x3f800000u;
  float m;
  std::memcpy(&m, &mi, 4);
  const bool big = m > 1.41421356f;
  m = big ? 0.5f * m : m;
  e += big ? 1 : 0;
  const float f = m - 1.0f, z = f * f;
  float y = 7.0376836292E-2f;
  y = y * f - 1.1514610310E-1f;
  y = y * f + 1.1676998740E-1f;
  y = y * f - 1.2420140846E-1f;
  y = y * f + 1.4249322787E-1f;
  y = y * f - 1.6668057665E-1f;
  y = y * f + 2.0000714765E-1f;
  y = y * f - 2.4999993993E-1f;
  y = y * f + 3.3333331174E-1f;
  y = y * f * z;
  const float fe = float(e);
  y += -2.12194440e-4f * fe;
  y += -0.5f * z;
  return f + y + 0.693359375f * fe;
}

inline void sincos_turn(u32 word, float& s_out, float& c_out) {  // angle 2π word / 2^32
  const float v = float(word >> 8) * (1.0f / 4194304.0f);       // [0, 4) quarter turns
  const int q = int(v + 0.5f);
  const float t = (v - float(q)) * 1.57079632679489662f;       // [-π/4, π/4]
  const float t2 = t * t;
  float s = -1.9515295891E-4f;
  s = s * t2 + 8.3321608736E-3f;
  s = s * t2 - 1.6666654611E-1f;
  s = s * t2 * t + t;
  float c = 2.443315711809948E-5f;
  c = c * t2 - 1.388731625493765E-3f;
  c = c * t2 + 4.166664568298827E-2f;
  c = c * t2 * t2 - 0.5f * t2 + 1.0f;
  const int qq = q & 3;
  const float cc = (qq & 1) ? s : c, ss = (qq & 1) ? c : s;
  c_out = ((qq + 1) & 2) ? -cc : cc;
  s_out = (qq & 2) ? -ss : ss;
}

inline void box_muller(u32 w_radius, u32 w_angle, float& z0, float& z1) {
  const float u1 = (float(w_radius >> 8) + 0.5f) * (1.0f / 16777216.0f);
  const float r = std::sqrt(-2.0f * log_unit(u1));
  float s, c;
  sincos_turn(w_angle, s, c);
  z0 = r * c;
  z1 = r * s;
}

// Normals [0, count) of one stream in tiles: f(offset, len, z) with z[0..len) float normals.
template <class F>
inline void for_normal_tiles(u64 seed, u64 stream, index_t count, F&& f) {
  const index_t even = count + (count & 1);
  for_word_tiles(seed, stream, even, [&](index_t off, index_t len, const u32* w) {
    alignas(64) float z[kTileWords];
#pragma omp simd
    for (index_t q = 0; q < len / 2; ++q) box_muller(w[2 * q], w[2 * q + 1], z[2 * q], z[2 * q + 1]);
    f(off, std::min(len, count - off), static_cast<const float*>(z));
  });
}

// --- parameters drawn per sample (scalar, exact) ------------------------------------------------
// A sequential draw counter over one sample's stream: attempt a uses Philox block `first + a`.
struct BlockCursor {
  rng::Stream s;
  u64 next;
  rng::Block take() { return s.block(next++); }
};

// Standard normal from words (a, b) in double precision (Box–Muller, cosine branch).
inline double normal_double(u32 a, u32 b) {
  const double u1 = unit_open0(a);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * unit(b));
}

// Gamma(shape a, scale 1) by Marsaglia & Tsang (2000), "A simple method for generating gamma
// variables" (exact rejection sampler); for a < 1, Gamma(a) = Gamma(a + 1) · U^{1/a}.
// Each attempt consumes one Philox block: words 0–1 give the normal, word 2 the uniform.
inline double gamma_draw(BlockCursor& cur, double a) {
  double boost = 1.0;
  if (a < 1.0) {
    const rng::Block b = cur.take();
    boost = std::pow(unit_open0(b.v[0]), 1.0 / a);
    a += 1.0;
  }
  const double d = a - 1.0 / 3.0, c = 1.0 / std::sqrt(9.0 * d);
  for (int attempt = 0; attempt < 1000; ++attempt) {
    const rng::Block b = cur.take();
    const double xn = normal_double(b.v[0], b.v[1]);
    double v = 1.0 + c * xn;
    if (v <= 0.0) continue;
    v = v * v * v;
    const double u = unit_open0(b.v[2]);
    if (std::log(u) < 0.5 * xn * xn + d - d * v + d * std::log(v)) return d * v * boost;
  }
  return d * boost;  // acceptance probability is > 0.95 per attempt; never reached in practice
}

// Partial Fisher–Yates: after the call idx[0..k) is a uniform k-subset of idx[0..n) in random
// order; step t uses words[t].
template <class I>
inline void partial_shuffle(I* idx, index_t n, index_t k, const u32* words) {
  for (index_t t = 0; t < k; ++t) {
    const index_t j = t + index_t(below(words[t], u32(n - t)));
    std::swap(idx[t], idx[j]);
  }
}

// idx[0..n) = 0..n−1 shuffled so that idx[0..k) is a uniform random k-subset in random order,
// using words 0..k−1 of `stream`. Words 0..n_words−1 (n_words >= k; default k) are left in
// `words` (which must hold words_capacity(n_words) entries) for the caller's further draws.
template <class I>
inline void random_subset(I* idx, index_t n, index_t k, u64 seed, u64 stream, u32* words, index_t n_words = -1) {
  for (index_t j = 0; j < n; ++j) idx[j] = I(j);
  stream_words(seed, stream, std::max(k, n_words), words);
  partial_shuffle(idx, n, k, words);
}

// Cost, in the scalar ops of parallel_for's work estimate, of one value read from a random row of
// a reference set (SCARF / VIME donors): a likely cache miss, partly hidden by prefetching.
// Measured: SCARF on 256 × 64 with 38 replacements a row over a 26 MB reference took ~0.9 µs a
// row, so a batch is worth the second thread.
constexpr index_t kScatteredRead = 64;

// body(sample) for every sample, in chunks of samples handed out dynamically (a sample's result
// never depends on which thread or chunk computes it).
template <class F>
inline void for_samples(index_t n, index_t cost_per_sample, F&& body) {
  parallel_for_dynamic(n, cost_per_sample, dynamic_grain(n, cost_per_sample), [&](index_t b, index_t e) {
    for (index_t i = b; i < e; ++i) body(i);
  });
}

// Same, with one scratch vector of `scratch` elements of type S per chunk.
template <class S, class F>
inline void for_samples_scratch(index_t n, index_t cost_per_sample, index_t scratch, F&& body) {
  parallel_for_dynamic(n, cost_per_sample, dynamic_grain(n, cost_per_sample), [&](index_t b, index_t e) {
    std::vector<S> buf(static_cast<size_t>(std::max<index_t>(scratch, 1)));
    for (index_t i = b; i < e; ++i) body(i, buf.data());
  });
}

}  // namespace pyssl::augment
