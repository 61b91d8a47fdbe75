"""T-Loss's triplet loss with time-based negative sampling (fused C++ forward + backward)."""
from __future__ import annotations

from .. import _core
from .._validation import check_array, check_same_dtype
from ._base import as_pair, finite_result
from .registry import register_loss


def _triplets(rng, dtype, n, d, k=3):
    """Contract inputs: anchors z and positives (n, d), k = 3 negatives per anchor (3, n, d)."""
    return [rng.standard_normal((n, d)).astype(dtype), rng.standard_normal((n, d)).astype(dtype),
            rng.standard_normal((k, n, d)).astype(dtype)]


@register_loss("time_triplet", inputs=_triplets)
def time_triplet(z, positive, negatives):
    r"""T-Loss's triplet loss, with gradients.

    .. math::

        L = -\frac1B \sum_j \log\sigma(z_j\cdot p_j)
            - \frac1K \sum_{k=1}^{K} \frac1B \sum_j \log\sigma(-z_j\cdot n_{kj})

    Shapes: z, positive (B, D) — the representation of an anchor sub-series and of a sub-series of
    it; negatives (K, B, D) — K sub-series of other series per anchor. Dot products, no
    normalisation; log σ evaluated stably.

    Source: Franceschi, Dieuleveut & Jaggi, "Unsupervised Scalable Representation Learning for
    Multivariate Time Series", NeurIPS 2019, eq. (1) (negative penalty 1, averaged over the K
    negatives as the reference implementation).

    Returns ``(loss, dz, dpositive, dnegatives)``.
    """
    z, positive = as_pair(z, positive, "z", "positive")
    negatives = check_same_dtype("z", z, "negatives", check_array(negatives, "negatives", ndim=3, dtype=z.dtype))
    if negatives.shape[1:] != z.shape:
        raise ValueError(f"negatives must have shape (K, {z.shape[0]}, {z.shape[1]}) to match z {z.shape}, "
                         f"got {negatives.shape}")
    return finite_result(_core.losses.tloss_triplet(z, positive, negatives), "time_triplet")


class TimeTripletLoss:
    """T-Loss; see :func:`time_triplet`. ``loss(z, positive, negatives) -> (loss, dz, dp, dn)``."""

    def __call__(self, z, positive, negatives):
        return time_triplet(z, positive, negatives)

    def __repr__(self):
        return "TimeTripletLoss()"
