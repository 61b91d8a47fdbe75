"""Label-fraction sampling for semi-supervised evaluation."""
from __future__ import annotations

import numpy as np

from .._validation import check_scalar, check_seed


def sample_labels(y, fraction: float, seed: int = 0, classification: bool = True) -> np.ndarray:
    """Indices of a ``fraction`` of the labeled rows, stratified by class with at least one
    label per class (classification), or a uniform subset of at least 2 rows (regression).
    Sorted; fixed by ``seed``."""
    check_scalar(fraction, "fraction", low=0.0, high=1.0, low_inclusive=False)
    seed = check_seed(seed)
    y = np.asarray(y)
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
