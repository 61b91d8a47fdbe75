// Image augmentations on (N, C, H, W) batches. Draws for sample i come from
// Stream(seed, stream_id(tag, i)); one draw per sample applies to all its channels.
//
//   rotate90        k_i quarter turns counter-clockwise in the (H, W) plane, as numpy.rot90(·, k,
//                   axes=(2, 3)): k=1: out[r, c] = in[c, W−1−r]; k=2: in[H−1−r, W−1−c];
//                   k=3: in[H−1−c, r]. (Gidaris et al. 2018, RotNet.)
//   hflip           out[..., c] = in[..., W−1−c] where flag_i ≠ 0.
//   crop_boxes      torchvision RandomResizedCrop.get_params: up to 10 attempts (attempt a uses
//                   Philox block a: area scale, log-aspect ratio, top, left); fall back to the
//                   whole image cropped to the ratio range. Box = (top, left, height, width).
//   resized_crop    bilinear, align_corners=False, no antialiasing (see resample.hpp).
//   jigsaw          H, W divisible by g; tiles numbered row-major; output tile t = input tile
//                   π[t] with π = perms[label_i] (Noroozi & Favaro 2016). Layout: the image
//                   reassembled (N, C, H, W) or the tiles (N, g², C, H/g, W/g).
//   patch_mask      L = (H/p)(W/p) patches, a uniform subset of `n_masked` of them (partial
//                   Fisher–Yates) is filled; kept and masked indices ascending (He et al. 2022, MAE).
//   color_jitter    b ~ U[1−β, 1+β], c ~ U[1−γ, 1+γ] (clamped ≥ 0); brightness then contrast, in that
//                   fixed order: y = b·x; y = c·y + (1−c)·mean(gray(y)), gray = 0.299R + 0.587G +
//                   0.114B for C = 3, the channel mean otherwise; clipped to [0, 1] after each step
//                   when clip (torchvision's formulas, without its random order).
//   gaussian_blur   σ ~ U[σ_lo, σ_hi]; separable kernel of odd size K, w_k ∝ exp(−(k−K/2)²/2σ²),
//                   reflect padding (torchvision GaussianBlur).
#pragma once
#include <cstdint>

#include "core/check.hpp"

namespace pyssl::augment {

template <class T>
void rotate90(const T* x, T* out, const std::int64_t* k, index_t n, index_t c, index_t h, index_t w);

template <class T>
void hflip(const T* x, T* out, const std::int64_t* flags, index_t n, index_t c, index_t h, index_t w);

void crop_boxes(std::int64_t* boxes, index_t n, index_t h, index_t w, double scale_lo, double scale_hi,
                double ratio_lo, double ratio_hi, std::uint64_t seed);

template <class T>
void resized_crop(const T* x, T* out, const std::int64_t* boxes, index_t n, index_t c, index_t h, index_t w,
                  index_t oh, index_t ow);

template <class T>
void jigsaw(const T* x, T* out, const std::int64_t* perms, const std::int64_t* labels, index_t n, index_t c,
            index_t h, index_t w, index_t grid, bool tiles);

template <class T>
void patch_mask(const T* x, T* out, T* mask, std::int64_t* kept, std::int64_t* masked, index_t n, index_t c,
                index_t h, index_t w, index_t patch, index_t n_masked, T fill, std::uint64_t seed);

template <class T>
void color_jitter(const T* x, T* out, T* factors, index_t n, index_t c, index_t h, index_t w,
                  double brightness, double contrast, bool clip, std::uint64_t seed);

template <class T>
void gaussian_blur(const T* x, T* out, T* sigmas, index_t n, index_t c, index_t h, index_t w, index_t ksize,
                   double sigma_lo, double sigma_hi, std::uint64_t seed);

}  // namespace pyssl::augment
