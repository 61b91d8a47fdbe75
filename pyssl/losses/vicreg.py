"""VICReg: variance-invariance-covariance regularisation."""
from __future__ import annotations

import numbers

from .. import _core
from .._validation import check_scalar
from ._base import as_pair, finite_result, positive
from .registry import pair, register_loss


def _weight(v, name):
    return float(check_scalar(v, name, kind=numbers.Real, low=0.0))


@register_loss("vicreg", inputs=pair(scale=0.5))  # std 0.5: away from the hinge at 1
def vicreg(z1, z2, sim_weight: float = 25.0, var_weight: float = 25.0, cov_weight: float = 1.0,
           eps: float = 1e-4, return_terms: bool = False):
    r"""VICReg loss and its gradients.

    .. math::

        s = \frac{1}{ND}\sum_{n,j} (z_{1,nj} - z_{2,nj})^2, \quad
        v(z) = \frac1D \sum_j \max\big(0, 1 - \sqrt{\mathrm{Var}(z_{:,j}) + \epsilon}\big), \quad
        c(z) = \frac1D \sum_{i \ne j} \mathrm{Cov}(z)_{ij}^2

    .. math::

        L = \lambda\, s + \mu\, \tfrac12 [v(z_1) + v(z_2)] + \nu\, [c(z_1) + c(z_2)]

    with the unbiased variance and covariance :math:`(z - \bar z)^\top (z - \bar z)/(N - 1)`.

    Shapes: z1, z2 (N, D), N >= 2.

    Source: Bardes, Ponce & LeCun, "VICReg", ICLR 2022, eqs. (1)-(6); official ``main_vicreg.py``.

    Convention: the official code's — the variance term is averaged over the two branches (½),
    which the paper's equation omits (vicreg#8); lightly agrees; solo-learn sums the branches
    (twice the variance weight). γ = 1. Weights λ = μ = 25, ν = 1 (paper).

    Returns ``(loss, dz1, dz2)``, plus ``(s, v, c)`` (unweighted terms) when ``return_terms``.

    ``sim_weight``: weight of the invariance term (25). ``var_weight``: weight of the variance term
    (25). ``cov_weight``: weight of the covariance term (1). ``eps``: small positive constant added
    for numerical safety (see the formula).
    """
    z1, z2 = as_pair(z1, z2, "z1", "z2", min_rows=2)
    w = {"sim_weight": _weight(sim_weight, "sim_weight"), "var_weight": _weight(var_weight, "var_weight"),
         "cov_weight": _weight(cov_weight, "cov_weight")}
    loss, dz1, dz2, terms = _core.losses.vicreg(z1, z2, w["sim_weight"], w["var_weight"], w["cov_weight"],
                                                positive(eps, "eps"))
    finite_result((loss, dz1, dz2), "vicreg", **w)
    return (loss, dz1, dz2, terms) if return_terms else (loss, dz1, dz2)


class VICRegLoss:
    """VICReg; see :func:`vicreg`. ``loss(z1, z2) -> (loss, dz1, dz2)``.

    Parameters ``sim_weight``, ``var_weight``, ``cov_weight`` and ``eps`` as :func:`vicreg`.
    """

    def __init__(self, sim_weight: float = 25.0, var_weight: float = 25.0, cov_weight: float = 1.0,
                 eps: float = 1e-4):
        self.sim_weight = _weight(sim_weight, "sim_weight")
        self.var_weight = _weight(var_weight, "var_weight")
        self.cov_weight = _weight(cov_weight, "cov_weight")
        self.eps = positive(eps, "eps")

    def __call__(self, z1, z2):
        return vicreg(z1, z2, self.sim_weight, self.var_weight, self.cov_weight, self.eps)

    def __repr__(self):
        return (f"VICRegLoss(sim_weight={self.sim_weight}, var_weight={self.var_weight}, "
                f"cov_weight={self.cov_weight}, eps={self.eps})")
