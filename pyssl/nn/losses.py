"""Supervised losses for heads and probes: cross-entropy and mean squared error.

Each is one fused C++ kernel returning ``(loss, grad)``: the scalar loss (Python float) and its
gradient with respect to the prediction, ready for ``module.backward``.
"""
from __future__ import annotations

import numpy as np

from .. import _core
from .._validation import check_array, check_scalar


def _check_labels(labels, n: int) -> np.ndarray:
    if labels is None:
        raise TypeError("labels must be an array of integer class indices, got None")
    lab = np.asarray(labels)
    if lab.dtype == bool or not np.issubdtype(lab.dtype, np.integer):
        raise TypeError(f"labels must hold integer class indices, got dtype {lab.dtype}; "
                        f"convert with labels.astype(np.int64)")
    if lab.shape != (n,):
        raise ValueError(f"labels must have shape ({n},) to match logits' {n} rows, got shape {lab.shape}")
    return np.ascontiguousarray(lab, dtype=np.int64)


def cross_entropy(logits, labels, label_smoothing: float = 0.0):
    """Mean cross-entropy of integer ``labels`` under softmax(``logits``), with its gradient.

    .. math::
        t_{nk} = (1 − ε)[k = y_n] + ε/K,\\qquad
        L = −\\frac1N Σ_n Σ_k t_{nk} \\log \\mathrm{softmax}(x_n)_k,\\qquad
        ∂L/∂x_{nk} = (\\mathrm{softmax}(x_n)_k − t_{nk}) / N

    Label smoothing follows Szegedy et al. 2016 (§7) and PyTorch: the ε/K mass also goes to the
    true class (so its target is 1 − ε + ε/K).

    Parameters
    ----------
    logits : (N, K) float32/float64 array (other numeric dtypes are cast to float32).
    labels : (N,) integer array with values in [0, K).
    label_smoothing : ε in [0, 1].

    Returns
    -------
    (loss, dlogits): float and an (N, K) array of logits' dtype.
    """
    logits = check_array(logits, "logits", ndim=2)
    labels = _check_labels(labels, logits.shape[0])
    check_scalar(label_smoothing, "label_smoothing", low=0.0, high=1.0)
    return _core.nn.cross_entropy(logits, labels, float(label_smoothing))


def mse(pred, target):
    """Mean squared error over all elements, with its gradient.

    .. math::
        L = \\frac1M Σ_i (p_i − t_i)²,\\qquad ∂L/∂p_i = 2 (p_i − t_i) / M

    (M = number of elements; PyTorch's ``MSELoss(reduction="mean")``.) ``pred`` and ``target``
    must have the same shape; ``target`` is cast to ``pred``'s dtype.

    Returns
    -------
    (loss, dpred): float and an array shaped like ``pred``.
    """
    pred = check_array(pred, "pred")
    target = check_array(target, "target", dtype=pred.dtype)
    if target.shape != pred.shape:
        raise ValueError(f"target must have pred's shape {pred.shape}, got shape {target.shape}")
    return _core.nn.mse(pred, target)


class CrossEntropyLoss:
    """``CrossEntropyLoss(label_smoothing)(logits, labels) -> (loss, dlogits)``; see :func:`cross_entropy`."""

    def __init__(self, label_smoothing: float = 0.0):
        check_scalar(label_smoothing, "label_smoothing", low=0.0, high=1.0)
        self.label_smoothing = float(label_smoothing)

    def __call__(self, logits, labels):
        return cross_entropy(logits, labels, self.label_smoothing)

    def __repr__(self) -> str:
        return f"CrossEntropyLoss(label_smoothing={self.label_smoothing})"


class MSELoss:
    """``MSELoss()(pred, target) -> (loss, dpred)``; see :func:`mse`."""

    def __call__(self, pred, target):
        return mse(pred, target)

    def __repr__(self) -> str:
        return "MSELoss()"
