"""Methods with a momentum (target / teacher) network updated as an exponential moving average
of the online network: MoCo v2 (queue of negatives) and BYOL (predictor, no negatives)."""
from __future__ import annotations

import numpy as np

from .. import losses
from .._seeding import derive_seed
from .._validation import check_scalar
from ..nn.normalize import l2_normalize as _l2_rows
from .base import Method, backward_chain, forward_chain, frozen_copy, register_method



class _MomentumMethod(Method):
    """Shared EMA plumbing: ``target ← m·target + (1−m)·online`` after every optimizer step, with
    ``m`` following BYOL's cosine schedule from ``momentum`` to ``final_momentum``."""

    online_for_target: tuple[str, ...] = ()

    def __init__(self, encoder, momentum, final_momentum, views, seed):
        super().__init__(encoder, views=views, seed=seed)
        self.momentum = check_scalar(momentum, "momentum", low=0.0, high=1.0)
        self.final_momentum = check_scalar(final_momentum, "final_momentum", low=0.0, high=1.0)

    def build_targets(self):
        for online, target in zip(self.online_for_target, self.target_names):
            setattr(self, target, frozen_copy(getattr(self, online)))

    def momentum_at(self, step, total_steps):
        """m_k = m_final − (m_final − m_base)·(cos(πk/K) + 1)/2 (BYOL, §3.2; :func:`optim.cosine_momentum`)."""
        from ..optim import cosine_momentum

        if total_steps <= 1 or self.final_momentum == self.momentum:
            return self.momentum
        return cosine_momentum(step, total_steps, base=self.momentum, final=self.final_momentum)

    def on_step_end(self, step, total_steps):
        from ..optim import ema_update

        m = self.momentum_at(step, total_steps)
        online = [p for n in self.online_for_target for p in getattr(self, n).parameters()]
        target = [p for n in self.target_names for p in getattr(self, n).parameters()]
        ema_update(target, online, m)


@register_method("moco", example=lambda e: MoCo(e, queue_size=64, projection_dim=16), moving_target=True)
class MoCo(_MomentumMethod):
    """MoCo v2 (He et al., CVPR 2020; Chen et al., 2020): query q = g(f(x₁)) from the online
    network, key k = g′(f′(x₂)) from the momentum network, InfoNCE of q against k and a queue of
    ``queue_size`` past keys at ``temperature`` 0.2; the queue is a ring buffer of normalised keys.
    Momentum 0.99 (MoCo v2 uses 0.999 with much longer training).

    Also ``encoder``, ``projector``, ``projection_dim``, ``hidden_dim``, ``views``, ``seed``:
    as in :class:`~pyssl.methods.JointEmbedding`.
    """

    trainable_names = ("encoder", "projector")
    target_names = ("key_encoder", "key_projector")
    online_for_target = ("encoder", "projector")
    buffer_names = ("queue", "queue_ptr")
    buffer_settings = {"queue": "queue_size and projection_dim"}

    def __init__(self, encoder, projector=None, temperature: float = 0.2, queue_size: int = 4096,
                 momentum: float = 0.99, projection_dim: int = 128, hidden_dim: int | None = None,
                 views=None, seed: int | None = 0):
        super().__init__(encoder, momentum, momentum, views, seed)
        self.projector = projector
        self.temperature = check_scalar(temperature, "temperature", low=0.0, low_inclusive=False)
        self.queue_size = check_scalar(queue_size, "queue_size", kind=int, low=1)
        self.projection_dim, self.hidden_dim = projection_dim, hidden_dim
        self._keys = None

    def build_heads(self, feature_dim, X):
        if self.queue_size > X.shape[0]:
            import warnings

            warnings.warn(f"MoCo: queue_size={self.queue_size} is larger than the {X.shape[0]} training samples, so the "
                          "queue holds several keys of every sample, stale keys of each query's own positive among "
                          f"them; pass queue_size <= {X.shape[0]}", UserWarning, stacklevel=4)
        if self.projector is None:
            hidden = self.hidden_dim or max(feature_dim, self.projection_dim)
            self.projector = self.mlp([feature_dim, hidden, self.projection_dim], key=1)
        self.build_targets()
        dim = self.projector.out_features if hasattr(self.projector, "out_features") else self.projection_dim
        q = np.random.default_rng(derive_seed(self.seed, 2)).standard_normal((self.queue_size, dim))
        self.queue = _l2_rows(q).astype(self.dtype)
        self.queue_ptr = np.zeros(1, dtype=np.int64)

    def training_step(self, X, seed):
        x1, x2 = self.make_views(X, seed)
        chain = [self.encoder, self.projector]
        q, ctx = forward_chain(chain, x1)
        k, _ = forward_chain([self.key_encoder, self.key_projector], x2)

        def loss_fn(q, k):  # q, k: the whole batch's; the queue is filled with every rank's keys
            self._keys = _l2_rows(k).astype(self.queue.dtype)
            return losses.info_nce(q, k, self.queue, temperature=self.temperature)

        loss, dq, _ = self.global_loss(loss_fn, q, k)
        backward_chain(chain, dq, ctx)
        return loss

    def on_step_end(self, step, total_steps):
        super().on_step_end(step, total_steps)
        if self._keys is not None:
            k, K = self._keys, self.queue.shape[0]
            n, ptr = k.shape[0], int(self.queue_ptr[0])
            # ring buffer: key j goes to slot (ptr + j) mod K; with more keys than slots (a batch
            # larger than queue_size) only the last K survive, as if enqueued one by one
            first = max(0, n - K)
            self.queue[(ptr + np.arange(first, n)) % K] = k[first:]
            self.queue_ptr[0] = (ptr + n) % K
            self._keys = None


@register_method("byol", example=lambda e: BYOL(e, projection_dim=16), moving_target=True)
class BYOL(_MomentumMethod):
    """BYOL (Grill et al., NeurIPS 2020): online predictor q(g(f(x))) regresses the target
    projection g′(f′(x′)) of the other view; loss 2 − 2·cos, symmetrised over the two views; the
    target follows the online network with momentum rising from 0.996 to 1 on a cosine schedule.

    Parameters
    ----------
    final_momentum
        Target EMA momentum at the end of training (cosine schedule from the start value).
    Also ``encoder``, ``projector``, ``projection_dim``, ``hidden_dim``, ``seed``:
    as in :class:`~pyssl.methods.JointEmbedding`.
    """

    trainable_names = ("encoder", "projector", "predictor")
    target_names = ("target_encoder", "target_projector")
    online_for_target = ("encoder", "projector")

    def __init__(self, encoder, projector=None, predictor=None, momentum: float = 0.996,
                 final_momentum: float = 1.0, projection_dim: int = 128, hidden_dim: int | None = None,
                 views=None, seed: int | None = 0):
        super().__init__(encoder, momentum, final_momentum, views, seed)
        self.projector, self.predictor = projector, predictor
        self.projection_dim, self.hidden_dim = projection_dim, hidden_dim

    def build_heads(self, feature_dim, X):
        hidden = self.hidden_dim or max(feature_dim, self.projection_dim) * 2
        if self.projector is None:
            self.projector = self.mlp([feature_dim, hidden, self.projection_dim], key=1)
        if self.predictor is None:
            self.predictor = self.mlp([self.projection_dim, hidden, self.projection_dim], key=2)
        self.build_targets()

    def training_step(self, X, seed):
        x1, x2 = self.make_views(X, seed)
        n = x1.shape[0]
        x = np.concatenate([x1, x2])
        chain = [self.encoder, self.projector, self.predictor]
        p, ctx = forward_chain(chain, x)
        t, _ = forward_chain([self.target_encoder, self.target_projector], x)

        def loss_fn(p1, p2, t1, t2):  # 2 − 2·cos per direction, summed over both directions
            l1, dp1 = losses.negative_cosine(p1, t2, form="byol")
            l2, dp2 = losses.negative_cosine(p2, t1, form="byol")
            return l1 + l2, dp1, dp2, None, None

        loss, dp1, dp2, _, _ = self.global_loss(loss_fn, p[:n], p[n:], t[:n], t[n:])
        backward_chain(chain, np.concatenate([dp1, dp2]), ctx)
        return float(loss)
