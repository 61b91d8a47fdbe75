"""SwAV swapped prediction with Sinkhorn-Knopp codes."""
from __future__ import annotations

from .. import _core
from .._validation import check_array
from ._base import as_pair, iterations as _iterations, positive, temperature as temperature_
from .registry import pair, register_loss


def sinkhorn(scores, epsilon: float = 0.05, iterations: int = 3):
    r"""Sinkhorn-Knopp codes (equal-partition soft assignments) of prototype scores, no gradient.

    Starting from :math:`Q = \exp(S/\epsilon)^\top` (K × N), each iteration scales every prototype
    row to sum 1/K, then every sample column to sum 1/N; the codes are :math:`N Q^\top`, so each
    sample's code sums to 1 and each prototype receives about N/K.

    Shapes: scores (N, K) -> codes (N, K).

    Source: Caron et al., "Unsupervised Learning of Visual Features by Contrasting Cluster
    Assignments", NeurIPS 2020, sec. 3.1 and eq. (3); official ``distributed_sinkhorn``.

    Convention: the official algorithm (with its ``Q /= K`` step; lightly omits it, which the next
    normalisation cancels). Sums and scalings are float64; exp(S/ε) is shifted by each prototype's
    maximum (which cancels exactly), and when a sample's scores are so far below the others that
    its entries would underflow, the same iterations run in the log domain — no score range
    overflows or divides by zero (the official float32 code does both beyond |S|/ε ≈ 88).
    """
    scores = check_array(scores, "scores", ndim=2)
    return _core.losses.sinkhorn(scores, positive(epsilon, "epsilon"), _iterations(iterations))


@register_loss("swav", inputs=pair(uniform=True), fd=False)  # codes are constants
def swav(scores1, scores2, temperature: float = 0.1, epsilon: float = 0.05, iterations: int = 3):
    r"""SwAV swapped-prediction loss of two views and its gradients (codes are constants).

    .. math::

        L = -\frac{1}{2N} \sum_n \Big[ \sum_k q_{2,nk} \log \mathrm{softmax}(s_{1,n}/\tau)_k
            + \sum_k q_{1,nk} \log \mathrm{softmax}(s_{2,n}/\tau)_k \Big],
        \qquad q_v = \mathrm{sinkhorn}(s_v, \epsilon)

    Shapes: scores1, scores2 (N, K) — scores of normalised features against the prototypes.

    Source: Caron et al. 2020, eqs. (1)-(2); defaults ε = 0.05, 3 iterations, τ = 0.1 (paper,
    official code, lightly, solo-learn, MMPretrain).

    Convention: two crops, loss averaged over the two assignments (official ``subloss /
    (n_crops − 1)`` then mean); no queue (prepend queue scores to build codes yourself).

    Returns ``(loss, ds1, ds2)``.

    ``temperature``: softmax temperature τ > 0.
    """
    s1, s2 = as_pair(scores1, scores2, "scores1", "scores2")
    return _core.losses.swav(s1, s2, temperature_(temperature, "temperature", s1.dtype), positive(epsilon, "epsilon"),
                             _iterations(iterations))


class SwAVLoss:
    """SwAV; see :func:`swav`. ``loss(scores1, scores2) -> (loss, ds1, ds2)``.

    ``temperature``: softmax temperature τ > 0. ``epsilon``: entropic regularisation ε of the
    Sinkhorn codes, > 0. ``iterations``: sinkhorn-Knopp iterations, >= 1.
    """

    def __init__(self, temperature: float = 0.1, epsilon: float = 0.05, iterations: int = 3):
        self.temperature = positive(temperature, "temperature")
        self.epsilon = positive(epsilon, "epsilon")
        self.iterations = _iterations(iterations)

    def __call__(self, scores1, scores2):
        return swav(scores1, scores2, self.temperature, self.epsilon, self.iterations)

    def __repr__(self):
        return f"SwAVLoss(temperature={self.temperature}, epsilon={self.epsilon}, iterations={self.iterations})"
