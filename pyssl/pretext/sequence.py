"""Time-series augmentations for (N, C, T) batches (Um et al. 2017, "Data augmentation of wearable
sensor data for Parkinson's disease monitoring using CNNs"; Eldele et al. 2021, TS-TCC).
One set of random parameters per sample, shared by its channels. Results depend only on seed.
"""
from __future__ import annotations

from .. import _core
from .._validation import check_seed
from ._common import as_sequences, interval, non_negative, positive_int
from .tabular import gaussian_noise, span_mask

_A = _core.augment

__all__ = ["crop_resize", "jitter", "scaling", "segment_permutation", "time_warp", "time_mask"]


def crop_resize(x, seed, scale=(0.5, 1.0), size=None):
    """Random crop and resize: a window of ``len = round(s·T)`` steps, s ~ U[scale], at a uniform
    start, resampled to ``size`` (default T) by linear interpolation (align_corners=False, as
    torch's F.interpolate(mode="linear")). Returns ``(x_out (N, C, size), windows (N, 2))`` with
    windows = (start, length).

    ``x``: sequences (N, C, T). ``seed``: seed of the random draws (a non-negative int): the result
    depends on it alone, not on the thread count.
    """
    x = as_sequences(x)
    lo, hi = interval(scale, "scale", low=0.0, high=1.0)
    t_out = x.shape[2] if size is None else positive_int(size, "size")
    return _A.crop_resize_1d(x, t_out, lo, hi, check_seed(seed))


def jitter(x, sigma, seed):
    """Jitter: additive Gaussian noise x + σ·ε (Um et al. 2017); same draws as gaussian_noise.

    ``sigma``: standard deviation of the random perturbation. ``seed``: seed of the random draws (a
    non-negative int): the result depends on it alone, not on the thread count.
    """
    return gaussian_noise(as_sequences(x), sigma, seed)


def scaling(x, sigma, seed):
    """Scaling: each channel of each sample multiplied by 1 + σ·z, z ~ N(0, 1) (Um et al. 2017).

    ``x``: sequences (N, C, T). ``sigma``: standard deviation of the per-channel scale around 1.
    ``seed``: seed of the random draws (a non-negative int): the result depends on it alone, not on
    the thread count.
    """
    return _A.scaling(as_sequences(x), non_negative(sigma, "sigma"), check_seed(seed))


def segment_permutation(x, segments, seed):
    """Permutation: T is cut into M segments [⌊kT/M⌋, ⌊(k+1)T/M⌋) that are concatenated in a
    uniform random order (Um et al. 2017). Returns ``(x_out, perms (N, M))`` where output segment
    position q holds input segment perms[i, q].

    ``x``: sequences (N, C, T). ``seed``: seed of the random draws (a non-negative int): the result
    depends on it alone, not on the thread count.
    """
    x = as_sequences(x)
    m = positive_int(segments, "segments")
    if m > x.shape[2]:
        raise ValueError(f"segments ({m}) cannot exceed the sequence length T = {x.shape[2]}")
    return _A.segment_permute(x, m, check_seed(seed))


def time_warp(x, sigma, seed, knots=4):
    """Time warping (Um et al. 2017, "Data augmentation of wearable sensor data", §3.2).

    A random speed curve s(u) is the not-a-knot cubic spline (scipy's ``CubicSpline`` default,
    as in the authors' code) through ``knots + 2`` equally spaced values 1 + σ z_k, z_k ~ N(0, 1),
    at both ends and in between. Step j moves by max(s(u_j), 0.1), u_j = j (knots + 1) / (T − 1);
    the cumulative positions p_j = Σ_{l<j} max(s(u_l), 0.1) are rescaled so that p_{T−1} = T − 1,
    and out[..., j] = x read at p_j by linear interpolation (endpoints are kept).

    ``sigma``: standard deviation of the random perturbation. ``seed``: seed of the random draws (a
    non-negative int): the result depends on it alone, not on the thread count.
    """
    return _A.time_warp(as_sequences(x), non_negative(sigma, "sigma"),
                        positive_int(knots, "knots", low=0), check_seed(seed))


def time_mask(x, ratio, seed, fill=0.0):
    """Time masking: one span of max(1, ⌊ratio·T⌋) steps set to fill in all channels
    (see :func:`pyssl.pretext.span_mask`). Returns ``(x_masked, mask)``.

    ``x``: sequences (N, C, T). ``seed``: seed of the random draws (a non-negative int): the result
    depends on it alone, not on the thread count.
    """
    return span_mask(as_sequences(x), ratio, seed, fill)
