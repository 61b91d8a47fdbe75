// Corruptions of mixed-type table rows, column by column (Bahri et al. 2022, SCARF; Yoon et al.
// 2020, VIME).
//
// A row of the packed table matrix (N, W) holds the table's C columns, column c in the packed
// positions cols[start[c] .. start[c + 1]) (a numeric column: its standardised value and its
// missing flag; a categorical column: its integer code). Corrupting column c of row i copies all of
// its positions from one donor row r of the reference set, so the replacement — value and
// missingness together, or a category code — is a draw from column c's empirical marginal.
//
//   table_scarf_corrupt  exactly k = max(1, ⌊ratio·C⌋) columns per row, chosen without
//                        replacement (partial Fisher–Yates on words 0..k−1 of the row's stream),
//                        donor r ~ U{0..R−1} (word k + t); mask[i, c] = 1 for the chosen columns.
//   table_vime_corrupt   column c corrupted with probability p (word c), donor r ~ U{0..R−1}
//                        (word C + c); mask[i, c] = 1[the column's positions changed] (VIME's
//                        m_new: a swap with an equal value is not a corruption).
//
// Draws for row i come from Stream(seed, stream_id(tag, i)) with this file's tags, so results are
// bit-identical for any thread count.
#pragma once
#include <cstdint>

#include "core/check.hpp"

namespace pyssl::augment {

// Checks start (C + 1 non-decreasing entries from 0) and cols (entries in [0, w)).
void check_table_groups(const std::int64_t* start, const std::int64_t* cols, index_t n_groups, index_t w);

template <class T>
void table_scarf_corrupt(const T* x, const T* ref, T* out, T* mask, index_t n, index_t w, index_t n_ref,
                         const std::int64_t* start, const std::int64_t* cols, index_t n_groups, index_t k,
                         std::uint64_t seed);

template <class T>
void table_vime_corrupt(const T* x, const T* ref, T* out, T* mask, index_t n, index_t w, index_t n_ref,
                        const std::int64_t* start, const std::int64_t* cols, index_t n_groups, double p,
                        std::uint64_t seed);

}  // namespace pyssl::augment
