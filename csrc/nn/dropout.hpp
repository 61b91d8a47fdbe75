// Inverted dropout. Srivastava et al. 2014 (JMLR 15, §4) drop units with probability p in training
// and scale the weights by (1 − p) at test time; the inverted form used here (and by PyTorch)
// scales the survivors by 1/(1 − p) during training instead, so evaluation is the identity:
//   keep_i ~ Bernoulli(1 − p),  y_i = x_i keep_i / (1 − p),  dx_i = dy_i keep_i / (1 − p).
// The draw for element i is word i of the counter-based stream rng::Stream(seed, step):
// element i is dropped when its 32-bit word is < ⌊p·2³²⌋ (exact in integers, same mask for
// float32 and float64, for any thread count). `step` is advanced by the caller on every training
// forward, so successive calls draw fresh masks and a seed replays them.
// x, y, dy, dx, mask: n elements (any shape, flattened); mask is 0/1 bytes.
#pragma once
#include <cstdint>

#include "core/check.hpp"

namespace pyssl::nn {

template <class T>
void dropout_forward(const T* x, T* y, std::uint8_t* mask, index_t n, double p, std::uint64_t seed,
                     std::uint64_t step);

template <class T>
void dropout_backward(const T* dy, const std::uint8_t* mask, T* dx, index_t n, double p);

}  // namespace pyssl::nn
