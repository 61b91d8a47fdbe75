// Flat parameter layout shared by the fused optimizer kernels.
//
// A model's P parameters live in one contiguous buffer of n scalars (pyssl/optim/flat.py):
// parameter p occupies [offsets[p], offsets[p+1]), and decay[p] is 0 for biases and
// normalisation parameters. Work is cut into blocks of at most kBlockSize scalars that never
// straddle two parameters; the cut depends only on the offsets, never on the thread count, so a
// reduction that sums per-block partials in block order is bit-identical for any thread count.
// Threads take static contiguous runs of blocks.
#pragma once
#include <atomic>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "core/bf16.hpp"
#include "core/check.hpp"
#include "core/reduce.hpp"
#include "parallel/parallel.hpp"

namespace pyssl::optim {

constexpr index_t kBlockSize = index_t(1) << 14;

struct Block {
  index_t param;  // which parameter
  index_t begin;  // flat index range [begin, end)
  index_t end;
};

class FlatLayout {
 public:
  // offsets: P+1 non-decreasing values from 0; decay: P flags (empty = all 1).
  FlatLayout(std::vector<index_t> offsets, std::vector<std::uint8_t> decay, index_t block_size = kBlockSize);

  index_t size() const { return offsets_.back(); }
  index_t count() const { return index_t(offsets_.size()) - 1; }
  index_t num_blocks() const { return index_t(blocks_.size()); }
  const index_t* offsets() const { return offsets_.data(); }
  const std::uint8_t* decay() const { return decay_.data(); }
  const Block* blocks() const { return blocks_.data(); }
  index_t block_size() const { return block_size_; }

 private:
  std::vector<index_t> offsets_;
  std::vector<std::uint8_t> decay_;
  std::vector<Block> blocks_;
  index_t block_size_;
};

// Run body(block) over every block of `layout`, static contiguous runs of blocks per thread.
// `cost` is the rough number of scalar operations per element (for the thread-count heuristic).
template <class F>
void for_each_block(const FlatLayout& layout, index_t cost, F&& body) {
  const Block* blocks = layout.blocks();
  const index_t nb = layout.num_blocks();
  const index_t per_block = nb ? (layout.size() / nb + 1) * (cost > 0 ? cost : 1) : 1;
  parallel_for(nb, per_block, [&](index_t b, index_t e) {
    for (index_t i = b; i < e; ++i) body(blocks[i]);
  });
}

// Non-finite detection after each update (update_and_check below): every kernel adds θ_new · 0 to
// a per-block accumulator over each tile it has just written. x · 0 is ±0 for finite x and NaN
// for ±Inf or NaN, so the accumulator is NaN exactly when some updated parameter is not finite; a
// block that finds one clears the shared flag. The kernels return the flag (true: all finite).
class FiniteFlag {
 public:
  template <class T>
  void check(T acc) {
    if (acc != acc) ok_.store(false, std::memory_order_relaxed);
  }
  bool ok() const { return ok_.load(std::memory_order_relaxed); }

 private:
  std::atomic<bool> ok_{true};
};

// Runs update(i0, i1) over the block in tiles and, after each tile, adds θ_new · 0 over it while
// it is still in L1 (FiniteFlag). The check is a loop of its own: folded into the update loop as
// a simd reduction it made GCC's Adam loop 1.8× slower (8M parameters: 9.4 vs 5.1 ms).
//
// With `copy` (float32 parameters only; nullptr otherwise) the same pass also writes
// copy[i] = bf16(θ_new[i]) (round to nearest even, float_to_bf16): the bfloat16 weight copy that
// bf16-mixed products read (pyssl/nn/precision.py), written while the tile is in L1 instead of by a
// separate cast of every weight in the next forward.
template <class T, class F>
inline void update_and_check(const Block& blk, const T* param, FiniteFlag& finite, F&& update,
                             bf16_t* copy = nullptr) {
  constexpr index_t kTile = 2048;
  T chk = T(0);
  for (index_t t0 = blk.begin; t0 < blk.end; t0 += kTile) {
    const index_t t1 = t0 + kTile < blk.end ? t0 + kTile : blk.end;
    update(t0, t1);
#pragma omp simd reduction(+ : chk)
    for (index_t i = t0; i < t1; ++i) chk += param[i] * T(0);
    if constexpr (std::is_same_v<T, float>) {
      if (copy != nullptr) {
#pragma omp simd
        for (index_t i = t0; i < t1; ++i) copy[i] = float_to_bf16(param[i]);
      }
    }
  }
  finite.check(chk);
}

// Sums of squares in a fixed association order (lane_sum, core/reduce.hpp): the same inputs
// always give the same bits, whatever the buffer's address or the thread count.
constexpr int kLanes = 8;

// s1 = Σ a(i)², s2 = Σ b(i)² over [begin, end); a, b return T.
template <class FA, class FB>
inline void sum_squares2(index_t begin, index_t end, FA a, FB b, double& s1, double& s2) {
  lane_sum2<kLanes>(
      begin, end, [&](index_t i) { const double x = double(a(i)); return x * x; },
      [&](index_t i) { const double y = double(b(i)); return y * y; }, s1, s2);
}

template <class T>
inline double sum_squares_fixed(const T* x, index_t begin, index_t end) {
  return lane_sum<kLanes>(begin, end, [=](index_t i) { const double v = double(x[i]); return v * v; });
}

// Fixed blocks over a plain array of n scalars (no parameter structure): number of blocks.
inline index_t num_plain_blocks(index_t n, index_t block_size = kBlockSize) {
  return (n + block_size - 1) / block_size;
}

// Static contiguous share [b, e) of n items for thread t of nt.
inline void thread_share(index_t n, int t, int nt, index_t& b, index_t& e) {
  const index_t chunk = (n + nt - 1) / nt;
  b = index_t(t) * chunk;
  e = b + chunk < n ? b + chunk : n;
  if (b > n) b = n;
}

}  // namespace pyssl::optim
