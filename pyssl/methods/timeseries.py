"""Time-series methods with their published encoders and recipes: TS2Vec and T-Loss."""
from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from .. import losses
from .._seeding import derive_seed
from .._validation import check_array, check_scalar
from ..nn.module import Module
from .base import Method, frozen_copy, register_method


def take_windows(x: np.ndarray, starts: np.ndarray, length: int) -> np.ndarray:
    """x (N, C, T), starts (N,) → out (N, C, length), out[n, :, j] = x[n, :, starts[n] + j]."""
    idx = starts[:, None] + np.arange(length)[None, :]
    return np.ascontiguousarray(np.take_along_axis(x, np.broadcast_to(idx[:, None, :], (x.shape[0], x.shape[1], length)),
                                                   axis=2))


def _check_series(X, dtype) -> np.ndarray:
    """X (N, C, T) of dtype, NaN allowed (missing / padding steps), Inf not; all-NaN series dropped."""
    X = check_array(X, "X", dtype=dtype, ndim=3, finite=False)
    if np.isinf(X).any():
        raise ValueError("X contains Inf; only NaN (missing steps) is allowed")
    X = X[~np.isnan(X).all(axis=(1, 2))]  # series with no observed value carry no signal
    if X.shape[0] < 2:
        raise ValueError(f"X needs at least 2 series with observed values, got {X.shape[0]}")
    return X


def centerize(X) -> np.ndarray:
    """Shift each NaN-padded series (N, C, T) so that its observed part sits in the middle (the
    TS2Vec reference does this to the training set when padding is at either end)."""
    missing = np.isnan(X).all(axis=1)  # (N, T)
    prefix = np.argmax(~missing, axis=1)
    suffix = np.argmax(~missing[:, ::-1], axis=1)
    offset = (prefix + suffix) // 2 - prefix
    idx = (np.arange(X.shape[2])[None, :] - offset[:, None]) % X.shape[2]
    return np.ascontiguousarray(np.take_along_axis(X, np.broadcast_to(idx[:, None, :], X.shape), axis=2))


def paper_encoder(method: str, encoder, in_channels, build, seed):
    """``encoder``, or when it is None the method's published encoder ``build(C, seed=...)`` for
    series of ``in_channels`` = C channels (a ValueError naming both arguments if C is missing)."""
    if encoder is not None:
        return encoder
    if in_channels is None:
        raise ValueError(f"{method} needs an encoder or in_channels (the C of X (N, C, T)) to build "
                         f"pyssl.nn.{build.__name__}(in_channels)")
    check_scalar(in_channels, "in_channels", kind=numbers.Integral, low=1)
    return build(int(in_channels), seed=derive_seed(0 if seed is None else seed, "encoder"))


def run_steps(method, X, n_iters: int, batch_size: int, optimizer, seed: int, drop_last: bool, verbose: bool) -> dict:
    """The reference implementations' loop: a fresh shuffle of X per pass, batches of ``batch_size``
    (the last partial one dropped when ``drop_last``), ``optimizer`` after each step, exactly
    ``n_iters`` steps; step t is seeded with ``derive_seed(seed, t)``."""
    order_rng = np.random.default_rng(derive_seed(seed, "order"))
    losses, step, n = [], 0, X.shape[0]
    method.train(True)
    while step < n_iters:
        order = order_rng.permutation(n)
        stops = list(range(0, n - batch_size + 1, batch_size)) if drop_last else list(range(0, n, batch_size))
        for b in stops:
            if step >= n_iters:
                break
            rows = order[b:b + batch_size]
            method.zero_grad()
            loss = float(method.training_step(X[rows], derive_seed(seed, step)))
            optimizer.step()
            optimizer.check_finite(f"at step {step}")
            method.on_step_end(step, n_iters)
            losses.append(loss)
            step += 1
            if verbose and (step % 50 == 0 or step == n_iters):
                print(f"{type(method).__name__} step {step}/{n_iters}  loss {np.mean(losses[-50:]):.4f}", flush=True)
    method.train(False)
    return {"loss": losses}


@register_method("ts2vec", data="series", example=lambda e: TS2Vec(e, seed=0))
class TS2Vec(Method):
    """TS2Vec (Yue et al., "TS2Vec: Towards Universal Representation of Time Series", AAAI 2022).

    Each step draws two overlapping crops of the batch x (B, C, T) as the reference implementation:
    an overlap [a₁, b₁) of length l ~ U{2^(u+1), …, T}, the crops [a₂, b₁) and [a₁, b₂) with
    a₂ ~ U{0, …, a₁}, b₂ ~ U{b₁, …, T}, shifted per series by one random offset. Both go through
    the encoder (``pyssl.nn.DilatedConvEncoder``: input projection, timestamp masking with a fresh
    Bernoulli(0.5) mask per crop, dilated residual CNN); the representations of the overlap are
    contrasted by :func:`pyssl.losses.hierarchical_contrastive` (instance-wise and temporal, over
    max-pooled scales). Series longer than ``max_train_length`` are trained on a random window of
    that length per batch.

    As the reference implementation, an equal-weight running average of the encoder's weights
    (stochastic weight averaging, ``swa=True``) is kept in ``averaged_encoder`` and is the network
    that :meth:`transform` uses: after K steps it is (w₀ + w₁ + … + w_K)/(K + 1), the initial
    weights w₀ included (``n_averaged`` = K + 1). Paper defaults: batch 8, AdamW lr 1e-3 (weight
    decay 0.01, PyTorch's default), 200 iterations when X has at most 100 000 values, else 600
    (:meth:`fit` applies them). ``encoder=None`` builds ``DilatedConvEncoder(in_channels)``.
    Single process only.

    Parameters
    ----------
    encoder : Module, optional
        A series encoder giving per-timestep maps (N, D, T); None builds the paper's.
    in_channels : int, optional
        Channels C of the series (needed when ``encoder`` is None).
    alpha : float
        Instance-wise weight of :func:`pyssl.losses.hierarchical_contrastive`, in [0, 1].
    temporal_unit : int
        First level with the temporal term; the overlap is at least 2^(temporal_unit + 1) steps.
    max_train_length : int or None
        Train on random windows of this length when the series are longer (None: whole series).
    swa : bool
        Keep the running weight average ``averaged_encoder`` and represent with it.
    seed : int or None
        Seed of the crops, masks and (for ``encoder=None``) the encoder's initialisation.
    """

    target_names = ("averaged_encoder",)
    buffer_names = ("n_averaged",)

    def __init__(self, encoder: Module | None = None, in_channels: int | None = None, alpha: float = 0.5,
                 temporal_unit: int = 0, max_train_length: int | None = 3000, swa: bool = True,
                 seed: int | None = 0):
        from ..nn.dilated import DilatedConvEncoder

        super().__init__(paper_encoder("TS2Vec", encoder, in_channels, DilatedConvEncoder, seed), views=None, seed=seed)
        self.loss = losses.HierarchicalContrastiveLoss(alpha, temporal_unit)
        self.temporal_unit = self.loss.temporal_unit
        if max_train_length is not None:
            check_scalar(max_train_length, "max_train_length", kind=numbers.Integral, low=2 ** (self.temporal_unit + 1))
        self.max_train_length = None if max_train_length is None else int(max_train_length)
        self.swa = bool(swa)
        self.averaged_encoder = None
        self.n_averaged = np.zeros(1, dtype=np.int64)

    def default_views(self, ndim: int = 3):
        from ..pretext.compose import Identity

        return Identity()  # the crops are the views

    def build_heads(self, feature_dim, X):
        if X.ndim != 3:
            raise ValueError(f"TS2Vec trains on series X of shape (N, C, T), got shape {X.shape}")
        if X.shape[2] < 2 ** (self.temporal_unit + 1):
            raise ValueError(f"TS2Vec needs series of at least {2 ** (self.temporal_unit + 1)} steps, got T = {X.shape[2]}")
        if self.swa:
            # the initial weights are the average's first term, as the reference implementation's
            # torch.optim.swa_utils.AveragedModel, updated once in TS2Vec's constructor
            self.averaged_encoder = frozen_copy(self.encoder)
            self.n_averaged[0] = 1

    def crops(self, B: int, T: int, seed: int):
        """The overlap length l, the left crop [s₁, s₁ + L₁) and right crop [s₂, s₂ + L₂) per series."""
        g = np.random.default_rng(derive_seed(seed, "ts2vec-crop"))
        crop_l = int(g.integers(2 ** (self.temporal_unit + 1), T + 1))
        left = int(g.integers(T - crop_l + 1))
        right = left + crop_l
        eleft = int(g.integers(left + 1))
        eright = int(g.integers(right, T + 1))
        offset = g.integers(-eleft, T - eright + 1, size=B)
        return crop_l, offset + eleft, right - eleft, offset + left, eright - left

    def training_step(self, X, seed):
        X = np.ascontiguousarray(X)
        B, T = X.shape[0], X.shape[2]
        if self.max_train_length is not None and T > self.max_train_length:
            w = int(np.random.default_rng(derive_seed(seed, "ts2vec-window")).integers(T - self.max_train_length + 1))
            X = np.ascontiguousarray(X[:, :, w:w + self.max_train_length])
            T = self.max_train_length
        crop_l, s1, l1, s2, l2 = self.crops(B, T, seed)
        r1, c1 = self.encoder.forward(take_windows(X, s1, l1))
        r2, c2 = self.encoder.forward(take_windows(X, s2, l2))
        z1 = np.ascontiguousarray(r1[:, :, l1 - crop_l:].transpose(0, 2, 1))
        z2 = np.ascontiguousarray(r2[:, :, :crop_l].transpose(0, 2, 1))
        loss, dz1, dz2 = self.loss(z1, z2)
        g1 = np.zeros_like(r1)
        g1[:, :, l1 - crop_l:] = dz1.transpose(0, 2, 1)
        g2 = np.zeros_like(r2)
        g2[:, :, :crop_l] = dz2.transpose(0, 2, 1)
        self.encoder.backward(g1, c1, need_input_grad=False)
        self.encoder.backward(g2, c2, need_input_grad=False)
        return loss

    def on_step_end(self, step, total_steps):
        if self.averaged_encoder is None:
            return
        from ..optim import ema_update

        # equal-weight running mean: ξ ← ξ + (θ − ξ)/(n + 1), i.e. an EMA with m = n/(n + 1) (C++ kernel)
        n = int(self.n_averaged[0])
        ema_update(self.averaged_encoder, self.encoder, n / (n + 1))
        self.n_averaged[0] = n + 1

    @property
    def representation_encoder(self) -> Module:
        """The network whose representations are evaluated: the weight average with ``swa`` once
        built, else the encoder."""
        return self.averaged_encoder if self.averaged_encoder is not None else self.encoder

    def transform(self, X, pool="max", batch_size: int = 64) -> np.ndarray:
        """``representation_encoder.transform(X, pool)``: (N, D) for ``pool="max"``, (N, T, D) for None."""
        enc: Any = self.representation_encoder  # a series encoder with transform(X, pool=...)
        return enc.transform(X, pool=pool, batch_size=batch_size)

    @staticmethod
    def default_iterations(X) -> int:
        """200 iterations when X has at most 100 000 values, else 600 (Yue et al., Sec. 4)."""
        return 200 if np.asarray(X).size <= 100_000 else 600

    def fit(self, X, n_iters: int | None = None, batch_size: int = 8, lr: float = 1e-3, weight_decay: float = 1e-2,
            seed: int = 0, verbose: bool = False) -> dict:
        """Pretrain with the reference implementation's loop: AdamW at constant ``lr`` (weight decay
        0.01, PyTorch's default), batches of ``batch_size`` series (lowered to N) from a fresh
        shuffle per pass, the last partial batch dropped, exactly ``n_iters`` steps (default
        :meth:`default_iterations`). Unlike :func:`pyssl.pretrain`, X may hold NaN: variable-length
        series padded with NaN, whose missing steps the encoder masks (as the reference, padded
        training series are first centred, :func:`centerize`). Step t is seeded with
        ``derive_seed(seed, t)``. Returns ``{"loss": [loss per step]}``.
        """
        from ..optim import AdamW

        X = _check_series(X, self.dtype)
        step_missing = np.isnan(X).all(axis=1).any(axis=0)  # (T,): missing in some series
        if step_missing[0] or step_missing[-1]:
            X = centerize(X)
        n_iters = self.default_iterations(X) if n_iters is None else int(check_scalar(n_iters, "n_iters",
                                                                                       kind=numbers.Integral, low=1))
        batch_size = min(int(check_scalar(batch_size, "batch_size", kind=numbers.Integral, low=2)), X.shape[0])
        self.setup(np.nan_to_num(X[:2]))
        optimizer = AdamW(self.parameters(), lr=lr, weight_decay=weight_decay)
        return run_steps(self, X, n_iters, batch_size, optimizer, seed, drop_last=True, verbose=verbose)


def _valid_lengths(X) -> np.ndarray:
    """Per series: 1 + the last time step with an observed value."""
    obs = ~np.isnan(X).all(axis=1)  # (N, T)
    return X.shape[2] - np.argmax(obs[:, ::-1], axis=1)


def _windows(src, rows, starts, lengths, width) -> np.ndarray:
    """src[rows[i], :, starts[i]:starts[i] + lengths[i]] left-aligned in a (len(rows), C, width)
    array, NaN after each window (the causal encoder leaves NaN steps out of its max)."""
    rows, starts, lengths = (np.asarray(a).reshape(-1) for a in (rows, starts, lengths))
    ar = np.arange(width)
    idx = np.minimum(starts[:, None] + ar[None, :], src.shape[2] - 1)
    out = np.take_along_axis(src[rows], np.broadcast_to(idx[:, None, :], (rows.size, src.shape[1], width)), axis=2)
    if (lengths < width).any():
        out = np.where((ar[None, :] < lengths[:, None])[:, None, :], out, np.nan)
    return np.ascontiguousarray(out, dtype=src.dtype)


@register_method("tloss", data="series_pooled", example=lambda e: TLoss(e, n_negatives=2, seed=0))
class TLoss(Method):
    """T-Loss (Franceschi, Dieuleveut & Jaggi, "Unsupervised Scalable Representation Learning for
    Multivariate Time Series", NeurIPS 2019, Algorithm 1): triplet loss with time-based negative
    sampling on a causal dilated CNN (``pyssl.nn.CausalCNNEncoder``).

    Each step, for a batch of B series: a positive length s_pos ~ U{1, …, L} (L the series length,
    capped at ``compared_length``), an anchor length s_ref ~ U{s_pos, …, L}, the anchor
    x_ref = a random window of length s_ref of each series, the positive a random window of length
    s_pos inside it, and K = ``n_negatives`` negatives per anchor: random windows of length s_pos of
    series drawn uniformly from the whole training set. Loss :func:`pyssl.losses.time_triplet`.
    Variable-length (NaN-padded) series draw the lengths per series within their own length (the
    reference's varying-length variant), in one batched pass thanks to the encoder's causality.
    Paper defaults: batch 10, Adam lr 1e-3, 1500 steps, K = 10. ``encoder=None`` builds
    ``CausalCNNEncoder(in_channels)``. Single process only.

    Parameters
    ----------
    encoder : Module, optional
        A series encoder giving one vector (N, D) per series; None builds the paper's.
    in_channels : int, optional
        Channels C of the series (needed when ``encoder`` is None).
    n_negatives : int
        Negatives K per anchor, >= 1.
    compared_length : int or None
        Cap on the sampled sub-series lengths (None: the series length).
    seed : int or None
        Seed of the windows and (for ``encoder=None``) the encoder's initialisation.
    """

    def __init__(self, encoder: Module | None = None, in_channels: int | None = None, n_negatives: int = 10,
                 compared_length: int | None = None, seed: int | None = 0):
        from ..nn.causal import CausalCNNEncoder

        super().__init__(paper_encoder("TLoss", encoder, in_channels, CausalCNNEncoder, seed), views=None, seed=seed)
        self.loss = losses.TimeTripletLoss()
        self.n_negatives = int(check_scalar(n_negatives, "n_negatives", kind=numbers.Integral, low=1))
        if compared_length is not None:
            check_scalar(compared_length, "compared_length", kind=numbers.Integral, low=1)
        self.compared_length = None if compared_length is None else int(compared_length)
        self.train_set = None

    def default_views(self, ndim: int = 3):
        from ..pretext.compose import Identity

        return Identity()  # the windows are the views

    def setup(self, X):
        """Keep the training set: negatives are drawn from all of it, not only from the batch."""
        if np.ndim(X) != 3:
            raise ValueError(f"TLoss trains on series X of shape (N, C, T), got shape {np.shape(X)}")
        super().setup(np.nan_to_num(X[:2]))
        self.train_set = np.ascontiguousarray(X, dtype=self.dtype)
        self._train_lengths = _valid_lengths(self.train_set)
        self._varying = bool(np.isnan(self.train_set).any())

    def draw(self, X, seed):
        """The anchor, positive and negative windows of batch X: ((B, C, W₁), ((K + 1)·B, C, W₂))."""
        if self.train_set is None:
            raise RuntimeError("TLoss.setup(X_train) must run before training steps (pretrain and fit call it)")
        g = np.random.default_rng(derive_seed(seed, "tloss"))
        B, K = X.shape[0], self.n_negatives
        cap = self.compared_length or X.shape[2]
        samples = g.integers(0, self.train_set.shape[0], size=(K, B))
        if not self._varying:
            length = min(cap, X.shape[2])
            pos_len = int(g.integers(1, length + 1))
            ref_len = int(g.integers(pos_len, length + 1))
            beg = g.integers(0, length - ref_len + 1, size=B)
            beg_pos = beg + g.integers(0, ref_len - pos_len + 1, size=B)
            beg_neg = g.integers(0, length - pos_len + 1, size=(K, B))
            ref = _windows(X, np.arange(B), beg, np.full(B, ref_len), ref_len)
            pos = _windows(X, np.arange(B), beg_pos, np.full(B, pos_len), pos_len)
            neg = _windows(self.train_set, samples, beg_neg, np.full(K * B, pos_len), pos_len)
            return ref, np.concatenate([pos, neg])
        lb = np.minimum(cap, _valid_lengths(X))
        ln = np.minimum(cap, self._train_lengths[samples])  # (K, B)
        pos_len = g.integers(1, lb + 1)
        neg_len = g.integers(1, ln + 1)
        ref_len = g.integers(pos_len, lb + 1)
        beg = g.integers(0, lb - ref_len + 1)
        beg_pos = beg + g.integers(0, ref_len - pos_len + 1)
        beg_neg = g.integers(0, ln - neg_len + 1)
        ref = _windows(X, np.arange(B), beg, ref_len, int(ref_len.max()))
        width = int(max(pos_len.max(), neg_len.max()))
        pos = _windows(X, np.arange(B), beg_pos, pos_len, width)
        neg = _windows(self.train_set, samples, beg_neg, neg_len, width)
        return ref, np.concatenate([pos, neg])

    def training_step(self, X, seed):
        X = np.ascontiguousarray(X)
        B, K = X.shape[0], self.n_negatives
        ref, pn = self.draw(X, seed)
        z, cz = self.encoder.forward(ref)
        r, cr = self.encoder.forward(pn)
        loss, dz, dp, dn = self.loss(z, r[:B], r[B:].reshape(K, B, -1))
        self.encoder.backward(dz, cz, need_input_grad=False)
        self.encoder.backward(np.concatenate([dp, dn.reshape(K * B, -1)]), cr, need_input_grad=False)
        return loss

    def transform(self, X, pool="max", batch_size: int = 64) -> np.ndarray:
        """``encoder.transform(X, pool)``."""
        enc: Any = self.encoder  # a series encoder with transform(X, pool=...)
        return enc.transform(X, pool=pool, batch_size=batch_size)

    def fit(self, X, n_iters: int = 1500, batch_size: int = 10, lr: float = 1e-3, seed: int = 0,
            verbose: bool = False) -> dict:
        """Pretrain with the reference recipe: Adam at constant ``lr``, batches of ``batch_size``
        (the last partial batch kept, as the reference's data loader), ``n_iters`` steps; X may hold
        NaN-padded variable-length series. Returns ``{"loss": [loss per step]}``."""
        from ..optim import Adam

        X = _check_series(X, self.dtype)
        n_iters = int(check_scalar(n_iters, "n_iters", kind=numbers.Integral, low=1))
        batch_size = min(int(check_scalar(batch_size, "batch_size", kind=numbers.Integral, low=1)), X.shape[0])
        self.setup(X)
        optimizer = Adam(self.parameters(), lr=lr)
        return run_steps(self, X, n_iters, batch_size, optimizer, seed, drop_last=False, verbose=verbose)
