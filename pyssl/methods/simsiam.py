"""SimSiam (Chen & He, CVPR 2021): BYOL without a momentum network; the stop-gradient alone
prevents collapse. L = ½ D(p₁, sg(z₂)) + ½ D(p₂, sg(z₁)), D = negative cosine similarity."""
from __future__ import annotations

import numpy as np

from .. import losses
from .base import Method, backward_chain, forward_chain, register_method


@register_method("simsiam", example=lambda e: SimSiam(e, projection_dim=16), moving_target=True)
class SimSiam(Method):
    """None

    Parameters
    ----------
    predictor
        The predictor head (default: MLP [projection_dim, predictor_hidden_dim, projection_dim]).
    predictor_hidden_dim
        Hidden width of the default predictor.
    Also ``encoder``, ``projector``, ``projection_dim``, ``views``, ``seed``:
    as in :class:`~pyssl.methods.JointEmbedding`.
    """
    trainable_names = ("encoder", "projector", "predictor")

    def __init__(self, encoder, projector=None, predictor=None, projection_dim: int = 128,
                 predictor_hidden_dim: int | None = None, views=None, seed: int | None = 0):
        super().__init__(encoder, views=views, seed=seed)
        self.projector, self.predictor = projector, predictor
        self.projection_dim, self.predictor_hidden_dim = projection_dim, predictor_hidden_dim

    def build_heads(self, feature_dim, X):
        if self.projector is None:
            self.projector = self.mlp([feature_dim, max(feature_dim, self.projection_dim), self.projection_dim], key=1)
        if self.predictor is None:
            hid = self.predictor_hidden_dim or max(self.projection_dim // 4, 8)
            self.predictor = self.mlp([self.projection_dim, hid, self.projection_dim], key=2)

    def training_step(self, X, seed):
        x1, x2 = self.make_views(X, seed)
        n = x1.shape[0]
        enc = [self.encoder, self.projector]
        z, ctx_z = forward_chain(enc, np.concatenate([x1, x2]))
        p, ctx_p = self.predictor.forward(z)

        def loss_fn(p1, p2, z1, z2):  # z is the stop-gradient target
            return (*losses.symmetric_negative_cosine(p1, z1, p2, z2), None, None)

        loss, dp1, dp2, _, _ = self.global_loss(loss_fn, p[:n], p[n:], z[:n], z[n:])
        dz = self.predictor.backward(np.concatenate([dp1, dp2]), ctx_p)
        backward_chain(enc, dz, ctx_z)
        return loss
