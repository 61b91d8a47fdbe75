"""Exponential moving average of parameters (BYOL target, MoCo key encoder, DINO teacher)."""
from __future__ import annotations

import math
import numbers

from .. import _core
from .._validation import check_scalar
from .flat import FlatParams, _collect, flat_view


def _data_of(x, name):
    from .base import Optimizer

    if isinstance(x, Optimizer):
        x = x.flat
    if isinstance(x, FlatParams):
        x.check()
        return x.data, [p.data for p in x.params]
    params = _collect(x, name)
    arrays = [p.data for p in params]
    return flat_view(arrays), arrays


def ema_update(target_params, online_params, momentum: float) -> None:
    r"""Move the target parameters towards the online ones, in place:

    .. math:: \xi \leftarrow m\, \xi + (1 - m)\, \theta

    with ξ = ``target_params``, θ = ``online_params``, m = ``momentum`` ∈ [0, 1] (BYOL, Grill et
    al. 2020, Eq. 1; MoCo, He et al. 2020, Eq. 2; DINO teacher).

    Both sides are FlatParams, optimizers, Modules or lists of Parameters with the same shapes in
    the same order. When both tile flat buffers (wrap the target in ``FlatParams`` once, and let
    the online side be an optimizer's parameters) the update is one fused C++ call; otherwise one
    call per parameter.

    .. warning:: Convention. m weights the *target* (BYOL, lightly, MMSelfSup: m → 1 freezes the
       target). MMPretrain's ``CosineEMA`` weights the source instead (its m = 1 − ours).
    """
    m = float(check_scalar(momentum, "momentum", low=0.0, high=1.0))
    tflat, tarrays = _data_of(target_params, "target_params")
    oflat, oarrays = _data_of(online_params, "online_params")
    if len(tarrays) != len(oarrays):
        raise ValueError(f"target_params has {len(tarrays)} parameters but online_params has {len(oarrays)}")
    for i, (t, o) in enumerate(zip(tarrays, oarrays)):
        if t.shape != o.shape or t.dtype != o.dtype:
            raise ValueError(f"parameter {i}: target has shape {t.shape} {t.dtype}, online has {o.shape} {o.dtype}")
    if tflat is not None and oflat is not None and tflat.size == oflat.size:
        _core.optim.ema_update(tflat, oflat, m)
        return
    for t, o in zip(tarrays, oarrays):
        _core.optim.ema_update(t, o, m)


def cosine_momentum(step: int, total_steps: int, base: float = 0.996, final: float = 1.0) -> float:
    r"""BYOL's target-momentum schedule (Grill et al. 2020, §3.2):

    .. math:: m_k = m_f - (m_f - m_0)\,\bigl(\cos(\pi k / K) + 1\bigr) / 2

    with m₀ = ``base`` (0.996 in BYOL, 0.99 in solo-learn's CIFAR configs), m_f = ``final`` (1),
    k = ``step`` clamped to K = ``total_steps``. With m_f = 1 this is 1 − (1 − m₀)(cos(πk/K) + 1)/2.
    """
    k = int(check_scalar(step, "step", kind=numbers.Integral, low=0))
    K = int(check_scalar(total_steps, "total_steps", kind=numbers.Integral, low=1))
    base = float(check_scalar(base, "base", low=0.0, high=1.0))
    final = float(check_scalar(final, "final", low=0.0, high=1.0))
    k = min(k, K)
    return final - (final - base) * (math.cos(math.pi * k / K) + 1.0) / 2.0
