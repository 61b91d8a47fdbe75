"""TS-TCC: temporal and contextual contrasting of two augmented views of a series."""
from __future__ import annotations

import numbers
import numpy as np

from .. import losses
from .._seeding import derive_seed
from .._validation import check_scalar
from ..nn.linear import Linear
from ..nn.module import Module
from ..nn.tstcc import TSTCCEncoder, check_pool, pool_time
from ..pretext.sequence import jitter, scaling, segment_permutation
from .base import Method, register_method
from .timeseries import _check_series, paper_encoder, run_steps


@register_method("tstcc", data="series",
                 example=lambda e: TSTCC(e, timesteps=2, hidden_dim=8, depth=1, heads=2, mlp_dim=8, seed=0))
class TSTCC(Method):
    r"""TS-TCC (Eldele et al., "Time-Series Representation Learning via Temporal and Contextual
    Contrasting", IJCAI 2021).

    Each step makes a weak view (scaling: every channel multiplied by a factor ~ N(2, σ_w²), the
    reference code's ``scaling``) and a strong view (the series cut into M equal segments that are
    shuffled, M ~ U{1, …, max_segments − 1} per step, then jitter N(0, σ_s²)) of the batch x (B, C, T),
    and encodes both (per-timestep latents z (B, D, T′), e.g. :class:`pyssl.nn.TSTCCEncoder`).

    *Temporal contrasting*: at a random step t ∈ {0, …, T′ − K − 1} a context c_t of each view is
    summarised from its latents z_{≤t} by a Transformer (linear token embedding D → H, a [CLS]
    token, ``depth`` pre-norm blocks with ``heads`` heads, MLP width ``mlp_dim``, no positions, as
    the reference's ``Seq_Transformer``), and the K linear predictors W_k c_t of one view are
    contrasted with the other view's true latents z_{t+k} (:func:`pyssl.losses.temporal_contrastive`),
    in both directions. *Contextual contrasting*: NT-Xent at ``temperature`` between the two views'
    projected contexts (Linear H → D/2, BatchNorm, ReLU, Linear D/2 → D/4). The loss is
    λ₁ (L_TC(weak → strong) + L_TC(strong → weak)) + λ₂ L_CC, as the reference code.

    Defaults are the reference's HAR configuration (σ_w = 1.1, σ_s = 0.8, max_segments 8, K = 6,
    H = 100, depth 4, heads 4, MLP 64, τ = 0.2, λ₁ = 1, λ₂ = 0.7; Adam lr 3e-4, betas (0.9, 0.99),
    weight decay 3e-4, batch 128, 40 epochs in :meth:`fit`). K is lowered to T′ − 1 for short series.
    Differences: the segments are equal (the reference draws random split points) and M is drawn
    per step, not per series. ``encoder=None`` builds :class:`pyssl.nn.TSTCCEncoder` (``in_channels``
    needed). The series representation is the encoder's latents averaged over time
    (:meth:`transform`). Single process only.

    Parameters
    ----------
    encoder : Module, optional
        A series encoder of per-timestep latents (N, D, T′); None builds TS-TCC's.
    in_channels : int, optional
        Channels C of the series (needed when ``encoder`` is None).
    timesteps : int
        Future steps K predicted from the context.
    hidden_dim, depth, heads, mlp_dim : int
        The context Transformer's width H, blocks, heads (dividing H) and MLP width.
    scale_sigma, jitter_sigma : float
        σ_w of the weak view's scaling and σ_s of the strong view's jitter.
    max_segments : int
        Bound on the strong view's segment count (M < max_segments), >= 2.
    temperature : float
        NT-Xent temperature of the contextual contrasting.
    tc_weight, cc_weight : float
        λ₁ and λ₂.
    seed : int or None
        Seed of the views, the context step and the heads' initialisation.
    """

    trainable_names = ("encoder", "embed", "context", "predictor", "projector")

    def __init__(self, encoder: Module | None = None, in_channels: int | None = None, timesteps: int = 6,
                 hidden_dim: int = 100, depth: int = 4, heads: int = 4, mlp_dim: int = 64,
                 scale_sigma: float = 1.1, jitter_sigma: float = 0.8, max_segments: int = 8,
                 temperature: float = 0.2, tc_weight: float = 1.0, cc_weight: float = 0.7, seed: int | None = 0):
        super().__init__(paper_encoder("TSTCC", encoder, in_channels, TSTCCEncoder, seed), views=None, seed=seed)
        self.timesteps = int(check_scalar(timesteps, "timesteps", kind=numbers.Integral, low=1))
        self.hidden_dim = int(check_scalar(hidden_dim, "hidden_dim", kind=numbers.Integral, low=1))
        self.depth = int(check_scalar(depth, "depth", kind=numbers.Integral, low=1))
        self.heads = int(check_scalar(heads, "heads", kind=numbers.Integral, low=1))
        if self.hidden_dim % self.heads:
            raise ValueError(f"heads ({self.heads}) must divide hidden_dim ({self.hidden_dim})")
        self.mlp_dim = int(check_scalar(mlp_dim, "mlp_dim", kind=numbers.Integral, low=1))
        self.scale_sigma = float(check_scalar(scale_sigma, "scale_sigma", low=0.0))
        self.jitter_sigma = float(check_scalar(jitter_sigma, "jitter_sigma", low=0.0))
        self.max_segments = int(check_scalar(max_segments, "max_segments", kind=numbers.Integral, low=2))
        self.temperature = float(check_scalar(temperature, "temperature", low=0.0, low_inclusive=False))
        self.tc_weight = float(check_scalar(tc_weight, "tc_weight", low=0.0))
        self.cc_weight = float(check_scalar(cc_weight, "cc_weight", low=0.0))
        self.loss = losses.TemporalContrastiveLoss()
        self.embed = self.context = self.predictor = self.projector = None
        self.k_steps = None

    def default_views(self, ndim: int = 3):
        from ..pretext.compose import Identity

        return Identity()  # the weak and strong views are made in training_step

    def build_heads(self, feature_dim, X):
        if X.ndim != 3:
            raise ValueError(f"TSTCC trains on series X of shape (N, C, T), got shape {X.shape}")
        from ..nn.transformer import TransformerEncoder

        was = self.encoder.training
        self.encoder.eval()
        try:
            z = self.encoder.forward(np.ascontiguousarray(X[:2]))[0]
        finally:
            self.encoder.train(was)
        if z.ndim != 3:
            raise ValueError(f"TSTCC needs an encoder of per-timestep latents (N, D, T'), got output shape {z.shape}")
        d, t_out = z.shape[1], z.shape[2]
        if t_out < 2:
            raise ValueError(f"TSTCC needs at least 2 latent steps; the encoder gives T' = {t_out} for T = {X.shape[2]}")
        self.k_steps = min(self.timesteps, t_out - 1)
        h = self.hidden_dim
        self.embed = Linear(d, h, dtype=self.dtype, seed=derive_seed(self.seed, 1))
        self.context = TransformerEncoder(h, self.depth, self.heads, mlp_ratio=self.mlp_dim / h, pos_embed="none",
                                          pool="cls", dtype=self.dtype, seed=derive_seed(self.seed, 2))
        self.predictor = Linear(h, self.k_steps * d, dtype=self.dtype, seed=derive_seed(self.seed, 3))  # W_1..W_K
        self.projector = self.mlp([h, max(1, d // 2), max(1, d // 4)], key=4)

    def views_of(self, X, seed):
        """The weak and the strong view of X (B, C, T)."""
        g = np.random.default_rng(derive_seed(seed, "tstcc-segments"))
        weak = scaling(X, self.scale_sigma / 2, derive_seed(seed, 0)) * X.dtype.type(2)  # x · N(2, σ_w²)
        m = int(g.integers(1, min(self.max_segments, X.shape[2] + 1)))
        strong = segment_permutation(X, m, derive_seed(seed, 1))[0] if m > 1 else X
        return np.ascontiguousarray(weak), np.ascontiguousarray(jitter(strong, self.jitter_sigma, derive_seed(seed, 2)))

    def training_step(self, X, seed):
        X = np.ascontiguousarray(X)
        B = X.shape[0]
        weak, strong = self.views_of(X, seed)
        z, zctx = self.encoder.forward(np.concatenate([weak, strong]))  # (2B, D, T')
        D, T = z.shape[1], z.shape[2]
        K = self.k_steps
        if T < K + 1:
            raise ValueError(f"TSTCC was built for {K} future steps but the encoder now gives T' = {T}")
        t = int(np.random.default_rng(derive_seed(seed, "tstcc-t")).integers(T - K))
        zt = z.transpose(0, 2, 1)  # (2B, T', D)
        tokens = np.ascontiguousarray(zt[:, :t + 1, :]).reshape(-1, D)
        e, ectx = self.embed.forward(tokens)
        c, cctx = self.context.forward(e.reshape(2 * B, t + 1, -1))  # (2B, H): one context per view
        p, pctx = self.predictor.forward(c)  # (2B, K·D)
        pred = p.reshape(2 * B, K, D).transpose(1, 0, 2)  # (K, 2B, D)
        fut = zt[:, t + 1:t + 1 + K, :].transpose(1, 0, 2)  # (K, 2B, D)
        # weak context → strong futures and strong context → weak futures, as 2K slabs of B rows
        zs = np.ascontiguousarray(np.concatenate([fut[:, B:], fut[:, :B]]))
        ps = np.ascontiguousarray(np.concatenate([pred[:, :B], pred[:, B:]]))
        l_tc, dzs, dps = self.loss(zs, ps)  # the mean over the 2K slabs = (L₁ + L₂)/2
        q, qctx = self.projector.forward(c)
        l_cc, dq1, dq2 = losses.nt_xent(q[:B], q[B:], temperature=self.temperature)
        w_tc = 2.0 * self.tc_weight
        dpred = np.empty_like(pred)
        dpred[:, :B], dpred[:, B:] = dps[:K], dps[K:]
        dc = self.predictor.backward(np.ascontiguousarray((w_tc * dpred).transpose(1, 0, 2)).reshape(2 * B, K * D),
                                     pctx)
        dc = dc + self.projector.backward(self.cc_weight * np.concatenate([dq1, dq2]), qctx)
        de = self.context.backward(dc, cctx)
        dtok = self.embed.backward(np.ascontiguousarray(de).reshape(-1, e.shape[1]), ectx)
        dzt = np.zeros_like(zt)
        dzt[:, :t + 1, :] = dtok.reshape(2 * B, t + 1, D)
        dfut = np.empty_like(fut)
        dfut[:, B:], dfut[:, :B] = dzs[:K], dzs[K:]
        dzt[:, t + 1:t + 1 + K, :] += w_tc * dfut.transpose(1, 0, 2)
        self.encoder.backward(np.ascontiguousarray(dzt.transpose(0, 2, 1)), zctx, need_input_grad=False)
        return w_tc * l_tc + self.cc_weight * l_cc

    def transform(self, X, pool="mean", batch_size: int = 64) -> np.ndarray:
        """The encoder's latents (N, D, T′) in evaluation mode, averaged (``"mean"``, default) or
        max-pooled (``"max"``) over time: (N, D); ``pool=None``: per timestep, (N, T′, D)."""
        check_pool(pool)
        return pool_time(Module.transform(self.encoder, X, batch_size), pool)

    def fit(self, X, epochs: int = 40, batch_size: int = 128, lr: float = 3e-4, weight_decay: float = 3e-4,
            seed: int = 0, verbose: bool = False) -> dict:
        """Pretrain with the reference recipe: Adam (betas (0.9, 0.99), L2 weight decay) at constant
        ``lr``, batches of ``batch_size`` (lowered to N; the last partial batch dropped) from a
        fresh shuffle per epoch, ``epochs`` passes. Returns ``{"loss": [loss per step]}``."""
        from ..optim import Adam

        X = _check_series(X, self.dtype)
        if np.isnan(X).any():
            raise ValueError("TSTCC trains on complete series; X contains NaN (fill or drop the missing steps)")
        epochs = int(check_scalar(epochs, "epochs", kind=numbers.Integral, low=1))
        batch_size = min(int(check_scalar(batch_size, "batch_size", kind=numbers.Integral, low=2)), X.shape[0])
        self.setup(X)
        optimizer = Adam(self.parameters(), lr=lr, betas=(0.9, 0.99), weight_decay=weight_decay)
        n_iters = epochs * (X.shape[0] // batch_size)
        return run_steps(self, X, n_iters, batch_size, optimizer, seed, drop_last=True, verbose=verbose)
