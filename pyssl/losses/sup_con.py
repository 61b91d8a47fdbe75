"""Supervised contrastive loss (SupCon)."""
from __future__ import annotations

from .. import _core
from .._validation import check_array
from ._base import labels_array, positive, temperature as temperature_


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


class SupConLoss:
    """Supervised contrastive loss; see :func:`sup_con`. ``loss(z, labels) -> (loss, dz)``."""

    def __init__(self, temperature: float = 0.1):
        self.temperature = positive(temperature, "temperature")

    def __call__(self, z, labels):
        return sup_con(z, labels, self.temperature)

    def __repr__(self):
        return f"SupConLoss(temperature={self.temperature})"
