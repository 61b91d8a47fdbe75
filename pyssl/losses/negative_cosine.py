"""Negative cosine similarity (SimSiam, BYOL)."""
from __future__ import annotations

from .. import _core
from ._base import as_pair, choice
from .registry import pair, register_loss

_FORMS = {"simsiam": (0.0, 1.0), "byol": (2.0, 2.0)}


@register_loss("negative_cosine", inputs=pair())
def negative_cosine(p, z, form: str = "simsiam"):
    r"""Negative cosine similarity of predictions p to constant targets z, with the gradient in p.

    .. math::

        L = \text{shift} - \text{scale} \cdot \frac1N \sum_i
            \frac{p_i \cdot z_i}{\max(\|p_i\|, \epsilon) \max(\|z_i\|, \epsilon)}

    ``form="simsiam"``: shift 0, scale 1 (−mean cos); ``form="byol"``: shift 2, scale 2
    (2 − 2·mean cos, the mean of ‖p̂ − ẑ‖²).

    Shapes: p, z (N, d). z is treated as constant (stop-gradient): only dp is returned.

    Source: Chen & He, "Exploring Simple Siamese Representation Learning", CVPR 2021, eq. (1);
    Grill et al., "Bootstrap Your Own Latent", NeurIPS 2020, eq. (2).

    Convention: mean over the batch (lightly ``NegativeCosineSimilarity``, solo-learn); the
    stop-gradient is inside the loss, as the papers write it (lightly detaches in the model).
    Norms are clamped at ε = 1e-12. Symmetrise with :func:`symmetric_negative_cosine`.

    Returns ``(loss, dp)``.
    """
    choice(form, "form", _FORMS)
    p, z = as_pair(p, z, "p", "z")
    shift, scale = _FORMS[form]
    return _core.losses.negative_cosine(p, z, shift, scale)


def symmetric_negative_cosine(p1, z1, p2, z2, form: str = "simsiam"):
    """½ [L(p1, z2) + L(p2, z1)]: each view's prediction against the other view's target
    (SimSiam Algorithm 1; BYOL's symmetrised loss halved). Returns ``(loss, dp1, dp2)``.

    ``form``: 'simsiam' (−cos) or 'byol' (2 − 2·cos).
    """
    l1, dp1 = negative_cosine(p1, z2, form)
    l2, dp2 = negative_cosine(p2, z1, form)
    return 0.5 * (l1 + l2), 0.5 * dp1, 0.5 * dp2


class NegativeCosineLoss:
    """Negative cosine similarity; see :func:`negative_cosine`. ``loss(p, z) -> (loss, dp)``.

    ``form``: 'simsiam' (−cos) or 'byol' (2 − 2·cos).
    """

    def __init__(self, form: str = "simsiam"):
        self.form = choice(form, "form", _FORMS)

    def __call__(self, p, z):
        return negative_cosine(p, z, self.form)

    def __repr__(self):
        return f"NegativeCosineLoss(form={self.form!r})"
