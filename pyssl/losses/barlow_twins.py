"""Barlow Twins redundancy-reduction loss."""
from __future__ import annotations

from .. import _core
from ._base import as_pair, finite_result, non_negative, positive
from .registry import pair, register_loss


@register_loss("barlow_twins", inputs=pair())
def barlow_twins(z1, z2, lambd: float = 0.0051, scale: float = 1.0, eps: float = 1e-5):
    r"""Barlow Twins loss and its gradients.

    .. math::

        \tilde z = \frac{z - \mu}{\sqrt{\sigma^2 + \text{eps}}}, \quad
        C = \frac{\tilde z_1^\top \tilde z_2}{N}, \quad
        L = \text{scale} \Big[\sum_i (1 - C_{ii})^2 + \lambda \sum_{i \ne j} C_{ij}^2\Big]

    with per-feature batch mean μ and biased variance σ² (BatchNorm1d without affine, eps 1e-5).

    Shapes: z1, z2 (N, D), N >= 2; C is (D, D).

    Source: Zbontar et al., "Barlow Twins: Self-Supervised Learning via Redundancy Reduction",
    ICML 2021, eqs. (1)-(2); official ``main.py``.

    Convention: λ = 0.0051 and no scale, as the official code, VISSL (λ) and MMSelfSup. lightly uses
    λ = 5e-3; solo-learn λ = 5e-3 with ``scale_loss`` 0.025 (0.1 on CIFAR); VISSL scale 0.024 —
    pass ``scale`` to reproduce those. Invariant to per-feature affine maps of either view (up to
    the eps in the standardisation).

    Returns ``(loss, dz1, dz2)``.

    ``lambd``: off-diagonal weight λ, >= 0 (0.0051 as the paper).
    """
    z1, z2 = as_pair(z1, z2, "z1", "z2", min_rows=2)
    lambd, scale = non_negative(lambd, "lambd"), positive(scale, "scale")
    return finite_result(_core.losses.barlow_twins(z1, z2, lambd, scale, positive(eps, "eps")), "barlow_twins",
                         lambd=lambd, scale=scale)


class BarlowTwinsLoss:
    """Barlow Twins; see :func:`barlow_twins`. ``loss(z1, z2) -> (loss, dz1, dz2)``.

    ``lambd``: off-diagonal weight λ, >= 0. ``scale``: overall scale of the loss, > 0. ``eps``:
    variance floor of the batch standardisation.
    """

    def __init__(self, lambd: float = 0.0051, scale: float = 1.0, eps: float = 1e-5):
        self.lambd = non_negative(lambd, "lambd")
        self.scale = positive(scale, "scale")
        self.eps = positive(eps, "eps")

    def __call__(self, z1, z2):
        return barlow_twins(z1, z2, self.lambd, self.scale, self.eps)

    def __repr__(self):
        return f"BarlowTwinsLoss(lambd={self.lambd}, scale={self.scale})"
