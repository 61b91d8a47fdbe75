"""TS2Vec's dilated residual CNN over time (Yue et al., AAAI 2022) and its timestamp masking."""
from __future__ import annotations

import numbers

import numpy as np

from .. import _core
from .._validation import check_array, check_scalar
from .activation import GELU
from .conv import Conv1d
from .dropout import Dropout
from .init import rng
from .module import Module, Sequential, ShortcutSum, in_eval_batches, layer_input, register_layer


@register_layer("timestamp_mask", example=lambda dt: TimestampMask(0.5, seed=0).astype(dt), input=(3, 2, 6), fd=False)
class TimestampMask(Dropout):
    """Random timestamp masking of (N, C, T) latents (TS2Vec, Sec. 3.1): in training mode every
    (sample, time step) is kept with probability 1 − p and zeroed otherwise across all C channels,

        y[n, :, t] = m[n, t] · x[n, :, t],   m[n, t] ~ Bernoulli(1 − p)   (no rescaling),

    the identity in evaluation mode. Masks come from the C++ Philox stream ``(seed, step)`` (the
    dropout kernel's, one draw per (n, t)); ``step`` counts training forwards and is saved in the
    state. p = 0.5 is TS2Vec's "binomial" mask. Construction, ``seed``/``step`` and the saved
    stream state are :class:`Dropout`'s.

    Parameters
    ----------
    p : float
        Probability in [0, 1) that a time step is masked.
    seed : int, optional
        Seed of the mask stream; None draws one from the process-wide stream.
    """

    def draw(self, n: int, t: int, dtype) -> np.ndarray:
        """The next (n, 1, t) keep mask (0/1) of the stream; advances the step."""
        ones = np.ones((n, 1, t), dtype=dtype)
        _, keep = _core.nn.dropout_forward(ones, self.p, self.seed, self.step)
        self.rng_state[1] += np.uint64(1)
        return keep.astype(dtype).reshape(n, 1, t)

    def forward(self, x):
        x = layer_input(self, x)
        if x.ndim != 3:
            raise ValueError(f"TimestampMask expects (N, C, T), got shape {x.shape}")
        if not self.training or self.p == 0.0:
            return x, None
        m = self.draw(x.shape[0], x.shape[2], x.dtype)
        return x * m, m

    def backward(self, grad_output, ctx, need_input_grad: bool = True):
        return grad_output if ctx is None else grad_output * ctx


@register_layer("dilated_conv_block", example=lambda dt: DilatedConvBlock(2, 3, dilation=2, dtype=dt, seed=0),
                input=(3, 2, 7))
class DilatedConvBlock(ShortcutSum):
    """TS2Vec's residual block: y = conv₂(gelu(conv₁(gelu(x)))) + r(x), both convolutions kernel k,
    dilation d, "same" padding; r = identity, or a 1×1 convolution when the width changes (or for
    the final block, as the reference implementation). x (N, C_in, T) → y (N, C_out, T).

    Parameters
    ----------
    in_channels, out_channels : int
        Channels C_in of the input and C_out of the output.
    kernel_size : int
        Width k of both convolutions.
    dilation : int
        Spacing d between kernel taps, >= 1.
    final : bool
        Use a 1×1 projection on the residual path even when the widths agree (the last block).
    dtype : numpy dtype
        float32 or float64: the dtype of the parameters (and of the outputs).
    seed : int, optional
        Initialisation seed; None draws from the process-wide stream (:func:`pyssl.manual_seed`).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, dilation: int = 1,
                 final: bool = False, dtype=np.float32, seed=None):
        super().__init__()
        g = rng(seed)
        s = lambda: int(g.integers(2**63))  # noqa: E731
        self.body = Sequential(GELU(), Conv1d(in_channels, out_channels, kernel_size, padding="same",
                                              dilation=dilation, dtype=dtype, seed=s()),
                               GELU(), Conv1d(out_channels, out_channels, kernel_size, padding="same",
                                              dilation=dilation, dtype=dtype, seed=s()))
        self.shortcut = (Conv1d(in_channels, out_channels, 1, dtype=dtype, seed=s())
                         if in_channels != out_channels or final else None)


# without masking and dropout (finite differences apply), and with them (random, seeded: fd=False)
@register_layer("dilated_conv_encoder", input=(3, 2, 9),
                example=lambda dt: DilatedConvEncoder(2, hidden_dim=3, output_dim=4, depth=2, mask_p=0.0, dropout=0.0,
                                                      dtype=dt, seed=0))
@register_layer("dilated_conv_encoder_masked", input=(3, 2, 9), fd=False,
                example=lambda dt: DilatedConvEncoder(2, hidden_dim=3, output_dim=4, depth=2, dtype=dt, seed=0))
class DilatedConvEncoder(Module):
    """TS2Vec's encoder (Yue et al., "TS2Vec: Towards Universal Representation of Time Series",
    AAAI 2022, Sec. 3.1): per-timestamp representations of a series x (N, C, T),

        h = Linear_C→hidden(x_t) per time step  →  timestamp mask (training only)
          → ``depth`` + 1 residual blocks (GELU, dilated conv k, GELU, dilated conv k), dilation 2^i
          → dropout(0.1)  →  r (N, output_dim, T)

    with widths [hidden_dim]·depth + [output_dim] (paper: hidden 64, output 320, depth 10, k = 3,
    so the receptive field covers thousands of steps). Missing values (NaN) are zero-filled and
    their time steps masked, as the reference implementation. ``forward`` gives the per-timestep
    (N, D, T) map; ``transform(X, pool="max")`` the whole-series representation (N, D) (max over
    time), ``transform(X, pool=None)`` the per-timestep one as (N, T, D).

    Parameters
    ----------
    in_channels : int
        Channels C of the input series.
    hidden_dim : int
        Width of the input projection and of the first ``depth`` blocks.
    output_dim : int
        Width D of the representations (the last block).
    depth : int
        Number of hidden-width blocks (``depth`` + 1 blocks in all), >= 0.
    kernel_size : int
        Width k of every convolution.
    mask_p : float
        Probability of masking a time step in training (:class:`TimestampMask`), in [0, 1).
    dropout : float
        Dropout probability on the output representations (training only).
    dtype : numpy dtype
        float32 or float64: the dtype of the parameters (and of the outputs).
    seed : int, optional
        Initialisation seed; None draws from the process-wide stream (:func:`pyssl.manual_seed`).
    """

    def __init__(self, in_channels: int, hidden_dim: int = 64, output_dim: int = 320, depth: int = 10,
                 kernel_size: int = 3, mask_p: float = 0.5, dropout: float = 0.1, dtype=np.float32, seed=None):
        super().__init__()
        for name, v, low in (("in_channels", in_channels, 1), ("hidden_dim", hidden_dim, 1),
                             ("output_dim", output_dim, 1), ("depth", depth, 0), ("kernel_size", kernel_size, 1)):
            check_scalar(v, name, kind=numbers.Integral, low=low)
        g = rng(seed)
        s = lambda: int(g.integers(2**63))  # noqa: E731
        self.in_channels, self.out_features = int(in_channels), int(output_dim)
        self.input_fc = Conv1d(in_channels, hidden_dim, 1, dtype=dtype, seed=s())
        self.mask = TimestampMask(mask_p, seed=s())
        widths = [int(hidden_dim)] * int(depth) + [int(output_dim)]
        blocks, c = [], int(hidden_dim)
        for i, w in enumerate(widths):
            blocks.append(DilatedConvBlock(c, w, kernel_size, dilation=2**i, final=i == len(widths) - 1,
                                           dtype=dtype, seed=s()))
            c = w
        self.blocks = Sequential(*blocks)
        self.dropout = Dropout(dropout, seed=s())

    def forward(self, x):
        x = layer_input(self, x, self.dtype)
        if x.ndim != 3 or x.shape[1] != self.in_channels:
            raise ValueError(f"DilatedConvEncoder expects x of shape (N, {self.in_channels}, T), got shape {x.shape}")
        missing = np.isnan(x).any(axis=1, keepdims=True)  # (N, 1, T)
        has_missing = bool(missing.any())
        if has_missing:
            x = np.where(np.isnan(x), 0, x).astype(x.dtype)
        h, c0 = self.input_fc.forward(x)
        if has_missing:
            h = h * ~missing
        h, c1 = self.mask.forward(h)
        h, c2 = self.blocks.forward(h)
        h, c3 = self.dropout.forward(h)
        return h, (c0, c1, c2, c3, missing if has_missing else None)

    def backward(self, grad_output, ctx, need_input_grad: bool = True):
        c0, c1, c2, c3, missing = ctx
        g = self.dropout.backward(grad_output, c3)
        g = self.blocks.backward(g, c2, need_input_grad=True)
        g = self.mask.backward(g, c1)
        if missing is not None:
            g = g * ~missing
        return self.input_fc.backward(np.ascontiguousarray(g), c0, need_input_grad=need_input_grad)

    def transform(self, X, batch_size: int = 64, *, pool="max") -> np.ndarray:
        """Representations in evaluation mode, in batches: ``pool="max"`` (default) the whole-series
        one (N, D), max over time (TS2Vec's ``encoding_window="full_series"``); ``pool=None`` the
        per-timestep ones (N, T, D)."""
        if pool not in ("max", None):
            raise ValueError(f"pool must be 'max' or None, got {pool!r}")
        X = check_array(X, "X", dtype=self.dtype, ndim=3, finite=False)

        def pooled(x):
            r = self.forward(x)[0]
            return r.max(axis=2) if pool == "max" else np.ascontiguousarray(r.transpose(0, 2, 1))

        return in_eval_batches(self, X, batch_size, pooled)

    def extra_repr(self) -> str:
        return f"{self.in_channels} -> {self.out_features}, blocks={len(self.blocks)}"
