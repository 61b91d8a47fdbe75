"""Masked reconstruction (MAE, VIME) and mask estimation (VIME) losses."""
from __future__ import annotations

from .. import _core
from .._validation import check_array
from .registry import like, register_loss, with_mask


@register_loss("masked_mse", inputs=with_mask(2),
               task=lambda out, z: masked_mse(out, like(z[0], out), like(z[1], out)))
def masked_mse(pred, target, mask):
    r"""Mean squared error over masked entries only, and its gradient in pred.

    .. math::

        L = \frac{\sum_e m_e (\hat x_e - x_e)^2}{\sum_e m_e}

    Shapes: pred, target (..., P); mask either the same shape (per entry, VIME) or pred's shape
    without the last axis (per token/patch, MAE: every entry of a masked patch counts). Mask values
    are weights, usually 0/1. L = 0 with a zero gradient when nothing is masked.

    Source: He et al., "Masked Autoencoders Are Scalable Vision Learners", CVPR 2022, sec. 3
    ("we compute the loss only on masked patches"); Yoon et al., "VIME", NeurIPS 2020, sec. 4.1
    (feature-vector estimator loss, here restricted to the masked entries).

    Convention: MAE's — mean over the masked entries (per-patch mean then mean over masked patches
    is the same number). No per-patch target normalisation (normalise target yourself).

    Returns ``(loss, dpred)``.
    """
    pred = check_array(pred, "pred", min_ndim=1)
    target = check_array(target, "target", dtype=pred.dtype, min_ndim=1)
    if target.shape != pred.shape:
        raise ValueError(f"target must have the same shape as pred {pred.shape}, got {target.shape}")
    mask = check_array(mask, "mask", dtype=pred.dtype)
    if mask.shape not in (pred.shape, pred.shape[:-1]):
        raise ValueError(f"mask must have shape {pred.shape} or {pred.shape[:-1]}, got {mask.shape}")
    return _core.losses.masked_mse(pred, target, mask)


@register_loss("mask_bce", inputs=with_mask(1), task=lambda out, z: mask_bce(out, like(z, out)))
def mask_bce(logits, mask):
    r"""Binary cross-entropy of mask logits against the corruption mask, and its gradient.

    .. math::

        L = \frac1{|E|}\sum_e \big[\max(x_e, 0) - x_e m_e + \log(1 + e^{-|x_e|})\big]

    (= mean BCE(sigmoid(x), m), computed from logits without overflow).

    Shapes: logits, mask of one shape; mask in [0, 1].

    Source: Yoon et al., "VIME: Extending the Success of Self- and Semi-supervised Learning to
    Tabular Domain", NeurIPS 2020, sec. 4.1 (mask-vector estimator loss l_m).

    Returns ``(loss, dlogits)``.
    """
    logits = check_array(logits, "logits", min_ndim=1)
    mask = check_array(mask, "mask", dtype=logits.dtype)
    if mask.shape != logits.shape:
        raise ValueError(f"mask must have the same shape as logits {logits.shape}, got {mask.shape}")
    if mask.size and (mask.min() < 0 or mask.max() > 1):
        raise ValueError("mask must hold targets in [0, 1]")
    return _core.losses.mask_bce(logits, mask)


class MaskedMSELoss:
    """Masked reconstruction MSE; see :func:`masked_mse`. ``loss(pred, target, mask)``."""

    def __call__(self, pred, target, mask):
        return masked_mse(pred, target, mask)


class MaskBCELoss:
    """VIME mask-estimation BCE; see :func:`mask_bce`. ``loss(logits, mask)``."""

    def __call__(self, logits, mask):
        return mask_bce(logits, mask)
