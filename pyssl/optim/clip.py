"""Gradient clipping by global L2 norm (torch.nn.utils.clip_grad_norm_)."""
from __future__ import annotations

import math

import numpy as np

from .. import _core
from .._validation import check_scalar
from .flat import FlatParams, _collect, flat_view


def _grads_of(params_or_flat):
    """(one flat grad array or None, list of per-parameter grads)."""
    from .base import Optimizer

    if isinstance(params_or_flat, Optimizer):
        params_or_flat = params_or_flat.flat
    if isinstance(params_or_flat, FlatParams):
        params_or_flat.check()
        params_or_flat.materialize_grads()
        return params_or_flat.grad, None
    params = _collect(params_or_flat, "params_or_flat")
    grads = [p.grad for p in params]
    return flat_view(grads), grads


def clip_grad_norm(params_or_flat, max_norm: float, error_if_nonfinite: bool = False) -> float:
    r"""Clip gradients in place by their global L2 norm; return the norm before clipping.

    .. math::

        \lVert g\rVert = \Bigl(\sum_{p} \sum_i g_{p,i}^2\Bigr)^{1/2}, \qquad
        c = \frac{\text{max\_norm}}{\lVert g\rVert + 10^{-6}}, \qquad
        g \leftarrow c\, g \ \text{ if } c < 1

    as ``torch.nn.utils.clip_grad_norm_`` (norm_type 2; DINO clips at 3.0). The sum of squares is
    accumulated in float64 over fixed-size blocks, then in block order: the result is
    bit-identical for any thread count (and, for float32 gradients, more accurate than torch's
    float32 norm, so the two can differ in the last bits).

    params_or_flat : FlatParams, an optimizer, a Module or a list of Parameters. When the
        gradients tile one flat buffer (anything built by FlatParams / an optimizer) norm and
        scaling are one fused C++ call; otherwise one norm call per parameter, summed in order.
    error_if_nonfinite : raise ValueError if the norm is NaN or Inf (else the gradients are left
        unchanged and the non-finite norm is returned).
    """
    max_norm = float(check_scalar(max_norm, "max_norm", low=0.0))
    flat, grads = _grads_of(params_or_flat)
    if flat is not None:
        if error_if_nonfinite:
            norm = math.sqrt(_core.optim.sum_squares(flat))
            if not math.isfinite(norm):
                raise ValueError(f"the total gradient norm is {norm}; gradients contain NaN or Inf")
        return float(_core.optim.clip_grad_norm(flat, max_norm))
    total = 0.0
    for g in grads:  # fixed (parameter) order
        total += _core.optim.sum_squares(g)
    norm = math.sqrt(total)
    if not math.isfinite(norm):
        if error_if_nonfinite:
            raise ValueError(f"the total gradient norm is {norm}; gradients contain NaN or Inf")
        return norm
    c = max_norm / (norm + 1e-6)
    if c < 1.0:
        for g in grads:
            np.multiply(g, g.dtype.type(c), out=g)
    return norm
