"""Shared validation and seeding for pyssl.pretext.

Seeds and streams
-----------------
Every random draw is made in C++ from ``Stream(seed, stream)`` (Philox4x32-10, csrc/random), with
``stream = tag · 2**40 + sample`` where ``tag`` is a fixed id per kernel (csrc/augment/common.hpp).
A functional transform uses the ``seed`` it is given as is, so two different transforms called
with the same seed are still independent (different tags), and the result depends only on the seed
and the sample index — never on the thread count or on the other samples' shapes.

Composed transforms derive child seeds deterministically with :func:`derive_seed`::

    Compose([t0, t1])(x, seed)      t_i gets derive_seed(seed, i)
    RandomApply(t, p)(x, seed)      decision u_i from derive_seed(seed, "apply"),
                                    t gets derive_seed(seed, "inner")
    MultiView(t, V)(x, seed)        view v gets derive_seed(seed, "view", v)
    task.generate(x, seed)          each random part gets derive_seed(seed, "<part name>")

``derive_seed`` folds each path element into a 64-bit state with SplitMix64 (Steele et al. 2014);
strings enter through their FNV-1a 64-bit hash of the UTF-8 bytes (never Python's salted hash()).
"""
from __future__ import annotations

import contextlib
import numbers

import numpy as np

from .._validation import check_array, check_scalar, describe

from .._seeding import derive_seed  # noqa: F401  (one seeding scheme for the whole library)


def as_batch(x, name: str = "x", *, ndim=None, min_ndim=2) -> np.ndarray:
    """Validate a float batch (N, ...) with N >= 1 and no empty axis.

    Finiteness is deliberately not checked here: transforms never create NaN or Inf from finite
    input (they move, mask, mix or add finite noise), a full isfinite pass would cost as much as
    the memory-bound transforms themselves, and the losses downstream check their inputs. A NaN
    in x stays where it is (or, for SCARF / VIME / mixup / blur, reaches the rows that read it).
    """
    arr = check_array(x, name, ndim=ndim, min_ndim=None if ndim is not None else min_ndim, finite=False)
    if arr.shape[0] < 1 or 0 in arr.shape:
        raise ValueError(f"{name} must be a non-empty batch, got {describe(arr)}")
    return arr


def as_images(images, name: str = "images") -> np.ndarray:
    arr = np.asarray(images) if images is not None else None
    if arr is not None and arr.ndim != 4:
        raise ValueError(f"{name} must be 4-D (N, C, H, W), got {describe(arr)}; "
                         "add a channel axis with images[:, None] for grayscale (N, H, W)")
    return as_batch(images, name, ndim=4)


def as_sequences(x, name: str = "x") -> np.ndarray:
    arr = np.asarray(x) if x is not None else None
    if arr is not None and arr.ndim != 3:
        raise ValueError(f"{name} must be 3-D (N, C, T), got {describe(arr)}; "
                         "use x[:, None, :] for a univariate (N, T) batch")
    return as_batch(x, name, ndim=3)


def ratio(value, name: str = "ratio") -> float:
    return float(check_scalar(value, name, low=0.0, high=1.0))


def positive_int(value, name: str, low: int = 1) -> int:
    return int(check_scalar(value, name, kind=numbers.Integral, low=low))


def non_negative(value, name: str) -> float:
    return float(check_scalar(value, name, low=0.0))


def interval(value, name: str, low=None, high=None, low_inclusive=False):
    """A (lo, hi) pair with low <(=) lo <= hi <= high."""
    try:
        lo, hi = value
    except (TypeError, ValueError):
        raise TypeError(f"The '{name}' parameter must be a (low, high) pair, got {value!r}") from None
    lo = check_scalar(lo, f"{name}[0]", low=low, high=high, low_inclusive=low_inclusive)
    hi = check_scalar(hi, f"{name}[1]", low=low, high=high, low_inclusive=low_inclusive)
    if lo > hi:
        raise ValueError(f"The '{name}' parameter must satisfy low <= high, got {value!r}")
    return float(lo), float(hi)


def int_labels(k, n: int, name: str) -> np.ndarray:
    """Scalar int or (N,) ints -> contiguous int64 (N,)."""
    if type(k) is np.ndarray and k.dtype == np.int64 and k.shape == (n,):  # fast path
        return np.ascontiguousarray(k)
    if isinstance(k, numbers.Integral) and not isinstance(k, bool):
        return np.full(n, int(check_scalar(k, name, kind=numbers.Integral)), dtype=np.int64)
    arr = np.asarray(k)
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"{name} must be an int or an integer array, got {describe(arr)}")
    if arr.shape != (n,):
        raise ValueError(f"{name} must be an int or have shape ({n},), got {describe(arr)}")
    return np.ascontiguousarray(arr, dtype=np.int64)


@contextlib.contextmanager
def sample_offset(k: int):
    """Within this block, sample i of every augmentation call gets the random draws of sample
    ``k + i``: the rows [k, k + n) of a larger batch, augmented alone, come out exactly as they
    would in the whole batch — for transforms whose row i depends only on x_i (``per_sample``
    transforms: not Mixup, VIME or SCARF against the batch itself). Data-parallel training uses
    it so that each rank augments only its own rows. Process-wide; blocks do not nest with other
    threads' augmentation calls."""
    from .. import _core

    k = int(check_scalar(k, "k", kind=numbers.Integral, low=0))
    before = _core.augment.get_sample_offset()
    _core.augment.set_sample_offset(before + k)
    try:
        yield
    finally:
        _core.augment.set_sample_offset(before)
