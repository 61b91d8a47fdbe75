"""Clustering / self-distillation methods: SwAV (prototypes + Sinkhorn codes) and DINO
(student–teacher distillation with a centered, sharpened teacher)."""
from __future__ import annotations

import numpy as np

from .. import _core, losses
from .._seeding import derive_seed
from .._validation import check_scalar
from ..nn.linear import Linear
from ..nn.normalize import L2Normalize
from .base import Method, backward_chain, forward_chain, register_method
from .momentum import _MomentumMethod
from .multicrop import backward_crops, check_multi_crop, forward_crops, swav_multi_crop


@register_method("swav", example=lambda e: SwAV(e, n_prototypes=8, projection_dim=16), moving_target=True)
class SwAV(Method):
    """SwAV (Caron et al., NeurIPS 2020): scores of L2-normalised projections against K
    L2-normalised prototypes; codes from Sinkhorn-Knopp (ε = 0.05, 3 iterations, no gradient);
    swapped prediction cross-entropy at temperature 0.1. Prototypes are re-normalised before each
    step, as in the paper's code.

    Parameters
    ----------
    n_prototypes
        K, the number of prototypes.
    epsilon
        Entropic regularisation ε of the Sinkhorn codes.
    sinkhorn_iterations
        Sinkhorn-Knopp iterations.
    multi_crop
        None (two views), or a :class:`~pyssl.methods.MultiCrop`: codes of the global crops, each
        predicted from every other crop (:func:`pyssl.methods.multicrop.swav_multi_crop`).
    Also ``encoder``, ``projector``, ``projection_dim``, ``hidden_dim``, ``views``, ``seed``:
    as in :class:`~pyssl.methods.JointEmbedding`.
    """

    trainable_names = ("encoder", "projector", "prototypes")

    def __init__(self, encoder, projector=None, n_prototypes: int = 64, temperature: float = 0.1,
                 epsilon: float = 0.05, sinkhorn_iterations: int = 3, projection_dim: int = 128,
                 hidden_dim: int | None = None, views=None, seed: int | None = 0, multi_crop=None):
        super().__init__(encoder, views=views, seed=seed)
        self.multi_crop = check_multi_crop(multi_crop)  # MultiCrop: codes of the global crops, all crops predict
        self.projector = projector
        self.n_prototypes = check_scalar(n_prototypes, "n_prototypes", kind=int, low=2)
        self.temperature = check_scalar(temperature, "temperature", low=0.0, low_inclusive=False)
        self.epsilon = check_scalar(epsilon, "epsilon", low=0.0, low_inclusive=False)
        self.sinkhorn_iterations = check_scalar(sinkhorn_iterations, "sinkhorn_iterations", kind=int, low=1)
        self.projection_dim, self.hidden_dim = projection_dim, hidden_dim
        self.prototypes = None
        self._normalize = L2Normalize()

    def build_heads(self, feature_dim, X):
        if self.projector is None:
            hidden = self.hidden_dim or max(feature_dim, self.projection_dim)
            self.projector = self.mlp([feature_dim, hidden, self.projection_dim], key=1)
        self.prototypes = Linear(self.projection_dim, self.n_prototypes, bias=False, dtype=self.dtype,
                                 seed=derive_seed(self.seed, 3))
        self._normalize_prototypes()

    def _normalize_prototypes(self):
        w = self.prototypes.weight.data  # (d, K): column k is prototype k
        w /= np.maximum(np.linalg.norm(w, axis=0, keepdims=True), 1e-12)

    def training_step(self, X, seed):
        self._normalize_prototypes()
        if self.multi_crop is not None:
            return self._multi_crop_step(X, seed)
        x1, x2 = self.make_views(X, seed)
        n = x1.shape[0]
        chain = [self.encoder, self.projector]
        z, ctx = forward_chain(chain, np.concatenate([x1, x2]))
        u, nctx = self._normalize.forward(z)
        scores, pctx = self.prototypes.forward(u)
        loss, ds1, ds2 = self.global_loss(  # Sinkhorn codes over the whole batch
            lambda a, b: losses.swav(a, b, temperature=self.temperature, epsilon=self.epsilon,
                                     iterations=self.sinkhorn_iterations), scores[:n], scores[n:])
        du = self.prototypes.backward(np.concatenate([ds1, ds2]), pctx)
        backward_chain(chain, self._normalize.backward(du, nctx), ctx)
        return loss

    def _multi_crop_step(self, X, seed):
        """Multi-crop (Caron et al. 2020, §3.2): :func:`pyssl.methods.multicrop.swav_multi_crop`."""
        mc = self.multi_crop
        gl, lo = mc.crops(X, seed)
        head = [self.projector, self._normalize, self.prototypes]
        scores, ctx = forward_crops(self, self.encoder, head, [[self.local(v) for v in gl], [self.local(v) for v in lo]])
        loss, *ds = self.global_loss(
            lambda *s: swav_multi_crop(s, mc.n_global, self.temperature, self.epsilon, self.sinkhorn_iterations),
            *scores)
        backward_crops(self.encoder, head, ds, ctx)
        return float(loss)


@register_method("dino", example=lambda e: DINO(e, out_dim=16), moving_target=True)
class DINO(_MomentumMethod):
    """DINO (Caron et al., ICCV 2021): the student's softmax(s/τ_s) matches the teacher's
    softmax((t − C)/τ_t) across different views; the teacher is an EMA of the student (momentum
    0.996 → 1, cosine) and the center C an EMA (m = 0.9) of teacher outputs. τ_s = 0.1, τ_t = 0.04.

    Parameters
    ----------
    head
        The DINO head k_γ (default: MLP to ``out_dim`` with an L2-normalised bottleneck).
    out_dim
        K, the width of the head's output.
    student_temp
        Student temperature τ_s > 0.
    teacher_temp
        Teacher temperature τ_t > 0.
    center_momentum
        EMA momentum of the centre.
    final_momentum
        Teacher EMA momentum at the end of training (cosine schedule from the start value).
    multi_crop
        None (two views), or a :class:`~pyssl.methods.MultiCrop`: the student sees every crop,
        the teacher the global ones.
    Also ``encoder``, ``hidden_dim``, ``seed``:
    as in :class:`~pyssl.methods.JointEmbedding`.
    """

    trainable_names = ("encoder", "head")
    target_names = ("teacher_encoder", "teacher_head")
    online_for_target = ("encoder", "head")
    buffer_names = ("center",)

    def __init__(self, encoder, head=None, out_dim: int = 256, student_temp: float = 0.1,
                 teacher_temp: float = 0.04, center_momentum: float = 0.9, momentum: float = 0.996,
                 final_momentum: float = 1.0, hidden_dim: int | None = None, views=None, seed: int | None = 0,
                 multi_crop=None):
        super().__init__(encoder, momentum, final_momentum, views, seed)
        self.multi_crop = check_multi_crop(multi_crop)  # MultiCrop: the teacher sees the global crops only
        self.head = head
        self.out_dim = check_scalar(out_dim, "out_dim", kind=int, low=2)
        self.student_temp = check_scalar(student_temp, "student_temp", low=0.0, low_inclusive=False)
        self.teacher_temp = check_scalar(teacher_temp, "teacher_temp", low=0.0, low_inclusive=False)
        self.center_momentum = check_scalar(center_momentum, "center_momentum", low=0.0, high=1.0)
        self.hidden_dim = hidden_dim
        self.center = None
        self._teacher = None

    def build_heads(self, feature_dim, X):
        if self.head is None:
            hidden = self.hidden_dim or max(feature_dim, 256)
            self.head = self.mlp([feature_dim, hidden, self.out_dim], key=1, norm=None, act="gelu")
        self.build_targets()
        k = self.head.out_features if hasattr(self.head, "out_features") else self.out_dim
        self.center = np.zeros((k,), dtype=self.dtype)

    def training_step(self, X, seed):
        if self.multi_crop is not None:
            return self._multi_crop_step(X, seed)
        x1, x2 = self.make_views(X, seed)
        n = x1.shape[0]
        x = np.concatenate([x1, x2])
        chain = [self.encoder, self.head]
        s, ctx = forward_chain(chain, x)
        t, _ = forward_chain([self.teacher_encoder, self.teacher_head], x)

        def loss_fn(s1, s2, t1, t2):  # the whole batch's outputs; the center follows all of them
            self._teacher = np.stack([t1, t2])
            loss, ds = losses.dino(np.stack([s1, s2]), self._teacher, self.center,
                                   student_temp=self.student_temp, teacher_temp=self.teacher_temp)
            return loss, ds[0], ds[1], None, None

        loss, ds1, ds2, _, _ = self.global_loss(loss_fn, s[:n], s[n:], t[:n], t[n:])
        backward_chain(chain, np.concatenate([ds1, ds2]), ctx)
        return loss

    def _multi_crop_step(self, X, seed):
        """Multi-crop DINO (Caron et al. 2021, §3.1): the student sees every crop, the teacher the
        global crops; each teacher crop is paired with every other student crop."""
        mc = self.multi_crop
        gl, lo = mc.crops(X, seed)
        gl, lo = [self.local(v) for v in gl], [self.local(v) for v in lo]
        s, ctx = forward_crops(self, self.encoder, [self.head], [gl, lo])
        t, _ = forward_chain([self.teacher_encoder, self.teacher_head], np.concatenate(gl))
        n, V = gl[0].shape[0], len(s)
        t = [t[i * n:(i + 1) * n] for i in range(mc.n_global)]

        def loss_fn(*outs):
            self._teacher = np.stack(outs[V:])
            loss, ds = losses.dino(np.stack(outs[:V]), self._teacher, self.center,
                                   student_temp=self.student_temp, teacher_temp=self.teacher_temp)
            return (loss, *[ds[v] for v in range(V)], *[None] * mc.n_global)

        loss, *grads = self.global_loss(loss_fn, *s, *t)
        backward_crops(self.encoder, [self.head], grads[:V], ctx)
        return float(loss)

    def on_step_end(self, step, total_steps):
        super().on_step_end(step, total_steps)
        if self._teacher is not None:  # C ← m·C + (1 − m)·mean of the teacher rows (DINOLoss's kernel)
            _core.losses.dino_update_center(self.center, self._teacher, self.center_momentum)
            self._teacher = None
