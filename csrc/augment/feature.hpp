// Domain-agnostic corruptions of a batch viewed as (N, D): every sample is one row of D values,
// whatever its original shape. Draws for sample i come from Stream(seed, stream_id(tag, i)).
//
//   mask_features   m_ij ~ Bernoulli(ratio) (word j);  x̃ = m ? fill_j : x         (masked modeling)
//   gaussian_noise  x̃_ij = x_ij + std · z_ij, z_ij = normal j of the row's stream (Box–Muller)
//   scarf_corrupt   k = max(1, ⌊ratio·D⌋) features per row without replacement (partial
//                   Fisher–Yates, words 0..k), each replaced by ref[r, j], r ~ U{0..R−1} (word k+t)
//                   — Bahri et al. 2022 (SCARF), TabularS3L convention (exactly k per row).
//   vime_corrupt    m_ij ~ Bernoulli(p) (word j); x̄_ij = x[r_ij, j], r_ij ~ U{0..N−1}
//                   (word D + j); x̃ = (1−m) x + m x̄; label 1[x̃ ≠ x] — Yoon et al. 2020 (VIME).
//   mixup           λ_i ~ Beta(α, α) (Gamma ratio), λ ← max(λ, 1−λ) if positive_only (DACL,
//                   Verma et al. 2021); partner p_i uniform over the other rows;
//                   x̃_i = λ_i x_i + (1−λ_i) x_{p_i}  — Zhang et al. 2018 (mixup).
//   span_mask       (N, C, T): one span of `span` steps per sample, start ~ U{0..T−span},
//                   masked in every channel (time masking; DABS-style contiguous masking).
//   shuffle_tokens  (N, L, D): m positions per sample (partial Fisher–Yates, then sorted
//                   s_0 < … < s_{m−1}); token at s_t ← token at s_{(t+1) mod m} (a roll, so
//                   every chosen token moves when m ≥ 2); label 1 at chosen positions — ShED (DABS).
//   permutations    row r: a uniform permutation of 0..n−1 (Fisher–Yates, stream (tag, r)).
//   integers        z_i = ⌊word_0 · high / 2^32⌋ from stream (Integers, i).
//   uniforms        u_i = word_0 / 2^32 from stream (Uniform, i).
#pragma once
#include <cstdint>

#include "core/check.hpp"

namespace pyssl::augment {

template <class T>
void mask_features(const T* x, T* out, T* mask, index_t n, index_t d, double ratio, T fill,
                   const T* fill_per_feature, std::uint64_t seed);

template <class T>
void gaussian_noise(const T* x, T* out, index_t n, index_t d, double std, std::uint64_t seed);

template <class T>
void scarf_corrupt(const T* x, const T* ref, T* out, T* mask, index_t n, index_t d, index_t n_ref,
                   index_t k, std::uint64_t seed);

template <class T>
void vime_corrupt(const T* x, T* out, T* mask, index_t n, index_t d, double p, std::uint64_t seed);

template <class T>
void mixup(const T* x, T* out, T* lam, std::int64_t* partner, index_t n, index_t d, double alpha,
           bool positive_only, std::uint64_t seed);

template <class T>
void span_mask(const T* x, T* out, T* mask, index_t n, index_t c, index_t t, index_t span, T fill,
               std::uint64_t seed);

template <class T>
void shuffle_tokens(const T* x, T* out, T* label, index_t n, index_t l, index_t d, index_t m,
                    std::uint64_t seed);

void permutations(std::int64_t* out, index_t count, index_t n, std::uint64_t seed);
void integers(std::int64_t* out, index_t count, std::int64_t high, std::uint64_t seed);
void uniforms(double* out, index_t count, std::uint64_t seed);

// Test hook: Philox words [0, count) of (seed, stream) by the vectorised path (vectorised = true)
// or by rng::Stream::bits (false).
void philox_words(std::uint32_t* out, index_t count, std::uint64_t seed, std::uint64_t stream,
                  bool vectorised);

}  // namespace pyssl::augment
