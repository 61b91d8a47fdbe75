"""InfoNCE against an explicit bank of negatives (MoCo)."""
from __future__ import annotations

from .. import _core
from .._validation import check_array
from ._base import as_pair, positive, temperature as temperature_
from .registry import register_loss, with_queue


@register_loss("info_nce", inputs=with_queue())
def info_nce(q, k, queue, temperature: float = 0.2):
    r"""InfoNCE of queries against their keys and a constant bank of negatives, with gradients.

    .. math::

        \ell_i = -\log \frac{\exp(\hat q_i\cdot\hat k_i/\tau)}
            {\exp(\hat q_i\cdot\hat k_i/\tau) + \sum_{m=1}^{M} \exp(\hat q_i\cdot\hat b_m/\tau)},
        \qquad L = \frac1N \sum_i \ell_i

    Shapes: q, k (N, d); queue (M, d), M >= 1. All rows are L2-normalised (norms clamped at 1e-12).

    Source: He et al., "Momentum Contrast for Unsupervised Visual Representation Learning",
    CVPR 2020, eq. (1) (Oord et al. 2018, eq. 4).

    Convention: asymmetric (only q are anchors), label 0 = the positive, M + 1 classes, no in-batch
    negatives — lightly ``NTXentLoss`` with a memory bank, solo-learn MoCo v2+. The queue is a
    constant (no gradient); the caller enqueues k after the step. Default τ = 0.2 as MoCo v2,
    VISSL and MMSelfSup (solo-learn MoCo v2+ uses 0.1). A bank of M copies of the positive gives
    exactly log(M + 1).

    Returns ``(loss, dq, dk)``.

    ``temperature``: softmax temperature τ > 0 (0.2 as MoCo v2).
    """
    q, k = as_pair(q, k, "q", "k")
    queue = check_array(queue, "queue", ndim=2, dtype=q.dtype)
    if queue.shape[1] != q.shape[1]:
        raise ValueError(f"queue must have {q.shape[1]} features like q {q.shape}, got shape {queue.shape}")
    return _core.losses.info_nce(q, k, queue, temperature_(temperature, "temperature", q.dtype))


class InfoNCELoss:
    """InfoNCE with a bank of negatives; see :func:`info_nce`. ``loss(q, k, queue) -> (loss, dq, dk)``.

    ``temperature``: softmax temperature τ > 0 (0.2 as MoCo v2).
    """

    def __init__(self, temperature: float = 0.2):
        self.temperature = positive(temperature, "temperature")

    def __call__(self, q, k, queue):
        return info_nce(q, k, queue, self.temperature)

    def __repr__(self):
        return f"InfoNCELoss(temperature={self.temperature})"
