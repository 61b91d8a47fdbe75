"""Supervised contrastive loss (SupCon)."""
from __future__ import annotations

import numpy as np

from .. import _core
from .._validation import check_array
from ._base import labels_array, positive, temperature as temperature_
from .registry import register_loss, with_labels


@register_loss("sup_con", inputs=with_labels(views=2), task=lambda out, z: sup_con(out, z))
def sup_con(z, labels, temperature: float = 0.1):
    r"""Supervised contrastive loss and its gradient.

    .. math::

        \ell_a = \frac{-1}{|P(a)|} \sum_{p \in P(a)} \log
            \frac{\exp(s_{ap}/\tau)}{\sum_{b \ne a} \exp(s_{ab}/\tau)}, \qquad
        L = \frac{1}{|A|} \sum_{a \in A} \ell_a

    with cosine similarities :math:`s_{ab}`, :math:`P(a) = \{b \ne a: y_b = y_a\}` and A the anchors
    with at least one positive.

    Shapes: z (N, d), labels (N,) integers; views of one sample share a label.

    Source: Khosla et al., "Supervised Contrastive Learning", NeurIPS 2020, eq. (2)
    (:math:`\mathcal L^{sup}_{out}`, the sum outside the log).

    Convention: anchors without a positive are left out of the mean (the authors' code divides by
    zero there); a batch where no label repeats raises ValueError. No base-temperature factor
    (the authors' ``temperature / base_temperature`` is 1 at their defaults). With labels
    [0..N−1, 0..N−1] this is exactly :func:`nt_xent`. Default τ = 0.1 (paper).

    Returns ``(loss, dz)``.
    """
    z = check_array(z, "z", ndim=2, min_rows=2)
    labels = labels_array(labels, z.shape[0])
    return _core.losses.sup_con(z, labels, temperature_(temperature, "temperature", z.dtype))


def sup_con_distributed(group, z, labels, temperature: float = 0.1):
    """:func:`sup_con` of the rows of every rank, each rank computing its own anchors' share.

    ``z`` (n_r, d) and ``labels`` (n_r,) are this rank's rows; the loss is that of all ranks' rows
    gathered in rank order, and the returned gradient is its derivative with respect to this rank's
    rows — the same as gathering and calling :func:`sup_con`, but each rank forms only its
    n_r × N block of the similarity matrix (cost 1/W of the full loss on W ranks). The ranks' parts
    of dẐ = (G + Gᵀ) Ẑ are summed in one collective. With one process it is :func:`sup_con`.

    group : a :class:`pyssl.distributed.ProcessGroup`.
    Returns ``(loss, dz)``.

    ``temperature``: softmax temperature τ > 0.
    """
    from ..nn.normalize import L2Normalize

    if group.world_size == 1:
        return sup_con(z, labels, temperature)
    z = check_array(z, "z", ndim=2, min_rows=1)
    labels = labels_array(labels, z.shape[0])
    temperature = positive(temperature, "temperature")
    norm = L2Normalize()
    zhat_local, ctx = norm.forward(z)
    zhat, rows = group.allgather_rows(zhat_local)
    all_labels, _ = group.allgather_rows(labels)
    anchors = np.arange(rows.start, rows.stop, dtype=np.int64)
    loss_sum, count, dzhat = _core.losses.sup_con_shard(zhat, all_labels, anchors, temperature)
    totals = group.allreduce_sum_(np.array([loss_sum, count], dtype=np.float64))
    if totals[1] <= 0:
        raise ValueError("sup_con: no sample has a positive (every label occurs once); each label must appear "
                         "at least twice in the batch")
    group.allreduce_sum_(dzhat)
    dzhat_local = np.ascontiguousarray(dzhat[rows]) * dzhat.dtype.type(1.0 / (temperature * totals[1]))
    return float(totals[0] / totals[1]), norm.backward(dzhat_local, ctx)


def nt_xent_distributed(group, z1, z2, temperature: float = 0.1):
    """:func:`nt_xent` of the rows of every rank (``z1``, ``z2``: this rank's two views), each rank
    computing its own anchors' share (:func:`sup_con_distributed` with the sample as label).
    Returns ``(loss, dz1, dz2)`` for this rank's rows.

    ``group``: the :class:`pyssl.distributed.ProcessGroup` of the run. ``temperature``: softmax
    temperature τ > 0.
    """
    n = z1.shape[0]
    if group.world_size == 1:
        from .nt_xent import nt_xent

        return nt_xent(z1, z2, temperature)
    if z2.shape != z1.shape:
        raise ValueError(f"z2 must have the shape of z1 {z1.shape}, got {z2.shape}")
    sample = np.arange(n, dtype=np.int64) + (np.int64(group.rank) << np.int64(32))  # unique over ranks
    loss, dz = sup_con_distributed(group, np.concatenate([z1, z2]), np.concatenate([sample, sample]),
                                   temperature)
    return loss, dz[:n], dz[n:]


class SupConLoss:
    """Supervised contrastive loss; see :func:`sup_con`. ``loss(z, labels) -> (loss, dz)``.

    ``temperature``: softmax temperature τ > 0.
    """

    def __init__(self, temperature: float = 0.1):
        self.temperature = positive(temperature, "temperature")

    def __call__(self, z, labels):
        return sup_con(z, labels, self.temperature)

    def __repr__(self):
        return f"SupConLoss(temperature={self.temperature})"
