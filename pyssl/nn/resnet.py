"""Residual networks: BasicBlock and Bottleneck (He et al. 2016, "Deep Residual Learning for Image
Recognition"), ResNet-18/34/50 for images (N, C, H, W), and ResNet1d for series (N, C, T), the
residual baseline of Wang, Yan & Oates 2017 ("Time Series Classification from Scratch with Deep
Neural Networks: A Strong Baseline").

Every convolution is followed by a batch norm; the norm, the ReLU and the residual add that end a
block run as one fused kernel (:meth:`pyssl.nn.BatchNorm2d.forward_fused`).
"""
from __future__ import annotations

import numbers

import numpy as np

from .. import _core
from .._validation import check_scalar
from .batchnorm import BatchNorm2d, ChannelBatchNorm1d
from .conv import Conv1d, Conv2d, GlobalAvgPool, _DnnlContext, _dnnl_mode
from .init import rng
from .module import Module, Sequential, grads_for_backward, layer_input, register_layer
from .pool import MaxPool2d


class RecomputeConv2d(Conv2d):
    """Conv2d that keeps its input instead of its im2col columns for backward and rebuilds the
    columns there (one extra copy pass, ~10% of the forward GEMM's time). A ResNet-18 step at
    batch 128 otherwise holds ~2.3 GB of columns at once — more than the buffer cache keeps, so
    they were page-faulted back every step; this way one column buffer is alive at a time. The
    input is held anyway by the preceding layer's context. The input gradient uses
    ``conv2d_input_grad`` (the same Wᵀ·dY product, a col2im without per-element bounds checks).
    Same results as Conv2d, bit for bit. On the oneDNN engine (float32, see
    :mod:`pyssl.nn.conv`) there are no columns: the layer is a plain Conv2d keeping its input."""

    def forward(self, x):
        x = layer_input(self, x, self.weight.data.dtype)
        if _dnnl_mode(x) is not None:
            return super().forward(x)
        y, _cols = _core.nn.conv2d_forward(x, self.weight.data, None if self.bias is None else self.bias.data,
                                           self.stride, self.padding)
        return y, x

    def backward(self, grad_output, ctx, need_input_grad=True):
        if type(ctx) is _DnnlContext:
            return super().backward(grad_output, ctx, need_input_grad)
        x = ctx
        g = np.ascontiguousarray(grad_output)
        cols = _core.nn.im2col(x, self.kernel_size, self.stride, self.padding)
        (wg, bg), acc = grads_for_backward(self.weight, self.bias)
        _core.nn.conv2d_backward(cols, self.weight.data, g, list(x.shape), wg, bg, self.stride, self.padding, acc,
                                 False)
        del cols
        if not need_input_grad:
            return None
        return _core.nn.conv2d_input_grad(self.weight.data, g, list(x.shape), self.stride, self.padding)


def _conv(dims, cin, cout, k, stride, dtype, g, padding=None):
    """A bias-free convolution (the batch norm after it has the shift), Kaiming-normal fan-out
    initialisation as torchvision's ResNet: w ~ N(0, 2/(C_out·k^dims))."""
    pad = k // 2 if padding is None else padding
    seed = int(g.integers(2**63))
    layer = (RecomputeConv2d(cin, cout, k, stride=stride, padding=pad, bias=False, dtype=dtype, seed=seed)
             if dims == 2 else Conv1d(cin, cout, k, stride=stride, padding=pad, bias=False, dtype=dtype, seed=seed))
    w = layer.weight.data
    w[...] = g.standard_normal(w.shape) * np.sqrt(2.0 / (cout * k**dims))
    return layer


def _bn(dims, c, dtype, relu):
    return (BatchNorm2d if dims == 2 else ChannelBatchNorm1d)(c, dtype=dtype, relu=relu)


class _Block(Module):
    """convs[i] → norms[i] (ReLU fused) …, the last norm adds the shortcut before its ReLU."""

    def _setup(self, convs, norms, shortcut):
        for i, (c, n) in enumerate(zip(convs, norms)):
            setattr(self, f"conv{i + 1}", c)
            setattr(self, f"bn{i + 1}", n)
        self._depth = len(convs)
        self.shortcut = shortcut  # None: identity

    def forward(self, x):
        x = layer_input(self, x)
        ctxs = []
        h = x
        for i in range(1, self._depth + 1):
            h, cc = getattr(self, f"conv{i}").forward(h)
            if i < self._depth:
                h, bc = getattr(self, f"bn{i}").forward(h)
            else:
                s, sc = (x, None) if self.shortcut is None else self.shortcut.forward(x)
                h, bc = getattr(self, f"bn{i}").forward_fused(h, residual=s)
            ctxs += [cc, bc]
        return h, (ctxs, sc)

    def backward(self, grad_output, ctx, need_input_grad: bool = True):
        ctxs, sc = ctx
        g, ds = getattr(self, f"bn{self._depth}").backward_fused(grad_output, ctxs[-1])
        for i in range(self._depth, 0, -1):
            if i < self._depth:
                g = getattr(self, f"bn{i}").backward(g, ctxs[2 * i - 1])
            g = getattr(self, f"conv{i}").backward(g, ctxs[2 * i - 2], need_input_grad=need_input_grad or i > 1)
        if self.shortcut is None:
            return None if g is None else np.add(g, ds, out=g)
        dxs = self.shortcut.backward(ds, sc, need_input_grad=need_input_grad)
        return None if g is None else np.add(g, dxs, out=g)


def _projection(dims, cin, cout, stride, dtype, g):
    """1×1 convolution at the block's stride + batch norm (He et al. 2016, option B)."""
    return Sequential(_conv(dims, cin, cout, 1, stride, dtype, g, padding=0), _bn(dims, cout, dtype, relu=False))


@register_layer("basic_block", example=lambda dt: BasicBlock(2, 3, stride=2, dtype=dt, seed=0), input=(2, 2, 6, 5))
class BasicBlock(_Block):
    """Two 3×3 convolutions (He et al. 2016, Fig. 2 left; ResNet-18/34):

    .. math:: y = \\mathrm{relu}\\big(\\mathrm{BN}(W_2 * \\mathrm{relu}(\\mathrm{BN}(W_1 *_s x))) + P(x)\\big)

    with P the identity, or a 1×1 convolution at stride s + BN when the shape changes
    (``stride > 1`` or ``in_channels != channels``). x (N, C_in, H, W) → y (N, C, H/s, W/s);
    ``dims=1`` builds the same block over (N, C, T). Output channels: ``channels × expansion``
    (expansion 1).

    Parameters
    ----------
    in_channels, channels : int
        Input channels C_in and block width C.
    stride : int
        Stride s of the first convolution and of the projection.
    dtype : float32 or float64
    seed : int, optional
        Initialisation seed (Kaiming-normal fan-out weights).
    dims : 1 or 2
        2 for (N, C, H, W), 1 for (N, C, T).
    kernel_size : int
        Odd kernel of both convolutions (3).
    """

    expansion = 1

    def __init__(self, in_channels: int, channels: int, stride: int = 1, dtype=np.float32, seed=None, *,
                 dims: int = 2, kernel_size: int = 3):
        super().__init__()
        check_scalar(in_channels, "in_channels", kind=numbers.Integral, low=1)
        check_scalar(channels, "channels", kind=numbers.Integral, low=1)
        check_scalar(stride, "stride", kind=numbers.Integral, low=1)
        g = rng(seed)
        convs = [_conv(dims, in_channels, channels, kernel_size, stride, dtype, g),
                 _conv(dims, channels, channels, kernel_size, 1, dtype, g)]
        norms = [_bn(dims, channels, dtype, relu=True), _bn(dims, channels, dtype, relu=True)]
        short = (_projection(dims, in_channels, channels, stride, dtype, g)
                 if stride != 1 or in_channels != channels else None)
        self._setup(convs, norms, short)
        self.out_channels = int(channels)


@register_layer("bottleneck", example=lambda dt: Bottleneck(3, 2, stride=2, dtype=dt, seed=0), input=(4, 3, 8, 8))
class Bottleneck(_Block):
    """1×1 reduce → 3×3 (stride s) → 1×1 expand ×4 (He et al. 2016, Fig. 5 right; ResNet-50), the
    stride on the 3×3 convolution as torchvision ("ResNet v1.5"):

    .. math:: y = \\mathrm{relu}\\big(\\mathrm{BN}(W_3 * \\mathrm{relu}(\\mathrm{BN}(W_2 *_s
              \\mathrm{relu}(\\mathrm{BN}(W_1 * x))))) + P(x)\\big)

    Output channels ``4 · channels``; P as in :class:`BasicBlock`.

    Parameters
    ----------
    in_channels, channels : int
        Input channels and bottleneck width (output 4 · channels).
    stride : int
        Stride of the 3×3 convolution and of the projection.
    dtype, seed, dims
        As in :class:`BasicBlock`.
    """

    expansion = 4

    def __init__(self, in_channels: int, channels: int, stride: int = 1, dtype=np.float32, seed=None, *,
                 dims: int = 2):
        super().__init__()
        check_scalar(in_channels, "in_channels", kind=numbers.Integral, low=1)
        check_scalar(channels, "channels", kind=numbers.Integral, low=1)
        check_scalar(stride, "stride", kind=numbers.Integral, low=1)
        g = rng(seed)
        out = channels * self.expansion
        convs = [_conv(dims, in_channels, channels, 1, 1, dtype, g, padding=0),
                 _conv(dims, channels, channels, 3, stride, dtype, g),
                 _conv(dims, channels, out, 1, 1, dtype, g, padding=0)]
        norms = [_bn(dims, channels, dtype, True), _bn(dims, channels, dtype, True), _bn(dims, out, dtype, True)]
        short = _projection(dims, in_channels, out, stride, dtype, g) if stride != 1 or in_channels != out else None
        self._setup(convs, norms, short)
        self.out_channels = int(out)


_LAYOUTS = {18: (BasicBlock, (2, 2, 2, 2)), 34: (BasicBlock, (3, 4, 6, 3)), 50: (Bottleneck, (3, 4, 6, 3))}
VARIANTS = ("cifar", "imagenet")


@register_layer("resnet", example=lambda dt: ResNet(18, 1, width=2, dtype=dt, seed=0), input=(4, 1, 16, 16),
                fd=False)  # too many parameters for coordinate-wise differences: see tests/test_resnet_layers.py
class ResNet(Sequential):
    """ResNet-18/34/50 feature extractor h_θ for images x (N, C, H, W) → (N, ``out_features``)
    (He et al. 2016, Table 1), ending in global average pooling (no classifier).

    Stages of widths w, 2w, 4w, 8w (``width`` w = 64 in the paper) at strides 1, 2, 2, 2, with
    [2, 2, 2, 2] basic blocks (18), [3, 4, 6, 3] basic blocks (34) or [3, 4, 6, 3] bottlenecks
    (50); ``out_features = 8w`` (18/34) or ``32w`` (50).

    ``variant="imagenet"``: 7×7 stride-2 stem convolution and a 3×3 stride-2 max-pool (the
    paper's). ``variant="cifar"``: a 3×3 stride-1 stem and no max-pool, for 32×32 inputs — the
    encoder solo-learn and lightly benchmark SSL methods with on CIFAR. Convolutions are bias-free
    with Kaiming-normal (fan-out) weights, batch norms start at γ = 1, β = 0 (torchvision); the
    parameters are in torchvision's order, so its weights load one to one.

    Memory: a training step keeps each layer's input and batch-norm output; the largest scratch
    buffers (im2col columns) live one at a time. At batch 128 on 32×32 a step's buffers slightly
    exceed the buffer cache's 1 GiB default; ``pyssl.set_buffer_cache_limit(4 << 30)`` keeps them
    all mapped (``benchmarks/bench_resnet.py --cache-mb 4096``).

    Parameters
    ----------
    depth : 18, 34 or 50
    in_channels : int
        Image channels C.
    variant : "cifar" or "imagenet"
        Stem: 3×3 stride 1 without max-pool, or 7×7 stride 2 with a 3×3 stride-2 max-pool.
    width : int
        w, the first stage's width (64 in the paper).
    dtype : float32 or float64
    seed : int, optional
        Initialisation seed.
    """

    def __init__(self, depth: int = 18, in_channels: int = 3, variant: str = "cifar", width: int = 64,
                 dtype=np.float32, seed=None):
        if depth not in _LAYOUTS:
            raise ValueError(f"depth must be one of {sorted(_LAYOUTS)}, got {depth!r}")
        if variant not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
        check_scalar(in_channels, "in_channels", kind=numbers.Integral, low=1)
        check_scalar(width, "width", kind=numbers.Integral, low=1)
        g = rng(seed)
        block, counts = _LAYOUTS[depth]
        if variant == "cifar":
            layers = [_conv(2, in_channels, width, 3, 1, dtype, g), _bn(2, width, dtype, relu=True)]
        else:
            layers = [_conv(2, in_channels, width, 7, 2, dtype, g, padding=3), _bn(2, width, dtype, relu=True),
                      MaxPool2d(3, 2, 1)]
        c = width
        for stage, n_blocks in enumerate(counts):
            w = width * 2**stage
            for b in range(n_blocks):
                blk = block(c, w, stride=2 if (stage > 0 and b == 0) else 1, dtype=dtype,
                            seed=int(g.integers(2**63)))
                layers.append(blk)
                c = blk.out_channels
        layers.append(GlobalAvgPool())
        super().__init__(*layers)
        self.depth, self.variant, self.width, self.in_channels = depth, variant, int(width), int(in_channels)
        self.out_features = int(c)

    def forward(self, x):
        x = layer_input(self, x)
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"ResNet(in_channels={self.in_channels}) expects x of shape (N, C, H, W) with C = "
                             f"{self.in_channels}, got shape {x.shape}")
        return super().forward(x)


class _SeriesBlock(_Block):
    """Wang et al. (2017) residual block: three convolutions (kernels k₁, k₂, k₃, 'same' padding)
    each followed by BN (+ ReLU), a shortcut of 1×1 conv + BN when the channels change and BN
    otherwise, added before the last ReLU."""

    def __init__(self, cin, cout, kernel_sizes, dtype, g):
        super().__init__()
        convs = [_conv(1, cin if i == 0 else cout, cout, k, 1, dtype, g) for i, k in enumerate(kernel_sizes)]
        norms = [_bn(1, cout, dtype, relu=True) for _ in kernel_sizes]
        short = _projection(1, cin, cout, 1, dtype, g) if cin != cout else _bn(1, cout, dtype, relu=False)
        self._setup(convs, norms, short)
        self.out_channels = int(cout)


@register_layer("resnet1d", example=lambda dt: ResNet1d(2, width=3, dtype=dt, seed=0), input=(4, 2, 16), fd=False)
class ResNet1d(Sequential):
    """Residual network for series x (N, C, T) → (N, ``out_features``): the ResNet baseline of
    Wang, Yan & Oates (2017), three residual blocks of widths (w, 2w, 2w) (w = 64 in the paper),
    each three convolutions with batch norm and ReLU, then global average pooling over time.

    ``kernel_sizes`` defaults to (7, 5, 3): the paper's (8, 5, 3) with an odd first kernel, so
    that symmetric 'same' padding keeps T (as tsai's ResNet). Every T ≥ 1 works.

    Parameters
    ----------
    in_channels : int
        Series channels C.
    width : int
        w; the blocks have widths (w, 2w, 2w).
    kernel_sizes : sequence of odd int
        The three convolutions' kernels in every block.
    dtype : float32 or float64
    seed : int, optional
        Initialisation seed.
    """

    def __init__(self, in_channels: int, width: int = 64, kernel_sizes=(7, 5, 3), dtype=np.float32, seed=None):
        check_scalar(in_channels, "in_channels", kind=numbers.Integral, low=1)
        check_scalar(width, "width", kind=numbers.Integral, low=1)
        try:
            ks = tuple(int(check_scalar(k, "kernel_sizes", kind=numbers.Integral, low=1)) for k in kernel_sizes)
        except TypeError:
            raise TypeError(f"kernel_sizes must be a sequence of odd ints, got {kernel_sizes!r}") from None
        if not ks or any(k % 2 == 0 for k in ks):
            raise ValueError(f"kernel_sizes must be a non-empty sequence of odd ints (same padding), got {ks}")
        g = rng(seed)
        layers: list[Module] = []
        c = in_channels
        for w in (width, 2 * width, 2 * width):
            layers.append(_SeriesBlock(c, w, ks, dtype, g))
            c = w
        layers.append(GlobalAvgPool())
        super().__init__(*layers)
        self.width, self.in_channels, self.kernel_sizes = int(width), int(in_channels), ks
        self.out_features = int(c)

    def forward(self, x):
        x = layer_input(self, x)
        if x.ndim != 3 or x.shape[1] != self.in_channels:
            raise ValueError(f"ResNet1d(in_channels={self.in_channels}) expects x of shape (N, C, T) with C = "
                             f"{self.in_channels}, got shape {x.shape}")
        return super().forward(x)
