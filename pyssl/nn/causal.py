"""T-Loss's causal dilated CNN encoder (Franceschi et al., NeurIPS 2019)."""
from __future__ import annotations

import numbers

import numpy as np

from .._validation import check_array, check_scalar
from .conv import Conv1d
from .init import rng
from .linear import Linear
from .module import Module, Sequential, ShortcutSum, in_eval_batches, layer_input, register_layer


@register_layer("leaky_relu", example=lambda dt: LeakyReLU(0.1).astype(dt), input=(3, 2, 5))
class LeakyReLU(Module):
    """leaky_relu(x) = x for x > 0, slope·x otherwise (slope 0.01, PyTorch's default). Any shape."""

    def __init__(self, slope: float = 0.01):
        super().__init__()
        self.slope = float(check_scalar(slope, "slope", low=0.0))

    def forward(self, x):
        x = layer_input(self, x)
        pos = x > 0
        return np.where(pos, x, x * x.dtype.type(self.slope)), pos

    def backward(self, grad_output, ctx, need_input_grad: bool = True):
        return np.where(ctx, grad_output, grad_output * grad_output.dtype.type(self.slope))


@register_layer("masked_max_pool", input=(3, 2, 5))
class MaskedMaxPool(Module):
    """Max over time of h (N, C, T), y[n, c] = max_{t: valid[n, t]} h[n, c, t] → (N, C), leaving
    out the steps marked invalid: ``forward`` takes ``(h, valid)`` with valid (N, T) bool (every
    row needs one valid step), or h alone (every step valid). Backward routes each gradient to its
    arg-max step (the first on ties)."""

    def forward(self, x):
        if isinstance(x, tuple):
            h, valid = x
            h = layer_input(self, h)
            valid = np.asarray(valid, dtype=bool)
            if h.ndim != 3 or valid.shape != (h.shape[0], h.shape[2]):
                raise ValueError(f"MaskedMaxPool expects h (N, C, T) and valid (N, T), got shapes {h.shape} "
                                 f"and {valid.shape}")
            if not valid.any(axis=1).all():
                raise ValueError("MaskedMaxPool: every row of valid needs one True step")
            masked = np.where(valid[:, None, :], h, -np.inf)
        else:
            h = layer_input(self, x)
            if h.ndim != 3 or h.shape[2] < 1:
                raise ValueError(f"MaskedMaxPool expects h of shape (N, C, T) with T >= 1, got shape {h.shape}")
            masked = h
        idx = masked.argmax(axis=2)
        return np.take_along_axis(h, idx[:, :, None], axis=2)[:, :, 0], (idx, h.shape)

    def backward(self, grad_output, ctx, need_input_grad: bool = True):
        idx, shape = ctx
        g = np.zeros(shape, dtype=grad_output.dtype)
        np.put_along_axis(g, idx[:, :, None], grad_output[:, :, None], axis=2)
        return g


@register_layer("causal_conv_block", example=lambda dt: CausalConvBlock(2, 3, dilation=2, dtype=dt, seed=0),
                input=(3, 2, 7))
class CausalConvBlock(ShortcutSum):
    """T-Loss's residual block: y = act(conv₂(act(conv₁(x)))) + r(x), causal dilated convolutions
    (kernel k, dilation d, left padding (k − 1)·d, so y[:, :, t] depends on x[:, :, ≤ t]),
    LeakyReLU activations, r a 1×1 convolution when the width changes. (The reference wraps the
    convolutions in weight normalisation; here they are plain.)

    Parameters
    ----------
    in_channels, out_channels : int
        Channels of the input and of the output.
    kernel_size : int
        Width k of both causal convolutions.
    dilation : int
        Spacing d between kernel taps, >= 1.
    dtype : numpy dtype
        float32 or float64: the dtype of the parameters (and of the outputs).
    seed : int, optional
        Initialisation seed; None draws from the process-wide stream (:func:`pyssl.manual_seed`).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, dilation: int = 1,
                 dtype=np.float32, seed=None):
        super().__init__()
        g = rng(seed)
        s = lambda: int(g.integers(2**63))  # noqa: E731
        self.body = Sequential(
            Conv1d(in_channels, out_channels, kernel_size, padding="causal", dilation=dilation, dtype=dtype, seed=s()),
            LeakyReLU(),
            Conv1d(out_channels, out_channels, kernel_size, padding="causal", dilation=dilation, dtype=dtype, seed=s()),
            LeakyReLU())
        self.shortcut = Conv1d(in_channels, out_channels, 1, dtype=dtype, seed=s()) if in_channels != out_channels else None


@register_layer("causal_cnn_encoder", input=(3, 2, 9),
                example=lambda dt: CausalCNNEncoder(2, channels=3, depth=2, reduced_size=4, out_features=3, dtype=dt,
                                                    seed=0))
class CausalCNNEncoder(Module):
    """T-Loss's encoder (Franceschi, Dieuleveut & Jaggi, "Unsupervised Scalable Representation
    Learning for Multivariate Time Series", NeurIPS 2019, Sec. 4): for x (N, C, T),

        h = ``depth`` causal blocks of width ``channels`` (dilation 1, 2, 4, …) → one causal block
            of width ``reduced_size`` (dilation 2^depth)        (N, reduced_size, T)
        z = Linear(max_t h[:, :, t])                             (N, out_features)

    (paper: channels 40, depth 10, reduced 160, output 320, kernel 3). Because every layer is
    causal, h[:, :, t] depends only on x[:, :, ≤ t]: NaN steps (the padding of variable-length
    series) are zero-filled and left out of the max, which for a NaN tail gives exactly the
    representation of the unpadded series. ``transform(X)`` gives z (N, D);
    ``transform(X, pool=None)`` the representation of every prefix x[:, :, :t+1], i.e.
    Linear(max_{s ≤ t} h[:, :, s]), as (N, T, D).

    Parameters
    ----------
    in_channels : int
        Channels C of the input series.
    channels : int
        Width of the ``depth`` causal blocks.
    depth : int
        Number of blocks of width ``channels`` (dilations 1, 2, …, 2^(depth − 1)), >= 0.
    reduced_size : int
        Width of the last causal block (the features that are max-pooled).
    out_features : int
        Size D of the representation.
    kernel_size : int
        Width k of every causal convolution.
    dtype : numpy dtype
        float32 or float64: the dtype of the parameters (and of the outputs).
    seed : int, optional
        Initialisation seed; None draws from the process-wide stream (:func:`pyssl.manual_seed`).
    """

    def __init__(self, in_channels: int, channels: int = 40, depth: int = 10, reduced_size: int = 160,
                 out_features: int = 320, kernel_size: int = 3, dtype=np.float32, seed=None):
        super().__init__()
        for name, v, low in (("in_channels", in_channels, 1), ("channels", channels, 1), ("depth", depth, 0),
                             ("reduced_size", reduced_size, 1), ("out_features", out_features, 1),
                             ("kernel_size", kernel_size, 1)):
            check_scalar(v, name, kind=numbers.Integral, low=low)
        g = rng(seed)
        s = lambda: int(g.integers(2**63))  # noqa: E731
        blocks, c = [], int(in_channels)
        for i in range(int(depth)):
            blocks.append(CausalConvBlock(c, channels, kernel_size, dilation=2**i, dtype=dtype, seed=s()))
            c = int(channels)
        blocks.append(CausalConvBlock(c, reduced_size, kernel_size, dilation=2 ** int(depth), dtype=dtype, seed=s()))
        self.in_channels, self.out_features = int(in_channels), int(out_features)
        self.network = Sequential(*blocks)
        self.pool = MaskedMaxPool()
        self.linear = Linear(reduced_size, out_features, dtype=dtype, seed=s())

    def _features(self, x):
        x = layer_input(self, x, self.dtype)
        if x.ndim != 3 or x.shape[1] != self.in_channels:
            raise ValueError(f"CausalCNNEncoder expects x of shape (N, {self.in_channels}, T), got shape {x.shape}")
        nan = np.isnan(x)
        valid = ~nan.any(axis=1)
        if not valid.any(axis=1).all():
            raise ValueError("CausalCNNEncoder: a series has no observed time step (all NaN)")
        if nan.any():
            x = np.where(nan, 0, x).astype(x.dtype)
        h, ch = self.network.forward(x)
        return h, ch, valid

    def forward(self, x):
        h, ch, valid = self._features(x)
        p, cp = self.pool.forward((h, valid))
        z, cl = self.linear.forward(p)
        return z, (ch, cp, cl)

    def backward(self, grad_output, ctx, need_input_grad: bool = True):
        ch, cp, cl = ctx
        g = self.linear.backward(grad_output, cl)
        g = self.pool.backward(g, cp)
        return self.network.backward(g, ch, need_input_grad=need_input_grad)

    def transform(self, X, batch_size: int = 64, *, pool="max") -> np.ndarray:
        """Whole-series representations (N, D) for ``pool="max"``; for ``pool=None`` the
        representation of every prefix (N, T, D) (NaN steps repeat the previous prefix's)."""
        if pool not in ("max", None):
            raise ValueError(f"pool must be 'max' or None, got {pool!r}")
        X = check_array(X, "X", dtype=self.dtype, ndim=3, finite=False)

        def pooled(x):
            if pool == "max":
                return self.forward(x)[0]
            h, _, valid = self._features(x)
            h = np.where(valid[:, None, :], h, -np.inf)
            run = np.maximum.accumulate(h, axis=2)  # max over each prefix
            run = np.where(np.isfinite(run), run, 0).astype(h.dtype)
            n, c, t = run.shape
            flat = np.ascontiguousarray(run.transpose(0, 2, 1).reshape(n * t, c))
            return self.linear(flat).reshape(n, t, -1)

        return in_eval_batches(self, X, batch_size, pooled)

    def extra_repr(self) -> str:
        return f"{self.in_channels} -> {self.out_features}, blocks={len(self.network)}"
