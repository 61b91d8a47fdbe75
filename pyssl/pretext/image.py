"""Image augmentations and pretext transforms on (N, C, H, W) batches.

Conventions: rotations are counter-clockwise quarter turns as ``numpy.rot90(img, k, axes=(2, 3))``;
bilinear resampling uses align_corners=False without antialiasing (torchvision on tensors);
boxes are (top, left, height, width). Results depend only on the seed, not on thread count.
"""
from __future__ import annotations

import functools
import math

import numpy as np

from .. import _core
from .._validation import check_scalar, check_seed, describe
from ._common import as_images, int_labels, interval, non_negative, positive_int, ratio as _ratio
from .tabular import random_integers, random_permutations

_A = _core.augment

__all__ = ["rotate90", "hflip", "random_hflip", "random_crop_boxes", "resized_crop", "random_resized_crop",
           "jigsaw", "jigsaw_permutation_set", "patch_mask", "color_jitter", "gaussian_blur"]


def rotate90(images, k):
    """Rotate by ``k`` quarter turns counter-clockwise (RotNet, Gidaris et al. 2018).

    ``k`` is an int or an (N,) int array (one turn count per image; any integer, taken mod 4).
    Equals ``np.rot90(images, k, axes=(2, 3))`` per image. Non-square images with odd k come back
    as (N, C, W, H); per-image k on non-square images must then be all odd or all even.
    """
    images = as_images(images)
    return _A.rotate90(images, int_labels(k, images.shape[0], "k"))


def hflip(images, flags=None):
    """Mirror left–right (``images[..., ::-1]``); with ``flags`` (N,) only where flags != 0."""
    images = as_images(images)
    f = np.ones(images.shape[0], np.int64) if flags is None else int_labels(flags, images.shape[0], "flags")
    return _A.hflip(images, f)


def random_hflip(images, seed, p=0.5):
    """Mirror each image with probability p; returns ``(images, flags (N,) int64)``.

    ``seed``: seed of the random draws (a non-negative int): the result depends on it alone, not on
    the thread count.
    """
    images = as_images(images)
    p = _ratio(p, "p")
    u = _A.uniforms(images.shape[0], check_seed(seed))
    flags = (u < p).astype(np.int64)
    return _A.hflip(images, flags), flags


def random_crop_boxes(n, height, width, seed, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3)):
    """torchvision's RandomResizedCrop.get_params for n images: area fraction ~ U[scale], log
    aspect ratio ~ U[log ratio], up to 10 attempts, else a central crop. Returns (n, 4) int64
    boxes (top, left, height, width).

    ``seed``: seed of the random draws (a non-negative int): the result depends on it alone, not on
    the thread count.
    """
    s0, s1 = interval(scale, "scale", low=0.0, high=1.0)
    r0, r1 = interval(ratio, "ratio", low=0.0)
    return _A.crop_boxes(positive_int(n, "n"), positive_int(height, "height"), positive_int(width, "width"),
                         s0, s1, r0, r1, check_seed(seed))


def _size(size, h, w):
    if size is None:
        return h, w
    if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
        return positive_int(size, "size"), positive_int(size, "size")
    try:
        a, b = size
    except (TypeError, ValueError):
        raise TypeError(f"size must be an int or an (height, width) pair, got {size!r}") from None
    return positive_int(a, "size[0]"), positive_int(b, "size[1]")


def resized_crop(images, boxes, size=None):
    """Crop each image to its box (top, left, height, width) and resize bilinearly to ``size``
    (default: the input size). The box must lie inside the image.

    ``images``: batch (N, C, H, W). ``boxes``: (N, 4) int boxes (top, left, height, width), one per
    image.
    """
    images = as_images(images)
    n, _, h, w = images.shape
    b = np.asarray(boxes)
    if b.shape != (n, 4):
        raise ValueError(f"boxes must have shape ({n}, 4) (top, left, height, width), got {describe(b)}")
    if not np.issubdtype(b.dtype, np.integer):
        raise TypeError(f"boxes must be integers, got {describe(b)}")
    b = np.ascontiguousarray(b, dtype=np.int64)
    bad = (b[:, 0] < 0) | (b[:, 1] < 0) | (b[:, 2] < 1) | (b[:, 3] < 1) | (b[:, 0] + b[:, 2] > h) | (b[:, 1] + b[:, 3] > w)
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(f"crop box {tuple(int(v) for v in b[i])} of image {i} is larger than the {h}x{w} "
                         "input or outside it; boxes are (top, left, height, width)")
    oh, ow = _size(size, h, w)
    return _A.resized_crop(images, b, oh, ow)


def random_resized_crop(images, seed, size=None, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3)):
    """RandomResizedCrop (torchvision; SimCLR's main augmentation, Chen et al. 2020).
    Returns ``(images (N, C, *size), boxes (N, 4))``.

    ``seed``: seed of the random draws (a non-negative int): the result depends on it alone, not on
    the thread count. ``scale``: range of the crop area as a fraction of the image. ``ratio``: range
    of the crop's aspect ratio.
    """
    images = as_images(images)
    n, _, h, w = images.shape
    boxes = random_crop_boxes(n, h, w, seed, scale, ratio)
    return resized_crop(images, boxes, size), boxes


def _greedy_max_hamming(cand: np.ndarray, count: int) -> np.ndarray:
    chosen = [0]
    dmin = (cand != cand[0]).sum(axis=1)  # min Hamming distance of each candidate to the chosen set
    dmin[0] = -1
    while len(chosen) < count:
        j = int(np.argmax(dmin))  # first candidate with the largest min distance
        chosen.append(j)
        dmin = np.minimum(dmin, (cand != cand[j]).sum(axis=1))
        dmin[chosen] = -1
    return cand[chosen]


#: bound on pool × grid² (the candidate permutations are held in memory as int64)
_MAX_CANDIDATE_ENTRIES = 2**26


def _n_permutations(n_tiles: int) -> int:
    """n_tiles!, capped at 2**64 (beyond any pool) so that a large grid costs nothing to count."""
    return math.factorial(n_tiles) if n_tiles <= 20 else 2**64


@functools.lru_cache(maxsize=16)
def _permutation_set(n_tiles: int, count: int, seed: int, pool: int) -> np.ndarray:
    total = _n_permutations(n_tiles)
    if total <= pool:  # small grids: every permutation, in a seeded random order
        import itertools

        cand = np.array(list(itertools.permutations(range(n_tiles))), dtype=np.int64)
        cand = cand[random_permutations(1, total, seed)[0]]
    else:
        cand = random_permutations(pool, n_tiles, seed)
    out = _greedy_max_hamming(cand, count)
    out.setflags(write=False)
    return out


def jigsaw_permutation_set(grid=3, count=30, seed=0, pool=4096):
    """A fixed set of ``count`` permutations of grid² tiles chosen for large Hamming distance
    (Noroozi & Favaro 2016, §3.2, greedy "maximal" variant): candidates are every permutation
    when there are at most ``pool`` of them, otherwise ``pool`` Fisher–Yates permutations from
    ``seed``; start with the first candidate and repeatedly add the one whose minimum Hamming
    distance to the chosen set is largest (first on ties). Deterministic: the same arguments give
    the same (count, grid²) int64 array (default: 30 permutations of 9 tiles).

    ``grid``: tiles per side (grid² tiles).
    """
    g = positive_int(grid, "grid")
    c = positive_int(count, "count")
    pool = positive_int(pool, "pool")
    n_tiles = g * g
    if min(pool, _n_permutations(n_tiles)) * n_tiles > _MAX_CANDIDATE_ENTRIES:
        raise ValueError(f"jigsaw_permutation_set(grid={g}, pool={pool}) would draw {pool} candidate permutations "
                         f"of {n_tiles} tiles, more than {_MAX_CANDIDATE_ENTRIES} entries; lower grid or pool")
    available = min(_n_permutations(n_tiles), pool)
    if c > available:
        raise ValueError(f"count ({c}) exceeds the number of distinct candidate permutations ({available})")
    return np.array(_permutation_set(n_tiles, c, check_seed(seed), pool))


def jigsaw(images, grid, permutation_set, seed, tiles=False):
    """Jigsaw puzzle (Noroozi & Favaro 2016): cut each image into grid×grid tiles (row-major),
    draw a label z_i uniform in [0, P) and place input tile ``permutation_set[z_i][t]`` at position t.

    Parameters
    ----------
    images : (N, C, H, W) with H and W multiples of grid.
    grid : int >= 1.
    permutation_set : (P, grid²) int array of permutations, or an int P to use
        ``jigsaw_permutation_set(grid, P)``.
    seed : int.
    tiles : False -> reassembled images (N, C, H, W); True -> tiles (N, grid², C, H/grid, W/grid).

    Returns ``(tiles_or_images, z)`` with z (N,) int64 the permutation index.
    Inverse: out_tiles[t] came from input tile perm[t], so ``x_tiles[perm] = out_tiles``.
    """
    images = as_images(images)
    g = positive_int(grid, "grid")
    n, _, h, w = images.shape
    if h % g or w % g:
        raise ValueError(f"images {describe(images)} cannot be cut into a {g}x{g} grid: H and W must be "
                         f"multiples of grid; crop them first, e.g. images[:, :, :{h - h % g}, :{w - w % g}]")
    if isinstance(permutation_set, (int, np.integer)) and not isinstance(permutation_set, bool):
        perms = jigsaw_permutation_set(g, int(permutation_set))
    else:
        perms = np.asarray(permutation_set)
        if perms.ndim != 2 or perms.shape[1] != g * g or perms.shape[0] < 1:
            raise ValueError(f"permutation_set must be (P, {g * g}) for a {g}x{g} grid, got {describe(perms)}")
        if not np.issubdtype(perms.dtype, np.integer):
            raise TypeError(f"permutation_set must be integers, got {describe(perms)}")
        # that every row is a permutation of 0..grid²-1 is checked by the kernel's binding
    perms = np.ascontiguousarray(perms, dtype=np.int64)
    z = random_integers(n, perms.shape[0], seed)
    return _A.jigsaw(images, g, perms, z, bool(tiles)), z


def patch_mask(images, patch_size, ratio, seed, fill=0.0):
    """MAE random patch masking (He et al. 2022, §3): the image is cut into L = (H/p)(W/p)
    patches (row-major); ``⌊L·ratio⌋`` of them, a uniform subset, are masked (MAE keeps
    ``int(L·(1 − ratio))``; the two agree up to rounding) and filled with ``fill``.

    Returns ``(images_masked, mask (N, L), kept (N, L_keep) int64, masked (N, L − L_keep) int64)``,
    indices ascending; mask is 1 at masked patches.

    ``images``: batch (N, C, H, W). ``patch_size``: side of the square patches. ``seed``: seed of
    the random draws (a non-negative int): the result depends on it alone, not on the thread count.
    """
    images = as_images(images)
    p = positive_int(patch_size, "patch_size")
    _, _, h, w = images.shape
    if h % p or w % p:
        raise ValueError(f"images {describe(images)} cannot be cut into {p}x{p} patches: H and W must be multiples of patch_size")
    n_patches = (h // p) * (w // p)
    n_masked = int(math.floor(_ratio(ratio) * n_patches))
    return _A.patch_mask(images, p, n_masked, float(check_scalar(fill, "fill")), check_seed(seed))


def color_jitter(images, seed, brightness=0.4, contrast=0.4, clip=True):
    """Brightness then contrast jitter with factors b ~ U[1−β, 1+β], c ~ U[1−γ, 1+γ] (clamped at
    0): y = b·x, then y = c·y + (1 − c)·mean(gray(y)) (torchvision's formulas, in a fixed order;
    gray = 0.299R + 0.587G + 0.114B for 3 channels, else the channel mean); clipped to [0, 1]
    after each step when clip. Returns ``(images, factors (N, 2))``.

    ``seed``: seed of the random draws (a non-negative int): the result depends on it alone, not on
    the thread count. ``brightness``: strength of the brightness change.
    """
    images = as_images(images)
    return _A.color_jitter(images, non_negative(brightness, "brightness"), non_negative(contrast, "contrast"),
                           bool(clip), check_seed(seed))


def gaussian_blur(images, seed, kernel_size=3, sigma=(0.1, 2.0)):
    """Gaussian blur with σ ~ U[sigma] per image, separable odd kernel, reflect padding
    (torchvision GaussianBlur; SimCLR uses kernel ≈ 10% of the image side). Returns
    ``(images, sigmas (N,))``.

    ``seed``: seed of the random draws (a non-negative int): the result depends on it alone, not on
    the thread count. ``kernel_size``: odd side of the blur kernel.
    """
    images = as_images(images)
    k = positive_int(kernel_size, "kernel_size")
    if k % 2 == 0:
        raise ValueError(f"kernel_size must be odd, got {k}")
    if k // 2 >= min(images.shape[2], images.shape[3]):
        raise ValueError(f"kernel_size {k} is too large for {describe(images)}: reflect padding needs "
                         "kernel_size // 2 < min(H, W)")
    s0, s1 = interval(sigma, "sigma", low=0.0)
    return _A.gaussian_blur(images, k, s0, s1, check_seed(seed))
