"""Shared validation for the loss front ends (arrays through pyssl._validation)."""
from __future__ import annotations

import math
import numbers

import numpy as np

from .._validation import NonFiniteError, check_array, check_same_dtype, check_scalar


def as_pair(a, b, name_a: str, name_b: str, *, ndim: int = 2, min_rows: int | None = None):
    """Validate two same-shape arrays; ``b`` is cast to ``a``'s dtype."""
    a = check_array(a, name_a, ndim=ndim, min_rows=min_rows)
    b = check_same_dtype(name_a, a, name_b, check_array(b, name_b, ndim=ndim, dtype=a.dtype))
    if a.shape != b.shape:
        raise ValueError(f"{name_b} must have the same shape as {name_a} {a.shape}, got {b.shape}")
    return a, b


def positive(value, name: str) -> float:
    return float(check_scalar(value, name, kind=numbers.Real, low=0.0, low_inclusive=False))


def temperature(value, name: str, dtype) -> float:
    """A positive temperature τ that, and whose inverse 1/τ (the logit scale), are finite in
    ``dtype``, the dtype the kernel computes in: float32 needs 2.9e-39 <= τ <= 3.4e38."""
    value = positive(value, name)
    largest = float(np.finfo(dtype).max)
    if not 1.0 / largest <= value <= largest:
        raise ValueError(f"The '{name}' parameter must be in [{1.0 / largest:.3g}, {largest:.3g}] for "
                         f"{np.dtype(dtype)} inputs (it or 1/{name} overflows outside), got {value!r}; pass float64 "
                         f"inputs or a {name} in that range")
    return value


def finite_result(result: tuple, loss_name: str, **hyper) -> tuple:
    """``result`` = (loss, *grads) unchanged, or a NonFiniteError if any of it is NaN or Inf. The inputs
    were checked finite, so a non-finite output means they are too large for the weights in
    ``hyper`` in the compute dtype (one pass over the gradients: cheap next to the loss itself)."""
    loss, *grads = result
    if not (math.isfinite(loss) and all(np.isfinite(g).all() for g in grads)):
        dtype = grads[0].dtype if grads else "the input dtype"
        raise NonFiniteError(f"{loss_name}: the loss or its gradient overflowed {dtype}: the inputs are too large for "
                         f"{', '.join(f'{k}={v!r}' for k, v in hyper.items())}; lower these weights, rescale the "
                         "inputs or pass float64 ones (during training this means the run diverged: lower the "
                         "learning rate or clip gradients)")
    return result


def non_negative(value, name: str) -> float:
    return float(check_scalar(value, name, kind=numbers.Real, low=0.0))


def choice(value, name: str, options) -> str:
    """A string among ``options`` (anything else, unhashable values included, gets a ValueError)."""
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"{name} must be one of {sorted(options)}, got {value!r}")
    return value


def iterations(value, name: str = "iterations") -> int:
    return int(check_scalar(value, name, kind=numbers.Integral, low=1, high=2**31 - 1))  # a C int


def labels_array(labels, n: int) -> np.ndarray:
    arr = np.asarray(labels)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ValueError(f"labels must have shape ({n},), one per row of z, got shape {arr.shape}")
    if not (np.issubdtype(arr.dtype, np.integer) or arr.dtype == bool):
        raise TypeError(f"labels must be integers, got dtype {arr.dtype}")
    return np.ascontiguousarray(arr, dtype=np.int64)
