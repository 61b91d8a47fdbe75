"""Time-series methods with their published encoders and recipes: TS2Vec."""
from __future__ import annotations

import math
import numbers

import numpy as np

from .. import losses
from .._seeding import derive_seed
from .._validation import check_array, check_scalar
from ..nn.module import Module
from .base import Method, frozen_copy


def take_windows(x: np.ndarray, starts: np.ndarray, length: int) -> np.ndarray:
    """x (N, C, T), starts (N,) → out (N, C, length), out[n, :, j] = x[n, :, starts[n] + j]."""
    idx = starts[:, None] + np.arange(length)[None, :]
    return np.ascontiguousarray(np.take_along_axis(x, np.broadcast_to(idx[:, None, :], (x.shape[0], x.shape[1], length)),
                                                   axis=2))


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
    over all steps (stochastic weight averaging, ``swa=True``) is kept in ``averaged_encoder`` and
    is the network that :meth:`transform` uses. Paper defaults: batch 8, AdamW lr 1e-3 (weight
    decay 0.01, PyTorch's default), 200 iterations when X has at most 100 000 values, else 600
    (:meth:`fit` applies them). ``encoder=None`` builds ``DilatedConvEncoder(in_channels)``.
    Single process only.
    """

    target_names = ("averaged_encoder",)
    buffer_names = ("n_averaged",)

    def __init__(self, encoder: Module | None = None, in_channels: int | None = None, alpha: float = 0.5,
                 temporal_unit: int = 0, max_train_length: int | None = 3000, swa: bool = True,
                 seed: int | None = 0):
        if encoder is None:
            if in_channels is None:
                raise ValueError("TS2Vec needs an encoder or in_channels (the C of X (N, C, T)) to build "
                                 "pyssl.nn.DilatedConvEncoder(in_channels)")
            from ..nn.dilated import DilatedConvEncoder

            check_scalar(in_channels, "in_channels", kind=numbers.Integral, low=1)
            encoder = DilatedConvEncoder(int(in_channels), seed=derive_seed(0 if seed is None else seed, "encoder"))
        super().__init__(encoder, views=None, seed=seed)
        self.loss = losses.HierarchicalContrastiveLoss(alpha, temporal_unit)
        self.temporal_unit = self.loss.temporal_unit
        if max_train_length is not None:
            check_scalar(max_train_length, "max_train_length", kind=numbers.Integral, low=2 ** (self.temporal_unit + 1))
        self.max_train_length = None if max_train_length is None else int(max_train_length)
        self.swa = bool(swa)
        self.averaged_encoder = None
        self.n_averaged = np.zeros(1, dtype=np.int64)

    def default_views(self, ndim: int = 3):
        from .views import IdentityView

        return IdentityView()  # the crops are the views

    def build_heads(self, feature_dim, X):
        if X.ndim != 3:
            raise ValueError(f"TS2Vec trains on series X of shape (N, C, T), got shape {X.shape}")
        if X.shape[2] < 2 ** (self.temporal_unit + 1):
            raise ValueError(f"TS2Vec needs series of at least {2 ** (self.temporal_unit + 1)} steps, got T = {X.shape[2]}")
        if self.swa:
            self.averaged_encoder = frozen_copy(self.encoder)

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
        n = int(self.n_averaged[0])
        for pa, p in zip(self.averaged_encoder.parameters(), self.encoder.parameters()):
            pa.data += (p.data - pa.data) / pa.data.dtype.type(n + 1)
        self.n_averaged[0] = n + 1

    @property
    def representation_encoder(self) -> Module:
        """The network whose representations are evaluated: the weight average with ``swa`` once
        built, else the encoder."""
        return self.averaged_encoder if self.averaged_encoder is not None else self.encoder

    def transform(self, X, pool="max", batch_size: int = 64) -> np.ndarray:
        """``representation_encoder.transform(X, pool)``: (N, D) for ``pool="max"``, (N, T, D) for None."""
        return self.representation_encoder.transform(X, pool=pool, batch_size=batch_size)

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
        series padded with NaN, whose missing steps the encoder masks. Step t uses the seed
        ``derive_seed(seed, t)``. Returns ``{"loss": [loss per step]}``.
        """
        from ..optim import AdamW

        X = check_array(X, "X", dtype=self.dtype, ndim=3, finite=False)
        if np.isinf(X).any():
            raise ValueError("X contains Inf; only NaN (missing steps) is allowed")
        X = X[~np.isnan(X).all(axis=(1, 2))]  # series with no observed value carry no signal
        if X.shape[0] < 2:
            raise ValueError(f"TS2Vec.fit needs at least 2 series with observed values, got {X.shape[0]}")
        n_iters = self.default_iterations(X) if n_iters is None else int(check_scalar(n_iters, "n_iters",
                                                                                       kind=numbers.Integral, low=1))
        batch_size = min(int(check_scalar(batch_size, "batch_size", kind=numbers.Integral, low=2)), X.shape[0])
        self.setup(np.nan_to_num(X[:2]))
        self.train(True)
        optimizer = AdamW(self.parameters(), lr=lr, weight_decay=weight_decay)
        order_rng = np.random.default_rng(derive_seed(seed, "ts2vec-order"))
        losses, step = [], 0
        per_pass = X.shape[0] // batch_size
        while step < n_iters:
            order = order_rng.permutation(X.shape[0])
            for b in range(per_pass):
                if step >= n_iters:
                    break
                self.zero_grad()
                loss = float(self.training_step(X[order[b * batch_size:(b + 1) * batch_size]], derive_seed(seed, step)))
                optimizer.step()
                optimizer.check_finite(f"at step {step}")
                self.on_step_end(step, n_iters)
                losses.append(loss)
                step += 1
                if verbose and (step % 50 == 0 or step == n_iters):
                    print(f"TS2Vec step {step}/{n_iters}  loss {np.mean(losses[-50:]):.4f}", flush=True)
        self.train(False)
        return {"loss": losses}
