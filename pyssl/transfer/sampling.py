"""Label-fraction sampling for semi-supervised evaluation."""
from __future__ import annotations

import numpy as np

from .._validation import check_scalar, check_seed


def _labels(y) -> np.ndarray:
    """``y`` as a non-empty 1-D array of labels (one per row)."""
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"y must be a 1-D array with one label per row, got shape {y.shape}")
    if y.size == 0:
        raise ValueError("y is empty: there are no labeled rows to sample from")
    if y.dtype == object or not (np.issubdtype(y.dtype, np.number) or y.dtype.kind in "bUS"):
        raise TypeError(f"y must hold numbers or strings, got dtype {y.dtype}")
    if y.dtype.kind == "f" and not np.isfinite(y).all():
        raise ValueError("y contains NaN or Inf")
    return y


def sample_labels(y, fraction: float, seed: int = 0, classification: bool = True) -> np.ndarray:
    """Indices of a ``fraction`` of the labeled rows, stratified by class with at least one
    label per class (classification), or a uniform subset of at least 2 rows (regression).
    Sorted; fixed by ``seed``.

    ``y``: all labels (N,).
    """
    check_scalar(fraction, "fraction", low=0.0, high=1.0, low_inclusive=False)
    seed = check_seed(seed)
    y = _labels(y)
    n = y.shape[0]
    rng = np.random.default_rng(seed)
    if fraction >= 1.0:
        return np.arange(n)
    if not classification:
        k = max(2, int(round(fraction * n)))
        return np.sort(rng.choice(n, size=min(k, n), replace=False))
    picked = []
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        k = max(1, int(round(fraction * idx.size)))
        picked.append(rng.choice(idx, size=k, replace=False))
    return np.sort(np.concatenate(picked))
