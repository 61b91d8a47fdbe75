"""NT-Xent, the normalised temperature-scaled cross-entropy of SimCLR."""
from __future__ import annotations

from .. import _core
from ._base import as_pair, positive, temperature as temperature_
from .registry import instance_task, pair, register_loss


@register_loss("nt_xent", inputs=pair(), task=instance_task)
def nt_xent(z1, z2, temperature: float = 0.1):
    r"""NT-Xent loss of two views and its gradients.

    .. math::

        \ell_a = -\log \frac{\exp(s_{a,p(a)}/\tau)}{\sum_{b \ne a} \exp(s_{ab}/\tau)}, \qquad
        L = \frac{1}{2N} \sum_{a=1}^{2N} \ell_a

    over the 2N embeddings :math:`[z_1; z_2]` with cosine similarities
    :math:`s_{ab} = \hat z_a \cdot \hat z_b`, :math:`\hat z = z / \max(\|z\|, 10^{-12})`, and
    :math:`p(a) = a \pm N` the other view of the same sample.

    Shapes: z1, z2 (N, d), N >= 2; row i of z1 and row i of z2 are a positive pair.

    Source: Chen et al., "A Simple Framework for Contrastive Learning of Visual Representations",
    ICML 2020, eq. (1) and Algorithm 1.

    Convention: self-similarity excluded, the positive counted in the denominator (2N − 1 terms),
    mean over all 2N anchors — as lightly ``NTXentLoss``, solo-learn ``simclr_loss_func`` (2 views)
    and VISSL. The default temperature 0.1 follows the SimCLR paper, solo-learn and VISSL; lightly
    defaults to 0.5. Collapsed embeddings give exactly log(2N − 1).

    Returns ``(loss, dz1, dz2)``: a Python float and gradients of the input dtype.
    """
    z1, z2 = as_pair(z1, z2, "z1", "z2", min_rows=2)
    return _core.losses.nt_xent(z1, z2, temperature_(temperature, "temperature", z1.dtype))


class NTXentLoss:
    """NT-Xent (SimCLR); see :func:`nt_xent`. ``loss(z1, z2) -> (loss, dz1, dz2)``.

    ``temperature``: softmax temperature τ > 0.
    """

    def __init__(self, temperature: float = 0.1):
        self.temperature = positive(temperature, "temperature")

    def __call__(self, z1, z2):
        return nt_xent(z1, z2, self.temperature)

    def __repr__(self):
        return f"NTXentLoss(temperature={self.temperature})"
