"""Convolution layers, pooling and reshaping, and the small convolutional extractors used for
sequences (N, C, T) and images (N, C, H, W).

Engines: float32 convolutions run on oneDNN's convolution primitives when pyssl is built with
oneDNN (``_core.nn.conv_engine() == "onednn"``; csrc/nn/conv_dnnl.hpp), else — and always for
float64 — on im2col + one BLAS GEMM per pass (csrc/nn/conv.hpp). ``PYSSL_CONV_ENGINE=im2col``
(read once) or ``_core.nn.conv_engine_config(engine="im2col")`` selects the portable path.
Under ``precision="bf16-mixed"`` (:mod:`pyssl.nn.precision`) a float32 convolution reads x, W and
dy rounded to bfloat16 and sums in float32 (oneDNN only)."""
from __future__ import annotations

import numbers

import numpy as np

from .. import _core
from .._validation import check_scalar
from .init import rng, uniform_fan_in
from .module import Module, Parameter, Sequential, grads_for_backward, layer_input, register_layer
from .activation import make_activation
from . import precision as _precision


class _DnnlContext:
    """What a oneDNN convolution forward keeps for backward: its input and whether it ran bf16."""

    __slots__ = ("x", "bf16")

    def __init__(self, x, bf16):
        self.x, self.bf16 = x, bf16


def _dnnl_mode(x):
    """None: the im2col path; False: oneDNN float32; True: oneDNN bf16-mixed."""
    if x.dtype != np.float32:
        return None
    if _precision.current() == "bf16-mixed":
        return True
    return False if _core.nn.conv_engine() == "onednn" else None


def _pair(v, name):
    """An int or a pair of ints, as a pair (values are range-checked by the caller)."""
    if isinstance(v, numbers.Integral) and not isinstance(v, bool):
        v = int(check_scalar(v, name, kind=numbers.Integral))
        return (v, v)
    try:
        items = tuple(v)
    except TypeError:
        raise TypeError(f"{name} must be an int or a pair of ints, got {v!r}") from None
    if len(items) != 2:
        raise ValueError(f"{name} must be an int or a pair of ints, got {v!r}")
    return tuple(int(check_scalar(a, name, kind=numbers.Integral)) for a in items)


def _batch_input(layer, x, pattern: str, min_ndim: int) -> np.ndarray:
    """layer_input, then at least ``min_ndim`` axes with a non-empty batch axis."""
    x = layer_input(layer, x)
    if x.ndim < min_ndim:
        raise ValueError(f"{type(layer).__name__} expects x of shape {pattern} (at least {min_ndim}-D), "
                         f"got shape {x.shape}")
    return x


@register_layer("conv2d", example=lambda dt: Conv2d(2, 3, 3, padding=1, dtype=dt, seed=0), input=(2, 2, 5, 6))
@register_layer("conv2d_dilated_same", input=(2, 2, 5, 6),
                example=lambda dt: Conv2d(2, 3, 3, padding="same", dilation=(2, 3), dtype=dt, seed=0))
@register_layer("conv2d_dilated_strided", input=(2, 2, 7, 8),
                example=lambda dt: Conv2d(2, 3, (2, 3), stride=2, padding=1, dilation=2, dtype=dt, seed=0))
class Conv2d(Module):
    """2-D cross-correlation (PyTorch convention): x (N, C, H, W), weight (O, C, KH, KW), y (N, O, HO, WO),

        y[n, o, p, q] = b[o] + Σ_{c,i,j} w[o, c, i, j] · x[n, c, p·sh + i·dh − ph, q·sw + j·dw − pw]

    (x read as 0 outside), HO = ⌊(H + ph + ph' − dh·(KH − 1) − 1)/sh⌋ + 1 with ph before and ph'
    after the axis, WO likewise. ``dilation`` spaces the kernel taps (Yu & Koltun, "Multi-Scale
    Context Aggregation by Dilated Convolutions", ICLR 2016). ``padding``: an int or pair (the same
    at both ends), ``"valid"`` (0) or ``"same"`` (stride 1 only: total padding dilation·(K − 1) per
    axis, its smaller half before, as PyTorch's ``padding="same"``). The padding is never copied
    out: im2col reads zeros outside the input. Init U(±1/√(C·KH·KW)) as PyTorch.

    float32 layers run on oneDNN convolutions when pyssl has them (see the module docstring;
    results bit-identical at any thread count), float64 on im2col + GEMM. Under
    ``precision="bf16-mixed"`` a float32 layer computes ``y = b + bf16(x) * bf16(W)`` with float32
    sums (backward: ``dx = bf16(dy) *ᵀ bf16(W)``, ``dW += corr(bf16(x), bf16(dy))``); W and its
    gradient stay float32.

    ``in_channels``: channels C of the input. ``out_channels``: channels O of the output.
    ``kernel_size``: kernel width (int, or (kh, kw)). ``stride``: step between kernel positions,
    >= 1 (int or pair). ``padding``: as above. ``bias``: add a learned bias. ``dtype``: float32 or
    float64: the dtype of the parameters (and of the outputs). ``seed``: initialisation seed; None
    draws from the process-wide stream (:func:`pyssl.manual_seed`). ``dilation``: spacing between
    kernel taps, >= 1 (int or pair).
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, bias=True,
                 dtype=np.float32, seed=None, dilation=1):
        super().__init__()
        check_scalar(in_channels, "in_channels", kind=numbers.Integral, low=1)
        check_scalar(out_channels, "out_channels", kind=numbers.Integral, low=1)
        kh, kw = _pair(kernel_size, "kernel_size")
        self.stride, self.dilation = _pair(stride, "stride"), _pair(dilation, "dilation")
        if min(kh, kw, *self.stride) < 1:
            raise ValueError(f"kernel_size and stride must be >= 1, got kernel_size={kernel_size!r}, stride={stride!r}")
        if min(self.dilation) < 1:
            raise ValueError(f"dilation must be >= 1, got {dilation!r}")
        self.in_channels, self.out_channels, self.kernel_size = int(in_channels), int(out_channels), (kh, kw)
        self.padding, self.padding_end = self._resolve_padding(padding)
        g = rng(seed)
        fan_in = in_channels * kh * kw
        self.weight = Parameter(uniform_fan_in((out_channels, in_channels, kh, kw), fan_in, dtype, g))
        self.bias = Parameter(uniform_fan_in((out_channels,), fan_in, dtype, g), decay=False) if bias else None

    def _resolve_padding(self, padding):
        """(padding before, padding after) per axis from an int, a pair, "valid" or "same"."""
        if isinstance(padding, str):
            if padding == "valid":
                return (0, 0), (0, 0)
            if padding == "same":
                if self.stride != (1, 1):
                    raise ValueError(f"padding='same' needs stride 1, got stride={self.stride}; pass integer padding")
                total = [d * (k - 1) for d, k in zip(self.dilation, self.kernel_size)]
                before = tuple(t // 2 for t in total)
                return before, tuple(t - b for t, b in zip(total, before))
            raise ValueError(f"padding must be an int, a pair of ints, 'valid' or 'same', got {padding!r}")
        pad = _pair(padding, "padding")
        if min(pad) < 0:
            raise ValueError(f"padding must be >= 0, got {padding!r}")
        return pad, pad

    def _geometry(self):
        end = None if self.padding_end == self.padding else self.padding_end
        return self.dilation, end

    def forward(self, x):
        x = layer_input(self, x, self.weight.data.dtype)
        b = self.bias.data if self.bias is not None else None
        dil, end = self._geometry()
        mode = _dnnl_mode(x)
        if mode is not None:
            y = _core.nn.conv2d_dnnl_forward(x, self.weight.data, b, self.stride, self.padding, dil, end, mode)
            return y, _DnnlContext(x, mode)
        y, cols = _core.nn.conv2d_forward(x, self.weight.data, b, self.stride, self.padding, dil, end)
        return y, (cols, x.shape)

    def backward(self, grad_output, ctx, need_input_grad=True):
        (wg, bg), acc = grads_for_backward(self.weight, self.bias)
        dil, end = self._geometry()
        if type(ctx) is _DnnlContext:
            return _core.nn.conv2d_dnnl_backward(ctx.x, self.weight.data, np.ascontiguousarray(grad_output), wg, bg,
                                                 self.stride, self.padding, acc, need_input_grad, dil, end, ctx.bf16)
        cols, shape = ctx
        return _core.nn.conv2d_backward(cols, self.weight.data, grad_output, list(shape), wg, bg,
                                        self.stride, self.padding, acc, need_input_grad, dil, end)

    def extra_repr(self):
        pad = self.padding if self.padding_end == self.padding else (self.padding, self.padding_end)
        extra = f", dilation={self.dilation}" if self.dilation != (1, 1) else ""
        return (f"{self.in_channels} -> {self.out_channels}, kernel={self.kernel_size}, stride={self.stride}, "
                f"padding={pad}{extra}")


@register_layer("conv1d", example=lambda dt: Conv1d(2, 3, 3, stride=2, padding=1, dtype=dt, seed=0), input=(2, 2, 9))
@register_layer("conv1d_causal", input=(2, 2, 9),
                example=lambda dt: Conv1d(2, 3, 3, padding="causal", dilation=2, dtype=dt, seed=0))
# dilation = T: the outer taps read only padding (left out of the GEMMs, zero weight gradient)
@register_layer("conv1d_same_dead_taps", input=(2, 2, 9),
                example=lambda dt: Conv1d(2, 3, 3, padding="same", dilation=9, dtype=dt, seed=0))
class Conv1d(Conv2d):
    """1-D convolution over (N, C, T): the H = 1 case of Conv2d; weight (O, C, 1, K).

    y[n, o, t] = b[o] + Σ_{c,k} w[o, c, 0, k] · x[n, c, t·stride + k·dilation − pad_left].
    ``padding``: an int (both ends), ``"valid"``, ``"same"`` (output length T at stride 1; total
    dilation·(K − 1), the smaller half on the left, as PyTorch) or ``"causal"`` (dilation·(K − 1)
    on the left only, so y[:, :, t] depends on x[:, :, ≤ t]: the causal convolutions of WaveNet,
    van den Oord et al. 2016, and of T-Loss, Franceschi et al. 2019). Padding is never copied.

    ``in_channels``: channels C of the input. ``out_channels``: channels O of the output.
    ``kernel_size``: kernel width K. ``stride``: step between kernel positions, >= 1. ``padding``:
    as above. ``bias``: add a learned bias. ``dtype``: float32 or float64: the dtype of the
    parameters (and of the outputs). ``seed``: initialisation seed; None draws from the
    process-wide stream (:func:`pyssl.manual_seed`). ``dilation``: spacing between kernel taps, >= 1.
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, bias=True,
                 dtype=np.float32, seed=None, dilation=1):
        check_scalar(kernel_size, "kernel_size", kind=numbers.Integral, low=1)
        check_scalar(stride, "stride", kind=numbers.Integral, low=1)
        check_scalar(dilation, "dilation", kind=numbers.Integral, low=1)
        if isinstance(padding, str):
            if padding not in ("valid", "same", "causal"):
                raise ValueError(f"padding must be an int, 'valid', 'same' or 'causal', got {padding!r}")
            pad2 = padding
        else:
            check_scalar(padding, "padding", kind=numbers.Integral, low=0)
            pad2 = (0, padding)
        causal = padding == "causal"
        super().__init__(in_channels, out_channels, (1, kernel_size), (1, stride), "valid" if causal else pad2,
                         bias, dtype, seed, (1, dilation))
        if causal:
            self.padding, self.padding_end = (0, dilation * (kernel_size - 1)), (0, 0)

    def forward(self, x):
        x = layer_input(self, x)
        if x.ndim != 3:
            raise ValueError(f"Conv1d expects (N, C, T), got shape {x.shape}")
        y, ctx = super().forward(x.reshape(x.shape[0], x.shape[1], 1, x.shape[2]))
        return y.reshape(y.shape[0], y.shape[1], y.shape[3]), ctx

    def backward(self, grad_output, ctx, need_input_grad=True):
        g = grad_output.reshape(grad_output.shape[0], grad_output.shape[1], 1, grad_output.shape[2])
        dx = super().backward(g, ctx, need_input_grad)
        return None if dx is None else dx.reshape(dx.shape[0], dx.shape[1], dx.shape[3])


@register_layer("global_avg_pool", input=(3, 2, 5))
class GlobalAvgPool(Module):
    """Mean over all axes after the channel axis: (N, C, ...) → (N, C)."""

    def forward(self, x):
        x = _batch_input(self, x, "(N, C, ...)", 2)
        shape = x.shape
        return _core.nn.global_avg_pool_forward(x.reshape(shape[0], shape[1], int(np.prod(shape[2:])))), shape

    def backward(self, grad_output, ctx, need_input_grad=True):
        shape = ctx
        s = int(np.prod(shape[2:]))
        return _core.nn.global_avg_pool_backward(grad_output, s).reshape(shape)


@register_layer("flatten", input=(3, 2, 5))
class Flatten(Module):
    """(N, ...) → (N, prod(...)) without a copy."""

    def forward(self, x):
        x = _batch_input(self, x, "(N, ...)", 2)
        return x.reshape(x.shape[0], int(np.prod(x.shape[1:]))), x.shape

    def backward(self, grad_output, ctx, need_input_grad=True):
        return grad_output.reshape(ctx)


def _widths(channels) -> tuple[int, ...]:
    """The encoders' ``channels``: a non-empty sequence of positive ints."""
    try:
        widths = tuple(channels)
    except TypeError:
        raise TypeError(f"channels must be a sequence of layer widths, got {channels!r}") from None
    if not widths:
        raise ValueError("channels must name at least one convolution width, got an empty sequence")
    return tuple(int(check_scalar(w, f"channels[{i}]", kind=numbers.Integral, low=1)) for i, w in enumerate(widths))


@register_layer("conv_encoder1d", example=lambda dt: ConvEncoder1d(2, (3, 4), 3, dtype=dt, seed=0), input=(2, 2, 12))
class ConvEncoder1d(Sequential):
    """Sequence extractor for (N, C, T): [Conv1d(k, padding k//2) → activation] per entry of
    ``channels``, then global average pooling over time; ``out_features = channels[-1]``.

    ``in_channels``: channels C of the input. ``kernel_size``: kernel width (int, or (kh, kw) for
    2-D). ``act``: activation name: 'relu', 'gelu', 'tanh' or 'sigmoid'. ``dtype``: float32 or
    float64: the dtype of the parameters (and of the outputs). ``seed``: initialisation seed; None
    draws from the process-wide stream (:func:`pyssl.manual_seed`).
    """

    def __init__(self, in_channels: int, channels=(32, 64), kernel_size: int = 5, act: str = "relu",
                 dtype=np.float32, seed=None):
        channels = _widths(channels)
        g = rng(seed)
        layers, c = [], in_channels
        for width in channels:
            layers += [Conv1d(c, width, kernel_size, padding=kernel_size // 2, dtype=dtype,
                              seed=int(g.integers(2**63))), make_activation(act)]
            c = width
        layers.append(GlobalAvgPool())
        super().__init__(*layers)
        self.out_features = int(channels[-1])


@register_layer("conv_encoder2d", example=lambda dt: ConvEncoder2d(1, (2, 3), dtype=dt, seed=0), input=(2, 1, 8, 8))
class ConvEncoder2d(Sequential):
    """Image extractor for (N, C, H, W): [Conv2d 3×3 (stride 2 after the first) → activation] per
    entry of ``channels``, then global average pooling; ``out_features = channels[-1]``.

    ``in_channels``: channels C of the input. ``act``: activation name: 'relu', 'gelu', 'tanh' or
    'sigmoid'. ``dtype``: float32 or float64: the dtype of the parameters (and of the outputs).
    ``seed``: initialisation seed; None draws from the process-wide stream
    (:func:`pyssl.manual_seed`).
    """

    def __init__(self, in_channels: int, channels=(32, 64), act: str = "relu", dtype=np.float32, seed=None):
        channels = _widths(channels)
        g = rng(seed)
        layers, c = [], in_channels
        for i, width in enumerate(channels):
            layers += [Conv2d(c, width, 3, stride=1 if i == 0 else 2, padding=1, dtype=dtype,
                              seed=int(g.integers(2**63))), make_activation(act)]
            c = width
        layers.append(GlobalAvgPool())
        super().__init__(*layers)
        self.out_features = int(channels[-1])
