"""TS-TCC's temporal contrasting loss (fused C++ forward + backward)."""
from __future__ import annotations

from .. import _core
from ._base import as_pair, finite_result
from .registry import register_loss


def _futures(rng, dtype, n, d, k=3):
    """Contract inputs: k = 3 future steps of latents and their predictions, (3, n, d) each."""
    return [rng.standard_normal((k, n, d)).astype(dtype), rng.standard_normal((k, n, d)).astype(dtype)]


@register_loss("temporal_contrastive", inputs=_futures)
def temporal_contrastive(z, predictions):
    r"""TS-TCC's temporal contrasting loss, with gradients.

    .. math::

        L = -\frac{1}{K B} \sum_{k=1}^{K} \sum_{i=1}^{B}
            \log \frac{\exp(z_{k,i} \cdot p_{k,i})}{\sum_{j=1}^{B} \exp(z_{k,i} \cdot p_{k,j})}

    Shapes: z (K, B, D) — the encoder's latents of one view at the K steps after the context's
    end t; predictions (K, B, D) — p_{k,i} = W_k c_{t,i}, the context vector of the other view
    mapped by the k-th step's linear predictor. Raw dot products (no normalisation or
    temperature); each true future z_{k,i} is contrasted with the predictions of the batch, as the
    reference implementation (log-softmax of ``encode_samples[k] @ pred[k].T``, diagonal).

    Source: Eldele et al., "Time-Series Representation Learning via Temporal and Contextual
    Contrasting", IJCAI 2021, eq. (3) (the contrastive predictive coding loss of Oord et al., 2018,
    across views).

    Returns ``(loss, dz, dpredictions)``.
    """
    z, predictions = as_pair(z, predictions, "z", "predictions", ndim=3)
    return finite_result(_core.losses.tstcc_temporal(z, predictions), "temporal_contrastive")


class TemporalContrastiveLoss:
    """TS-TCC's temporal contrasting; see :func:`temporal_contrastive`.
    ``loss(z, predictions) -> (loss, dz, dpredictions)``."""

    def __call__(self, z, predictions):
        return temporal_contrastive(z, predictions)

    def __repr__(self):
        return "TemporalContrastiveLoss()"
