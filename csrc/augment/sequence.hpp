// Time-series augmentations on (N, C, T) batches (Um et al. 2017, "Data augmentation of wearable
// sensor data"; Eldele et al. 2021, TS-TCC). Draws for sample i come from
// Stream(seed, stream_id(tag, i)); the same random parameters apply to every channel of a sample.
//
//   crop_resize_1d   s ~ U[scale_lo, scale_hi], len = clamp(round(s·T), 1, T), start ~ U{0..T−len};
//                    the window is resampled to T_out steps by linear interpolation with
//                    align_corners=False (src = start + (o + ½)·len/T_out − ½, clamped to the window).
//   scaling          x̃_ic· = x_ic· · (1 + σ z_ic), z_ic normal (one per channel).
//   segment_permute  T is cut into M segments [⌊kT/M⌋, ⌊(k+1)T/M⌋); the output concatenates them in
//                    a uniform random order π_i (Fisher–Yates).
//   time_warp        K+2 knot speeds v_k = max(1 + σ z_k, 0.1) at equally spaced times; the speed
//                    curve is piecewise linear, its cumulative sum (rescaled to end at T−1) gives the
//                    warped read positions, read by linear interpolation. (Um et al. use a cubic
//                    spline through the knots; piecewise linear is our documented simplification.)
#pragma once
#include <cstdint>

#include "core/check.hpp"

namespace pyssl::augment {

template <class T>
void crop_resize_1d(const T* x, T* out, index_t n, index_t c, index_t t, index_t t_out, double scale_lo,
                    double scale_hi, std::int64_t* windows, std::uint64_t seed);

template <class T>
void scaling(const T* x, T* out, index_t n, index_t c, index_t t, double sigma, std::uint64_t seed);

template <class T>
void segment_permute(const T* x, T* out, std::int64_t* perms, index_t n, index_t c, index_t t,
                     index_t segments, std::uint64_t seed);

template <class T>
void time_warp(const T* x, T* out, index_t n, index_t c, index_t t, double sigma, index_t knots,
               std::uint64_t seed);

}  // namespace pyssl::augment
