"""TS2Vec's hierarchical contrastive loss (fused C++ forward + backward)."""
from __future__ import annotations

import numbers

from .. import _core
from .._validation import check_scalar
from ._base import as_pair, finite_result
from .registry import register_loss


def _series_pair(rng, dtype, n, d):
    """Contract inputs: z1, z2 (B, T, C) with B = max(2, n // 4) series, T = max(3, min(n, 16))
    steps (an odd length at some sizes: a max-pool drops the last step) and C = d."""
    shape = (max(2, n // 4), max(3, min(n, 16)), d)
    return [rng.standard_normal(shape).astype(dtype), rng.standard_normal(shape).astype(dtype)]


@register_loss("hierarchical_contrastive", inputs=_series_pair)
def hierarchical_contrastive(z1, z2, alpha: float = 0.5, temporal_unit: int = 0):
    r"""TS2Vec's hierarchical contrastive loss, with gradients.

    z1, z2 (B, T, C) are the representations of the overlapping part of two crops (z1[b, t] and
    z2[b, t] are the same timestamp in two contexts). With :math:`r^{(l)}` level l (level 0 the
    inputs, level l + 1 = max-pool over time of level l, kernel 2, stride 2, until length 1) and dot
    products :math:`s_{ij} = r_i \cdot r_j` (no normalisation, no temperature):

    .. math::

        \ell^{inst}_{i,t} = -\log \frac{\exp(r_{i,t}\cdot r'_{i,t})}
            {\sum_{j}\left(\exp(r_{i,t}\cdot r'_{j,t}) + 1_{i\neq j}\exp(r_{i,t}\cdot r_{j,t})\right)},\qquad
        \ell^{temp}_{i,t} = -\log \frac{\exp(r_{i,t}\cdot r'_{i,t})}
            {\sum_{t'}\left(\exp(r_{i,t}\cdot r'_{i,t'}) + 1_{t\neq t'}\exp(r_{i,t}\cdot r_{i,t'})\right)}

    each view taking its turn as the anchor, averaged over anchors; per level
    :math:`\alpha L^{inst} + (1-\alpha) L^{temp}` (the temporal term from level ``temporal_unit`` on,
    none at the last level of length 1), and L the mean over the levels. L_inst is 0 when B = 1.

    Source: Yue et al., "TS2Vec: Towards Universal Representation of Time Series", AAAI 2022,
    eqs. (1)–(3) and Algorithm 1; α = 0.5 and temporal_unit = 0 as the paper.

    Returns ``(loss, dz1, dz2)``.
    """
    z1, z2 = as_pair(z1, z2, "z1", "z2", ndim=3)
    alpha = float(check_scalar(alpha, "alpha", kind=numbers.Real, low=0.0, high=1.0))
    temporal_unit = int(check_scalar(temporal_unit, "temporal_unit", kind=numbers.Integral, low=0))
    return finite_result(_core.losses.ts2vec_hierarchical(z1, z2, alpha, temporal_unit),
                         "hierarchical_contrastive", alpha=alpha)


class HierarchicalContrastiveLoss:
    """TS2Vec's loss; see :func:`hierarchical_contrastive`. ``loss(z1, z2) -> (loss, dz1, dz2)``.

    Parameters
    ----------
    alpha : float
        Weight of the instance-wise term (1 − alpha weights the temporal one), in [0, 1].
    temporal_unit : int
        First level that contributes the temporal term, >= 0.
    """

    def __init__(self, alpha: float = 0.5, temporal_unit: int = 0):
        self.alpha = float(check_scalar(alpha, "alpha", kind=numbers.Real, low=0.0, high=1.0))
        self.temporal_unit = int(check_scalar(temporal_unit, "temporal_unit", kind=numbers.Integral, low=0))

    def __call__(self, z1, z2):
        return hierarchical_contrastive(z1, z2, self.alpha, self.temporal_unit)

    def __repr__(self):
        return f"HierarchicalContrastiveLoss(alpha={self.alpha}, temporal_unit={self.temporal_unit})"
