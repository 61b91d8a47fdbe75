"""MoCo v3 (Chen, Xie & He, "An Empirical Study of Training Self-Supervised Vision Transformers",
ICCV 2021): symmetric in-batch InfoNCE between an online predictor and a momentum key network,
no queue."""
from __future__ import annotations

import numpy as np

from .. import _core
from ..nn.losses import cross_entropy
from .momentum import _MomentumMethod
from .base import backward_chain, forward_chain, register_method
from .._validation import check_array, check_scalar


def moco_v3_loss(q, k, temperature: float = 0.2):
    """MoCo v3's contrastive loss of queries q against keys k (Chen et al. 2021, Algorithm 1):

    .. math::
        \\operatorname{ctr}(q, k) = 2τ \\cdot \\frac1N \\sum_i −\\log
        \\frac{\\exp(\\hat q_i\\cdot \\hat k_i/τ)}{\\sum_j \\exp(\\hat q_i \\cdot \\hat k_j/τ)}

    with rows L2-normalised; the other samples' keys of the batch are the negatives (no queue);
    the factor 2τ is the paper's. Shapes q, k (N, d). k is a constant (the momentum network's
    output, stop-gradient). Returns ``(loss, dq)``.
    """
    q = check_array(q, "q", ndim=2)
    k = check_array(k, "k", ndim=2, dtype=q.dtype)
    if k.shape != q.shape:
        raise ValueError(f"k must have the shape of q {q.shape}, got {k.shape}")
    temperature = check_scalar(temperature, "temperature", low=0.0, low_inclusive=False)
    qh, qn = _core.nn.l2_normalize_forward(q)
    kh, _ = _core.nn.l2_normalize_forward(k)
    logits = _core.matmul(qh, np.ascontiguousarray(kh.T))
    logits *= logits.dtype.type(1.0 / temperature)
    ce, dlogits = cross_entropy(logits, np.arange(q.shape[0]))
    scale = 2.0 * temperature
    dqh = _core.matmul(dlogits, kh) * q.dtype.type(scale / temperature)
    return scale * ce, _core.nn.l2_normalize_backward(qh, qn, np.ascontiguousarray(dqh))


@register_method("moco_v3", example=lambda e: MoCoV3(e, projection_dim=16, hidden_dim=16), moving_target=True)
class MoCoV3(_MomentumMethod):
    """MoCo v3 (Chen, Xie & He, ICCV 2021). Two views x₁, x₂; online q_v = pred(proj(f(x_v))), momentum
    keys k_v = proj′(f′(x_v)); loss ctr(q₁, k₂) + ctr(q₂, k₁) (:func:`moco_v3_loss`, in-batch
    negatives, ``temperature`` τ = 0.2), the momentum network following the online one with
    m rising from ``momentum`` 0.99 to ``final_momentum`` 1 on the cosine schedule
    (:func:`pyssl.optim.cosine_momentum`). Projector: 3-layer MLP with BatchNorm, predictor:
    2-layer MLP with BatchNorm (the paper's heads, narrower by default: ``hidden_dim``,
    ``projection_dim``). Any extractor works; the paper's is a ViT (:class:`pyssl.nn.ViT`).

    Parameters
    ----------
    encoder : pyssl.nn.Module
        The extractor f (copied for the momentum network f′).
    projector, predictor : pyssl.nn.Module, optional
        Heads to use instead of the default MLPs (built at setup from ``projection_dim``,
        ``hidden_dim``).
    temperature : float
        τ of the contrastive loss.
    momentum, final_momentum : float
        Start and end of the cosine momentum schedule.
    projection_dim : int
        Output width of projector and predictor.
    hidden_dim : int, optional
        Hidden width of the heads (default: 2·max(feature width, projection_dim)).
    views : pyssl.pretext transform, optional
        The two-view augmentation (default: the views matching the input's rank).
    seed : int or None
        Seed of the views and head initialisation.
    """

    trainable_names = ("encoder", "projector", "predictor")
    target_names = ("key_encoder", "key_projector")
    online_for_target = ("encoder", "projector")

    def __init__(self, encoder, projector=None, predictor=None, temperature: float = 0.2, momentum: float = 0.99,
                 final_momentum: float = 1.0, projection_dim: int = 256, hidden_dim: int | None = None,
                 views=None, seed: int | None = 0):
        super().__init__(encoder, momentum, final_momentum, views, seed)
        self.projector, self.predictor = projector, predictor
        self.temperature = check_scalar(temperature, "temperature", low=0.0, low_inclusive=False)
        self.projection_dim, self.hidden_dim = int(projection_dim), hidden_dim

    def build_heads(self, feature_dim, X):
        hidden = self.hidden_dim or 2 * max(feature_dim, self.projection_dim)
        if self.projector is None:
            self.projector = self.mlp([feature_dim, hidden, hidden, self.projection_dim], key=1)
        if self.predictor is None:
            self.predictor = self.mlp([self.projection_dim, hidden, self.projection_dim], key=2)
        self.build_targets()

    def training_step(self, X, seed):
        x1, x2 = self.make_views(X, seed)
        # each view through the networks on its own, as the paper's Algorithm 1 (BatchNorm
        # statistics of the heads are per view)
        chain = [self.encoder, self.projector, self.predictor]
        q1, ctx1 = forward_chain(chain, x1)
        q2, ctx2 = forward_chain(chain, x2)
        keys = [self.key_encoder, self.key_projector]
        k1, _ = forward_chain(keys, x1)
        k2, _ = forward_chain(keys, x2)
        tau = self.temperature

        def loss_fn(q1, q2, k1, k2):
            l1, d1 = moco_v3_loss(q1, k2, tau)
            l2, d2 = moco_v3_loss(q2, k1, tau)
            return l1 + l2, d1, d2, None, None

        loss, dq1, dq2, _, _ = self.global_loss(loss_fn, q1, q2, k1, k2)
        backward_chain(chain, dq2, ctx2)
        backward_chain(chain, dq1, ctx1)
        return float(loss)
