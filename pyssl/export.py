"""Export a pyssl module to PyTorch (:func:`to_torch`) or ONNX (:func:`to_onnx`), so that a
pretrained encoder h_θ* can be served by any runtime.

Both walk the module tree and map each layer of ``pyssl.nn`` to its exact counterpart, through one
converter table per exporter keyed by layer class (:data:`TORCH_CONVERTERS`,
:data:`ONNX_CONVERTERS`; :meth:`ConverterTable.register` adds a layer to one):

==================================  =========================================  ============================================
pyssl                               torch                                      ONNX (opset 17)
==================================  =========================================  ============================================
Linear (W stored (I, O))            nn.Linear, weight = Wᵀ (O, I)              MatMul(x, W) + Add(b)
Conv2d (weight (O, C, KH, KW))      nn.Conv2d (ZeroPad2d first if unequal)     Conv, pads [top, left, bottom, right], dilations
Conv1d (weight (O, C, 1, K))        nn.Conv1d (ConstantPad1d if unequal)       Conv on (N, C, T), pads [left, right], dilations
ReLU / Tanh / Sigmoid / LeakyReLU   nn.ReLU / nn.Tanh / nn.Sigmoid / LeakyReLU Relu / Tanh / Sigmoid / LeakyRelu
GELU (exact, erf form)              nn.GELU(approximate="none")                x · ½ · (1 + erf(x / √2))
LayerNorm (biased variance, ε)      nn.LayerNorm(D, eps, elementwise_affine)   LayerNormalization(axis=−1, epsilon)
BatchNorm1d / 2d, ChannelBatchNorm  nn.BatchNorm1d / 2d, running statistics    (x − μ̂) · 1/√(σ̂² + ε) · γ + β per channel
Dropout / TimestampMask             nn.Dropout(p) / a timestamp mask           Identity (inference)
Softmax / LogSoftmax (last dim)     nn.Softmax(−1) / nn.LogSoftmax(−1)         Softmax / LogSoftmax(axis=−1)
L2Normalize                         x / max(‖x‖, 1e−12) (F.normalize)          x / Max(ReduceL2(x), 1e−12)
Flatten / GlobalAvgPool             nn.Flatten(1) / mean over axes ≥ 2         Flatten(axis=1) / Reshape(N, C, −1) + ReduceMean
MaxPool2d / MaxPool1d               nn.MaxPool2d / nn.MaxPool1d                MaxPool (floor, −∞ padding)
MaskedMaxPool (h alone)             max over time                              ReduceMax(axis=2)
BasicBlock, Bottleneck, ResNet1d's  conv → BN (ReLU) …, last BN + shortcut     the same ops, Add before the last Relu
Sequential, MLP, ResNet, encoders   nn.Sequential                              the children in order
Residual / ShortcutSum / Identity   x + f(x) / body(x) + shortcut(x) / Id      Add / Add / Identity
MultiHeadAttention                  qkv Linear, softmax(QKᵀ/√d_h)V, proj       MatMul, Reshape/Transpose, Softmax, MatMul
TransformerBlock / Encoder, ViT     pre-norm blocks, positions, [CLS], pool    positions and [CLS] as initializers, Concat,
                                                                               Gather (cls) / ReduceMean (mean)
PatchEmbed2d / 1d                   patch reshape + nn.Linear                  Reshape, Transpose, Reshape, MatMul
FeatureTokenizer                    x[:, :, None] · W + b                      Unsqueeze, Mul, Add
Embedding                           nn.Embedding (int64 codes)                 Gather (graph input int64)
MixedInput, TabularEncoder          values / flags / embeddings, MLP           Slice, Mul, Add, Cast, Gather, Concat
DilatedConvEncoder (TS2Vec)         NaN steps zeroed, blocks (per-step map)    IsNaN, Where, the blocks
CausalCNNEncoder (T-Loss)           NaN steps left out of the max, Linear      IsNaN, Where(−∞), ReduceMax, MatMul
Standardize / PretrainedEncoder     (x − mean) / std; its input, flatten, enc  Div(Sub(x, mean), std); the same, in order
==================================  =========================================  ============================================

The exported network is in evaluation mode (BatchNorm uses its running statistics, Dropout and
TimestampMask are the identity, attention runs without a key padding mask) and in the module's
dtype. A :class:`pyssl.tables.TabularEncoder` is exported over the packed matrix
``encoder.encode(frame)``: the schema's work on a DataFrame (string categories to codes, numeric
standardisation) is not a tensor computation and stays in Python; an encoder whose schema is not
fitted yet has no layers and is refused. A DilatedConvEncoder exports its ``forward``, the per-step
map (N, D, T); its whole-series representation ``transform(X)`` (max over time) is
``Sequential(encoder, MaskedMaxPool())``. Any other module — a user subclass that overrides
``forward`` included — raises TypeError naming it and its place in the tree.

torch and onnx are optional: ``pip install torch`` for :func:`to_torch`, ``pip install
"pyssl[export]"`` (the ``onnx`` package) for :func:`to_onnx`; onnxruntime runs the file.
"""
from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Callable

import numpy as np

from .nn.activation import GELU, ReLU, Sigmoid, Tanh
from .nn.batchnorm import BatchNorm2d, ChannelBatchNorm1d
from .nn.causal import CausalCNNEncoder, LeakyReLU, MaskedMaxPool
from .nn.conv import Conv1d, Conv2d, Flatten, GlobalAvgPool
from .nn.dilated import DilatedConvEncoder, TimestampMask
from .nn.dropout import Dropout
from .nn.embedding import Embedding
from .nn.linear import Linear
from .nn.mixed_input import MixedInput
from .nn.module import Identity, Module, Residual, Sequential, ShortcutSum
from .nn.norm import BatchNorm1d, LayerNorm
from .nn.normalize import L2Normalize
from .nn.pool import MaxPool1d, MaxPool2d
from .nn.resnet import BasicBlock, Bottleneck, RecomputeConv2d, ResNet, ResNet1d, _Block
from .nn.softmax import LogSoftmax, Softmax
from .nn.transformer import (FeatureTokenizer, MultiHeadAttention, PatchEmbed1d, PatchEmbed2d, TransformerBlock,
                             TransformerEncoder, sinusoidal_positions)
from .pretrained import PretrainedEncoder, Standardize
from .tables.encoder import TabularEncoder

_L2_EPS = 1e-12  # the clamp of pyssl's l2_normalize kernel (and of torch.nn.functional.normalize)


class ConverterTable:
    """Layer class → converter, one table per exporter (the registry pattern of
    :mod:`pyssl._registry`, keyed by class rather than by name).

    A module is converted by the entry of the most specific registered class in its type's MRO,
    provided the module's type keeps that class's ``forward`` (MLP and the conv encoders are
    Sequentials, ViT is a TransformerEncoder); a subclass with its own ``forward`` is refused.

    Parameters
    ----------
    kind : str
        What the converters produce ("torch", "ONNX"), used in error messages.
    """

    def __init__(self, kind: str):
        self.kind = kind
        self._table: dict[type, Callable] = {}

    def register(self, *classes: type):
        """Decorator: ``@table.register(A, B)`` converts A and B modules with the decorated function."""
        def add(fn):
            for c in classes:
                if c in self._table:
                    raise ValueError(f"a {self.kind} converter for {c.__name__} is already registered")
                self._table[c] = fn
            return fn
        return add

    def classes(self) -> tuple[type, ...]:
        """The registered layer classes, in registration order."""
        return tuple(self._table)

    def __contains__(self, cls) -> bool:
        return cls in self._table

    def kind_of(self, module, where: str) -> type:
        """The registered class ``module`` is converted as, or a TypeError naming it and ``where``."""
        if not isinstance(module, Module):
            raise TypeError(f"pyssl.export converts pyssl.nn Modules, got {type(module).__name__} at {where}"
                            + ("; pass the method's encoder (method.encoder)" if hasattr(module, "encoder") else ""))
        for base in type(module).__mro__:
            if base in self._table:
                if type(module).forward is getattr(base, "forward"):  # noqa: B009 (base is a Module class)
                    return base
                break
        names = ", ".join(c.__name__ for c in self._table if not c.__name__.startswith("_"))
        raise TypeError(f"pyssl.export cannot convert {type(module).__name__} at {where}: it defines its own forward; "
                        f"supported layers are {names} (and their subclasses that keep their forward)")

    def converter(self, module, where: str):
        return self._table[self.kind_of(module, where)]


#: layer class -> ``fn(b, module, where) -> torch.nn.Module`` (``b``: the build context of to_torch)
TORCH_CONVERTERS = ConverterTable("torch")
#: layer class -> ``fn(g, module, x, where) -> output value name`` (``g``: the graph being built)
ONNX_CONVERTERS = ConverterTable("ONNX")


def _children(module: Module):
    return list(module._modules.items())


def _refuse_unbuilt_table(m, where):
    if isinstance(m, TabularEncoder) and not m.built:
        raise TypeError(f"pyssl.export cannot convert the TabularEncoder at {where}: its schema is not fitted, so it "
                        "has no layers yet (and a DataFrame's string categories cannot enter a graph); fit it on the "
                        "training frame (pyssl.pretrain(method, frame) or encoder.fit_schema(frame)), then export: "
                        "the graph takes the packed matrix encoder.encode(frame)")


def _check_tree(module, table: ConverterTable, where: str = "the root") -> None:
    """Refuse an unsupported module anywhere in the tree before any conversion starts."""
    table.kind_of(module, where)
    _refuse_unbuilt_table(module, where)
    for name, child in _children(module):
        _check_tree(child, table, f"{where}.{name}")


def _conv_geometry(m: Conv2d):
    """(kernel, stride, dilation, pads before, pads after) over the convolved axes (one for Conv1d)."""
    if isinstance(m, Conv1d):
        return ([m.kernel_size[1]], [m.stride[1]], [m.dilation[1]], [m.padding[1]], [m.padding_end[1]])
    return (list(m.kernel_size), list(m.stride), list(m.dilation), list(m.padding), list(m.padding_end))


def _block_parts(m: _Block):
    convs = [getattr(m, f"conv{i}") for i in range(1, m._depth + 1)]
    norms = [getattr(m, f"bn{i}") for i in range(1, m._depth + 1)]
    return convs, norms


# -- PyTorch ----------------------------------------------------------------------------------------

def _import_torch():
    try:
        import torch
    except ImportError as exc:
        raise ImportError("pyssl.export.to_torch needs PyTorch: pip install torch") from exc
    return torch


_TORCH_LAYERS: dict[int, SimpleNamespace] = {}


def _torch_layers(torch):
    """The torch modules with no built-in equivalent (made once torch is imported)."""
    if id(torch) in _TORCH_LAYERS:
        return _TORCH_LAYERS[id(torch)]
    nn = torch.nn
    F = nn.functional

    class L2Normalize(nn.Module):
        """x / max(‖x‖₂, 1e−12) over the last dimension (pyssl.nn.L2Normalize)."""

        def forward(self, x):
            return F.normalize(x, p=2.0, dim=-1, eps=_L2_EPS)

    class GlobalAvgPool(nn.Module):
        """Mean over every axis after the channel axis: (N, C, ...) → (N, C)."""

        def forward(self, x):
            return x.flatten(2).mean(-1)

    class Residual(nn.Module):
        """x + inner(x)."""

        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, x):
            return x + self.inner(x)

    class ShortcutSum(nn.Module):
        """body(x) + (shortcut(x) or x)."""

        def __init__(self, body, shortcut):
            super().__init__()
            self.body, self.shortcut = body, shortcut

        def forward(self, x):
            return self.body(x) + (x if self.shortcut is None else self.shortcut(x))

    class Standardize(nn.Module):
        """(x − mean) / std with fixed buffers broadcast against one sample."""

        def __init__(self, mean, std):
            super().__init__()
            self.register_buffer("mean", mean)
            self.register_buffer("std", std)

        def forward(self, x):
            return (x - self.mean) / self.std

    class ResidualBlock(nn.Module):
        """conv_i → bn_i (→ ReLU) for each i; the last bn's output plus the shortcut before its ReLU."""

        def __init__(self, convs, norms, relus, shortcut):
            super().__init__()
            self.convs, self.norms, self.relus, self.shortcut = nn.ModuleList(convs), nn.ModuleList(norms), relus, shortcut

        def forward(self, x):
            h = x
            last = len(self.convs) - 1
            for i, (conv, bn) in enumerate(zip(self.convs, self.norms)):
                h = bn(conv(h))
                if i == last:
                    h = h + (x if self.shortcut is None else self.shortcut(x))
                if self.relus[i]:
                    h = torch.relu(h)
            return h

    class TimestampMask(nn.Module):
        """Training: every (sample, step) of (N, C, T) kept with probability 1 − p across channels
        (no rescaling); evaluation: the identity (pyssl.nn.TimestampMask)."""

        def __init__(self, p):
            super().__init__()
            self.p = p

        def forward(self, x):
            if not self.training or self.p == 0.0:
                return x
            keep = torch.rand(x.shape[0], 1, x.shape[2], device=x.device) >= self.p
            return x * keep.to(x.dtype)

    class MaskedMaxPool(nn.Module):
        """Max over time, (N, C, T) → (N, C)."""

        def forward(self, x):
            return x.amax(dim=2)

    class MultiHeadAttention(nn.Module):
        """y = [softmax(Q_h K_hᵀ/√d_h) V_h]_h W_o + b_o with [Q K V] = x W_qkv + b_qkv."""

        def __init__(self, qkv, proj, heads):
            super().__init__()
            self.qkv, self.proj, self.heads = qkv, proj, heads

        def forward(self, x):
            n, length, d = x.shape
            dh = d // self.heads
            qkv = self.qkv(x).reshape(n, length, 3, self.heads, dh).permute(2, 0, 3, 1, 4)
            q, k, v = qkv[0], qkv[1], qkv[2]
            p = torch.softmax((q @ k.transpose(-1, -2)) * (1.0 / math.sqrt(dh)), dim=-1)
            return self.proj((p @ v).transpose(1, 2).reshape(n, length, d))

    class TransformerBlock(nn.Module):
        """x' = x + Drop(MHA(LN₁(x))), y = x' + Drop(fc₂(Drop(GELU(fc₁(LN₂(x'))))))."""

        def __init__(self, norm1, attn, drop1, norm2, fc1, drop_mlp, fc2, drop2):
            super().__init__()
            self.norm1, self.attn, self.drop1, self.norm2 = norm1, attn, drop1, norm2
            self.fc1, self.drop_mlp, self.fc2, self.drop2 = fc1, drop_mlp, fc2, drop2

        def forward(self, x):
            x = x + self.drop1(self.attn(self.norm1(x)))
            return x + self.drop2(self.fc2(self.drop_mlp(F.gelu(self.fc1(self.norm2(x))))))

    class TransformerEncoder(nn.Module):
        """tokens (+ positions) ([CLS] first) → blocks → LayerNorm → cls / mean / none pooling."""

        def __init__(self, tokenizer, pos, sinusoidal, cls, blocks, norm, pool, dim):
            super().__init__()
            self.tokenizer, self.blocks, self.norm = tokenizer, nn.ModuleList(blocks), norm
            self.pos, self.cls = pos, cls
            self.sinusoidal, self.pool, self.dim = sinusoidal, pool, dim

        def forward(self, x):
            t = self.tokenizer(x) if self.tokenizer is not None else x
            if self.pos is not None:
                t = t + self.pos
            elif self.sinusoidal:
                pe = sinusoidal_positions(t.shape[1], self.dim, np.float64)
                t = t + torch.from_numpy(pe).to(t.dtype)
            if self.cls is not None:
                t = torch.cat([self.cls.expand(t.shape[0], 1, self.dim), t], dim=1)
            for b in self.blocks:
                t = b(t)
            t = self.norm(t)
            if self.pool == "cls":
                return t[:, 0]
            return t.mean(dim=1) if self.pool == "mean" else t

    class PatchEmbed2d(nn.Module):
        """(N, C, H, W) → p×p patches in (channel, row, column) order → Linear: (N, L, D)."""

        def __init__(self, embed, c, grid, p):
            super().__init__()
            self.embed, self.c, self.grid, self.p = embed, c, grid, p

        def forward(self, x):
            (gh, gw), p = self.grid, self.p
            x = x.reshape(x.shape[0], self.c, gh, p, gw, p).permute(0, 2, 4, 1, 3, 5)
            return self.embed(x.reshape(x.shape[0], gh * gw, self.c * p * p))

    class PatchEmbed1d(nn.Module):
        """(N, C, T) → windows of p steps (channel-major) → Linear: (N, T/p, D)."""

        def __init__(self, embed, c, tokens, p):
            super().__init__()
            self.embed, self.c, self.tokens, self.p = embed, c, tokens, p

        def forward(self, x):
            x = x.reshape(x.shape[0], self.c, self.tokens, self.p).permute(0, 2, 1, 3)
            return self.embed(x.reshape(x.shape[0], self.tokens, self.c * self.p))

    class FeatureTokenizer(nn.Module):
        """T[n, j] = x[n, j] · W[j] + b[j]: (N, F) → (N, F, D)."""

        def __init__(self, weight, bias):
            super().__init__()
            self.weight, self.bias = weight, bias

        def forward(self, x):
            t = x[:, :, None] * self.weight
            return t if self.bias is None else t + self.bias

    class MixedInput(nn.Module):
        """[(1 − m) ⊙ v + m ⊙ μ | m | e(c + offsets)] of a packed table row."""

        def __init__(self, missing_value, offsets, embedding, a, b):
            super().__init__()
            self.missing_value, self.embedding, self.a, self.b = missing_value, embedding, a, b
            self.register_buffer("offsets", offsets)

        def forward(self, x):
            a = self.a
            v, m = x[:, :a], x[:, a:2 * a]
            parts = [v * (1 - m) + m * self.missing_value, m]
            if self.embedding is not None:
                idx = x[:, 2 * a:].to(torch.int64) + self.offsets
                parts.append(self.embedding(idx).reshape(x.shape[0], -1))
            return torch.cat(parts, dim=1)

    class DilatedConvEncoder(nn.Module):
        """TS2Vec's encoder: NaN steps zero-filled and masked after the input projection, then
        the mask (training), the dilated blocks and dropout: (N, C, T) → (N, D, T)."""

        def __init__(self, input_fc, mask, blocks, dropout):
            super().__init__()
            self.input_fc, self.mask, self.blocks, self.dropout = input_fc, mask, blocks, dropout

        def forward(self, x):
            nan = torch.isnan(x)
            missing = nan.any(dim=1, keepdim=True)
            h = self.input_fc(torch.where(nan, torch.zeros_like(x), x))
            h = h * (~missing).to(h.dtype)
            return self.dropout(self.blocks(self.mask(h)))

    class CausalCNNEncoder(nn.Module):
        """T-Loss's encoder: NaN steps zero-filled and left out of the max over time, then Linear."""

        def __init__(self, network, linear):
            super().__init__()
            self.network, self.linear = network, linear

        def forward(self, x):
            nan = torch.isnan(x)
            invalid = nan.any(dim=1, keepdim=True)
            h = self.network(torch.where(nan, torch.zeros_like(x), x))
            h = torch.where(invalid, torch.full_like(h, -math.inf), h)
            return self.linear(h.amax(dim=2))

    ns = SimpleNamespace(**{k: v for k, v in locals().items() if isinstance(v, type)})
    _TORCH_LAYERS[id(torch)] = ns
    return ns


class _TorchBuild:
    """What the torch converters share: torch, its layers, the dtype and the recursive convert."""

    def __init__(self, torch, dtype):
        self.torch, self.nn, self.L = torch, torch.nn, _torch_layers(torch)
        self.dtype = dtype

    def tensor(self, a):
        return self.torch.from_numpy(np.ascontiguousarray(a)).to(self.dtype).clone()

    def param(self, a):
        return self.nn.Parameter(self.tensor(a))

    def convert(self, m, where):
        return TORCH_CONVERTERS.converter(m, where)(self, m, where)


@TORCH_CONVERTERS.register(Linear)
def _torch_linear(b, m, where):
    t = b.nn.Linear(m.in_features, m.out_features, bias=m.bias is not None)
    t.weight = b.param(m.weight.data.T)
    if m.bias is not None:
        t.bias = b.param(m.bias.data)
    return t


@TORCH_CONVERTERS.register(Conv1d, Conv2d, RecomputeConv2d)
def _torch_conv(b, m, where):
    nn = b.nn
    k, s, d, before, after = _conv_geometry(m)
    one = isinstance(m, Conv1d)
    same = before == after
    cls = nn.Conv1d if one else nn.Conv2d
    t = cls(m.in_channels, m.out_channels, k[0] if one else tuple(k), stride=s[0] if one else tuple(s),
            padding=(before[0] if one else tuple(before)) if same else 0, dilation=d[0] if one else tuple(d),
            bias=m.bias is not None)
    t.weight = b.param(m.weight.data[:, :, 0, :] if one else m.weight.data)
    if m.bias is not None:
        t.bias = b.param(m.bias.data)
    if same:
        return t
    pad = (nn.ConstantPad1d((before[0], after[0]), 0.0) if one
           else nn.ZeroPad2d((before[1], after[1], before[0], after[0])))
    return nn.Sequential(pad, t)


def _torch_batch_norm(b, m):
    """The bare torch batch norm of a pyssl one (no ReLU), with its running statistics."""
    cls = b.nn.BatchNorm2d if isinstance(m, BatchNorm2d) else b.nn.BatchNorm1d
    t = cls(m.num_features, eps=m.eps, momentum=m.momentum, affine=m.weight is not None)
    if m.weight is not None:
        t.weight, t.bias = b.param(m.weight.data), b.param(m.bias.data)
    t.running_mean = b.tensor(m.running_mean)
    t.running_var = b.tensor(m.running_var)
    return t


@TORCH_CONVERTERS.register(BatchNorm1d, BatchNorm2d, ChannelBatchNorm1d)
def _torch_bn(b, m, where):
    t = _torch_batch_norm(b, m)
    return b.nn.Sequential(t, b.nn.ReLU()) if getattr(m, "relu", False) else t


@TORCH_CONVERTERS.register(LayerNorm)
def _torch_layer_norm(b, m, where):
    t = b.nn.LayerNorm(m.num_features, eps=m.eps, elementwise_affine=m.weight is not None)
    if m.weight is not None:
        t.weight, t.bias = b.param(m.weight.data), b.param(m.bias.data)
    return t


def _torch_simple(make):
    return lambda b, m, where: make(b, m)


for _cls, _make in {ReLU: lambda b, m: b.nn.ReLU(), Tanh: lambda b, m: b.nn.Tanh(),
                    Sigmoid: lambda b, m: b.nn.Sigmoid(), GELU: lambda b, m: b.nn.GELU(approximate="none"),
                    LeakyReLU: lambda b, m: b.nn.LeakyReLU(m.slope), Dropout: lambda b, m: b.nn.Dropout(m.p),
                    TimestampMask: lambda b, m: b.L.TimestampMask(m.p),
                    LogSoftmax: lambda b, m: b.nn.LogSoftmax(dim=-1), Softmax: lambda b, m: b.nn.Softmax(dim=-1),
                    L2Normalize: lambda b, m: b.L.L2Normalize(), Flatten: lambda b, m: b.nn.Flatten(1),
                    GlobalAvgPool: lambda b, m: b.L.GlobalAvgPool(), Identity: lambda b, m: b.nn.Identity(),
                    MaskedMaxPool: lambda b, m: b.L.MaskedMaxPool(),
                    MaxPool1d: lambda b, m: b.nn.MaxPool1d(m.kernel_size[1], m.stride[1], m.padding[1]),
                    MaxPool2d: lambda b, m: b.nn.MaxPool2d(m.kernel_size, m.stride, m.padding)}.items():
    TORCH_CONVERTERS.register(_cls)(_torch_simple(_make))


@TORCH_CONVERTERS.register(Sequential, ResNet, ResNet1d)
def _torch_sequential(b, m, where):
    return b.nn.Sequential(*[b.convert(c, f"{where}.{name}") for name, c in _children(m)])


@TORCH_CONVERTERS.register(Residual)
def _torch_residual(b, m, where):
    return b.L.Residual(b.convert(m.inner, f"{where}.inner"))


@TORCH_CONVERTERS.register(ShortcutSum)
def _torch_shortcut_sum(b, m, where):
    short = None if m.shortcut is None else b.convert(m.shortcut, f"{where}.shortcut")
    return b.L.ShortcutSum(b.convert(m.body, f"{where}.body"), short)


@TORCH_CONVERTERS.register(_Block, BasicBlock, Bottleneck)
def _torch_block(b, m, where):
    convs, norms = _block_parts(m)
    short = None if m.shortcut is None else b.convert(m.shortcut, f"{where}.shortcut")
    return b.L.ResidualBlock([b.convert(c, f"{where}.conv{i + 1}") for i, c in enumerate(convs)],
                             [_torch_batch_norm(b, n) for n in norms], [bool(n.relu) for n in norms], short)


@TORCH_CONVERTERS.register(Standardize)
def _torch_standardize(b, m, where):
    return b.L.Standardize(b.tensor(m.mean), b.tensor(m.std))


@TORCH_CONVERTERS.register(PretrainedEncoder)
def _torch_pretrained(b, m, where):
    parts = [b.convert(m.input, f"{where}.input")] if getattr(m, "input", None) is not None else []
    parts += [b.nn.Flatten(1)] if m.flatten else []
    return b.nn.Sequential(*parts, b.convert(m.encoder, f"{where}.encoder"))


@TORCH_CONVERTERS.register(MultiHeadAttention)
def _torch_attention(b, m, where):
    return b.L.MultiHeadAttention(b.convert(m.qkv, f"{where}.qkv"), b.convert(m.proj, f"{where}.proj"), m.heads)


@TORCH_CONVERTERS.register(TransformerBlock)
def _torch_transformer_block(b, m, where):
    c = {name: b.convert(getattr(m, name), f"{where}.{name}")
         for name in ("norm1", "attn", "drop1", "norm2", "fc1", "drop_mlp", "fc2", "drop2")}
    return b.L.TransformerBlock(**c)


@TORCH_CONVERTERS.register(TransformerEncoder)
def _torch_transformer_encoder(b, m, where):
    tok = None if m.tokenizer is None else b.convert(m.tokenizer, f"{where}.tokenizer")
    pos = None if m.pos is None else b.param(m.pos.data)
    cls = None if m.cls_token is None else b.param(m.cls_token.data[None])
    blocks = [b.convert(blk, f"{where}.block{i}") for i, blk in enumerate(m.blocks)]
    return b.L.TransformerEncoder(tok, pos, m.pos_embed == "sinusoidal", cls, blocks, b.convert(m.norm, f"{where}.norm"),
                                  m.pool, m.dim)


@TORCH_CONVERTERS.register(PatchEmbed2d)
def _torch_patch2d(b, m, where):
    return b.L.PatchEmbed2d(b.convert(m.embed, f"{where}.embed"), m.in_channels, m.grid, m.patch_size)


@TORCH_CONVERTERS.register(PatchEmbed1d)
def _torch_patch1d(b, m, where):
    return b.L.PatchEmbed1d(b.convert(m.embed, f"{where}.embed"), m.in_channels, m.num_tokens, m.patch_size)


@TORCH_CONVERTERS.register(FeatureTokenizer)
def _torch_feature_tokenizer(b, m, where):
    return b.L.FeatureTokenizer(b.param(m.weight.data), None if m.bias is None else b.param(m.bias.data))


@TORCH_CONVERTERS.register(Embedding)
def _torch_embedding(b, m, where):
    t = b.nn.Embedding(m.num_embeddings, m.embedding_dim)
    t.weight = b.param(m.weight.data)
    return t


@TORCH_CONVERTERS.register(MixedInput)
def _torch_mixed_input(b, m, where):
    emb = None if m.embedding is None else _torch_embedding(b, m.embedding, f"{where}.embedding")
    offsets = b.torch.from_numpy(np.ascontiguousarray(m.offsets, dtype=np.int64)).clone()
    return b.L.MixedInput(b.param(m.missing_value.data), offsets, emb, m.n_numeric, len(m.cardinalities))


@TORCH_CONVERTERS.register(TabularEncoder)
def _torch_tabular(b, m, where):
    return b.nn.Sequential(b.convert(m.input, f"{where}.input"), b.convert(m.mlp, f"{where}.mlp"))


@TORCH_CONVERTERS.register(DilatedConvEncoder)
def _torch_dilated_encoder(b, m, where):
    return b.L.DilatedConvEncoder(*(b.convert(getattr(m, n), f"{where}.{n}")
                                    for n in ("input_fc", "mask", "blocks", "dropout")))


@TORCH_CONVERTERS.register(CausalCNNEncoder)
def _torch_causal_encoder(b, m, where):
    return b.L.CausalCNNEncoder(b.convert(m.network, f"{where}.network"), b.convert(m.linear, f"{where}.linear"))


def to_torch(module: Module):
    """An equivalent ``torch.nn.Module`` of ``module``, in evaluation mode and the module's dtype.

    Weights are copied (Linear's W transposed to torch's (out, in) layout); the result does not
    share memory with ``module``. Outputs agree with ``module(x)`` in evaluation mode to floating
    point rounding (the products run in different BLAS libraries). Switched to training mode, the
    torch module trains like the pyssl one (BatchNorm updates its running statistics with the same
    momentum convention; Dropout and TimestampMask draw torch's random masks).

    Parameters
    ----------
    module : a pyssl.nn Module built from the layers listed in :mod:`pyssl.export`.

    Raises
    ------
    TypeError for a module that cannot be exported, ImportError without torch.
    """
    _check_tree(module, TORCH_CONVERTERS)  # refuse before importing torch
    torch = _import_torch()
    dtype = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}[np.dtype(module.dtype)]
    out = _TorchBuild(torch, dtype).convert(module, "the root").to(dtype)
    return out.eval()


# -- ONNX -------------------------------------------------------------------------------------------

def _import_onnx():
    try:
        import onnx
    except ImportError as exc:
        raise ImportError('pyssl.export.to_onnx needs the onnx package: pip install "pyssl[export]"') from exc
    return onnx


#: layer class -> ``fn(module) -> input shape`` of a graph starting with it ("descend" follows
#: the first child); a layer without an entry does not fix the input layout.
_INPUT_SHAPES: dict[type, Callable] = {
    PretrainedEncoder: lambda m: ["N", *m.input_shape],
    Linear: lambda m: ["N", m.in_features],
    Conv1d: lambda m: ["N", m.in_channels, "T"],
    Conv2d: lambda m: ["N", m.in_channels, "H", "W"],
    RecomputeConv2d: lambda m: ["N", m.in_channels, "H", "W"],
    LayerNorm: lambda m: ["N", m.num_features],
    BatchNorm1d: lambda m: ["N", m.num_features],
    BatchNorm2d: lambda m: ["N", m.num_features, "H", "W"],
    ChannelBatchNorm1d: lambda m: ["N", m.num_features, "T"],
    MultiHeadAttention: lambda m: ["N", "L", m.dim],
    TransformerBlock: lambda m: ["N", "L", m.dim],
    TransformerEncoder: lambda m: ("descend" if m.tokenizer is not None else ["N", m.num_tokens or "L", m.dim]),
    PatchEmbed2d: lambda m: ["N", m.in_channels, *m.img_size],
    PatchEmbed1d: lambda m: ["N", m.in_channels, m.seq_len],
    FeatureTokenizer: lambda m: ["N", m.num_features],
    Embedding: lambda m: ["N", "K"],  # integer codes (N, K); input_shape for another rank
    MixedInput: lambda m: ["N", m.in_features],
    TabularEncoder: lambda m: ["N", m.in_features],
    DilatedConvEncoder: lambda m: ["N", m.in_channels, "T"],
    CausalCNNEncoder: lambda m: ["N", m.in_channels, "T"],
}
#: layers whose graph input holds integer codes (int64) instead of the module's float dtype
_INT_INPUT = (Embedding,)


def _input_spec(module: Module):
    """(input shape with symbolic sizes, whether the input is int64), from the first layer that
    fixes the feature layout."""
    m = module
    while True:
        kind = ONNX_CONVERTERS.kind_of(m, "the root")
        fn = _INPUT_SHAPES.get(kind)
        shape = fn(m) if fn is not None else "descend"
        if shape != "descend":
            return shape, kind in _INT_INPUT
        if len(m._modules):
            m = next(iter(m._modules.values()))
        else:
            raise ValueError(f"to_onnx cannot tell the input shape of {type(module).__name__} from its first layer; "
                             "pass input_shape, e.g. input_shape=('N', 64)")


class _Graph:
    """Nodes and initializers of the ONNX graph being built, with fresh value names."""

    def __init__(self, onnx, dtype):
        self.onnx, self.helper, self.dtype = onnx, onnx.helper, np.dtype(dtype)
        self.elem = {np.dtype(np.float32): onnx.TensorProto.FLOAT,
                     np.dtype(np.float64): onnx.TensorProto.DOUBLE}[self.dtype]
        self.nodes, self.initializers, self._count = [], [], 0

    def name(self, hint: str) -> str:
        self._count += 1
        return f"{hint}_{self._count}"

    def const(self, value, hint: str, dtype=None) -> str:
        name = self.name(hint)
        arr = np.array(value, dtype=dtype or self.dtype, order="C")  # a 0-d value stays a scalar
        self.initializers.append(self.onnx.numpy_helper.from_array(arr, name))
        return name

    def ints(self, values, hint: str = "shape") -> str:
        return self.const(list(values), hint, dtype=np.int64)

    def op(self, op_type: str, inputs, hint: str | None = None, **attrs) -> str:
        out = self.name(hint or op_type.lower())
        self.nodes.append(self.helper.make_node(op_type, list(inputs), [out], **attrs))
        return out

    def layer(self, m, x: str, where: str) -> str:
        return ONNX_CONVERTERS.converter(m, where)(self, m, x, where)

    def linear(self, x: str, weight, bias) -> str:
        y = self.op("MatMul", [x, self.const(weight, "weight")])
        return y if bias is None else self.op("Add", [y, self.const(bias, "bias")])

    def per_channel(self, v, ndim: int, hint: str) -> str:
        """A (C,) vector as a constant broadcasting over axis 1 of an ndim-D tensor."""
        v = np.asarray(v)
        return self.const(v.reshape((-1,) + (1,) * (ndim - 2)) if ndim > 2 else v, hint)

    def slice(self, x: str, start: int, end: int, axis: int) -> str:
        return self.op("Slice", [x, self.ints([start], "start"), self.ints([end], "end"), self.ints([axis], "axis")])

    def nan_steps(self, x: str):
        """(x with NaN replaced by 0, a (N, 1, T) float 0/1 tensor marking steps with a NaN channel)."""
        nan = self.op("IsNaN", [x])
        x0 = self.op("Where", [nan, self.const(0.0, "zero"), x])
        missing = self.op("ReduceMax", [self.op("Cast", [nan], to=self.elem)], "missing", axes=[1], keepdims=1)
        return x0, missing


@ONNX_CONVERTERS.register(Linear)
def _onnx_linear(g, m, x, where):
    return g.linear(x, m.weight.data, None if m.bias is None else m.bias.data)


@ONNX_CONVERTERS.register(Conv1d, Conv2d, RecomputeConv2d)
def _onnx_conv(g, m, x, where):
    k, s, d, before, after = _conv_geometry(m)
    w = m.weight.data[:, :, 0, :] if isinstance(m, Conv1d) else m.weight.data
    inputs = [x, g.const(w, "weight")] + ([g.const(m.bias.data, "bias")] if m.bias is not None else [])
    return g.op("Conv", inputs, "conv", kernel_shape=k, strides=s, dilations=d, pads=before + after)


for _cls, _op in ((ReLU, "Relu"), (Tanh, "Tanh"), (Sigmoid, "Sigmoid")):
    ONNX_CONVERTERS.register(_cls)(lambda g, m, x, where, _op=_op: g.op(_op, [x]))


@ONNX_CONVERTERS.register(LeakyReLU)
def _onnx_leaky_relu(g, m, x, where):
    return g.op("LeakyRelu", [x], alpha=float(m.slope))


@ONNX_CONVERTERS.register(GELU)
def _onnx_gelu(g, m, x, where):
    erf = g.op("Erf", [g.op("Mul", [x, g.const(1.0 / np.sqrt(2.0), "inv_sqrt2")])])
    half = g.op("Mul", [x, g.const(0.5, "half")])
    return g.op("Mul", [half, g.op("Add", [erf, g.const(1.0, "one")])], "gelu")


@ONNX_CONVERTERS.register(LayerNorm)
def _onnx_layer_norm(g, m, x, where):
    d = m.num_features
    w = m.weight.data if m.weight is not None else np.ones(d)
    b = m.bias.data if m.bias is not None else np.zeros(d)
    return g.op("LayerNormalization", [x, g.const(w, "ln_weight"), g.const(b, "ln_bias")], "layer_norm",
                axis=-1, epsilon=float(m.eps))


def _onnx_batch_norm(g, m, x, ndim: int, residual=None):
    """(x − μ̂)·rstd (·γ + β) per channel (axis 1), [+ residual], [ReLU]."""
    rstd = 1.0 / np.sqrt(m.running_var.astype(np.float64) + m.eps)
    y = g.op("Mul", [g.op("Sub", [x, g.per_channel(m.running_mean, ndim, "bn_mean")]),
                     g.per_channel(rstd, ndim, "bn_rstd")])
    if m.weight is not None:
        y = g.op("Add", [g.op("Mul", [y, g.per_channel(m.weight.data, ndim, "bn_weight")]),
                         g.per_channel(m.bias.data, ndim, "bn_bias")])
    if residual is not None:
        y = g.op("Add", [y, residual], "residual")
    return g.op("Relu", [y]) if getattr(m, "relu", False) else y


@ONNX_CONVERTERS.register(BatchNorm1d)
def _onnx_bn1d(g, m, x, where):
    return _onnx_batch_norm(g, m, x, 2)


@ONNX_CONVERTERS.register(BatchNorm2d, ChannelBatchNorm1d)
def _onnx_channel_bn(g, m, x, where):
    return _onnx_batch_norm(g, m, x, m._ndim)


@ONNX_CONVERTERS.register(Identity, Dropout, TimestampMask)
def _onnx_identity(g, m, x, where):
    return g.op("Identity", [x])


@ONNX_CONVERTERS.register(LogSoftmax, Softmax)
def _onnx_softmax(g, m, x, where):
    return g.op("LogSoftmax" if isinstance(m, LogSoftmax) else "Softmax", [x], axis=-1)


@ONNX_CONVERTERS.register(L2Normalize)
def _onnx_l2(g, m, x, where):
    norm = g.op("ReduceL2", [x], "norm", axes=[-1], keepdims=1)
    return g.op("Div", [x, g.op("Max", [norm, g.const(_L2_EPS, "eps")])], "l2_normalize")


@ONNX_CONVERTERS.register(Flatten)
def _onnx_flatten(g, m, x, where):
    return g.op("Flatten", [x], axis=1)


@ONNX_CONVERTERS.register(GlobalAvgPool)
def _onnx_gap(g, m, x, where):
    flat = g.op("Reshape", [x, g.ints([0, 0, -1])])
    return g.op("ReduceMean", [flat], "pool", axes=[2], keepdims=0)


@ONNX_CONVERTERS.register(MaxPool2d, MaxPool1d)
def _onnx_max_pool(g, m, x, where):
    if isinstance(m, MaxPool1d):
        k, s, p = [m.kernel_size[1]], [m.stride[1]], [m.padding[1]]
    else:
        k, s, p = list(m.kernel_size), list(m.stride), list(m.padding)
    return g.op("MaxPool", [x], "max_pool", kernel_shape=k, strides=s, pads=p + p)


@ONNX_CONVERTERS.register(MaskedMaxPool)
def _onnx_masked_max_pool(g, m, x, where):
    return g.op("ReduceMax", [x], "max_pool", axes=[2], keepdims=0)


@ONNX_CONVERTERS.register(Sequential, ResNet, ResNet1d)
def _onnx_sequential(g, m, x, where):
    for name, c in _children(m):
        x = g.layer(c, x, f"{where}.{name}")
    return x


@ONNX_CONVERTERS.register(Residual)
def _onnx_residual(g, m, x, where):
    return g.op("Add", [x, g.layer(m.inner, x, f"{where}.inner")], "residual")


@ONNX_CONVERTERS.register(ShortcutSum)
def _onnx_shortcut_sum(g, m, x, where):
    y = g.layer(m.body, x, f"{where}.body")
    r = x if m.shortcut is None else g.layer(m.shortcut, x, f"{where}.shortcut")
    return g.op("Add", [y, r], "residual")


@ONNX_CONVERTERS.register(_Block, BasicBlock, Bottleneck)
def _onnx_block(g, m, x, where):
    convs, norms = _block_parts(m)
    h = x
    for i, (conv, bn) in enumerate(zip(convs, norms)):
        h = g.layer(conv, h, f"{where}.conv{i + 1}")
        if i < len(convs) - 1:
            h = _onnx_batch_norm(g, bn, h, bn._ndim)
        else:
            s = x if m.shortcut is None else g.layer(m.shortcut, x, f"{where}.shortcut")
            h = _onnx_batch_norm(g, bn, h, bn._ndim, residual=s)
    return h


@ONNX_CONVERTERS.register(Standardize)
def _onnx_standardize(g, m, x, where):
    return g.op("Div", [g.op("Sub", [x, g.const(m.mean, "mean")]), g.const(m.std, "std")], "standardize")


@ONNX_CONVERTERS.register(PretrainedEncoder)
def _onnx_pretrained(g, m, x, where):
    if getattr(m, "input", None) is not None:
        x = g.layer(m.input, x, f"{where}.input")
    if m.flatten:
        x = g.op("Flatten", [x], axis=1)
    return g.layer(m.encoder, x, f"{where}.encoder")


@ONNX_CONVERTERS.register(MultiHeadAttention)
def _onnx_attention(g, m, x, where):
    d, h = m.dim, m.heads
    dh = d // h
    qkv = g.layer(m.qkv, x, f"{where}.qkv")                                     # (N, L, 3D)
    qkv = g.op("Reshape", [qkv, g.ints([0, 0, 3, h, dh])])                      # (N, L, 3, H, dh)
    qkv = g.op("Transpose", [qkv], perm=[2, 0, 3, 1, 4])                        # (3, N, H, L, dh)
    q, k, v = (g.op("Gather", [qkv, g.const(i, "index", dtype=np.int64)], axis=0) for i in range(3))
    scores = g.op("MatMul", [q, g.op("Transpose", [k], perm=[0, 1, 3, 2])])     # (N, H, L, L)
    p = g.op("Softmax", [g.op("Mul", [scores, g.const(1.0 / np.sqrt(dh), "scale")])], "attention", axis=-1)
    o = g.op("Transpose", [g.op("MatMul", [p, v])], perm=[0, 2, 1, 3])          # (N, L, H, dh)
    return g.layer(m.proj, g.op("Reshape", [o, g.ints([0, 0, d])]), f"{where}.proj")


@ONNX_CONVERTERS.register(TransformerBlock)
def _onnx_transformer_block(g, m, x, where):
    a = g.layer(m.attn, g.layer(m.norm1, x, f"{where}.norm1"), f"{where}.attn")
    x1 = g.op("Add", [x, a], "residual")
    u = g.layer(m.act, g.layer(m.fc1, g.layer(m.norm2, x1, f"{where}.norm2"), f"{where}.fc1"), f"{where}.act")
    return g.op("Add", [x1, g.layer(m.fc2, u, f"{where}.fc2")], "residual")


def _onnx_sinusoidal(g, t: str, dim: int) -> str:
    """Vaswani et al.'s positions (L, D) for the token count L of t (N, L, D), computed in float64
    in the graph (as :func:`pyssl.nn.transformer.sinusoidal_positions`), then cast."""
    double = g.onnx.TensorProto.DOUBLE
    length = g.op("Cast", [g.op("Shape", [t], start=1, end=2)], to=double)              # (1,)
    length = g.op("Squeeze", [length, g.ints([0], "axes")])
    pos = g.op("Range", [g.const(0.0, "start", np.float64), length, g.const(1.0, "delta", np.float64)])
    half = (dim + 1) // 2
    inv = 1.0 / np.power(10000.0, 2.0 * np.arange(half, dtype=np.float64) / dim)
    ang = g.op("Mul", [g.op("Unsqueeze", [pos, g.ints([1], "axes")]), g.const(inv[None], "inv_freq", np.float64)])
    sc = g.op("Concat", [g.op("Unsqueeze", [g.op(f, [ang]), g.ints([2], "axes")]) for f in ("Sin", "Cos")], axis=2)
    pe = g.op("Reshape", [sc, g.ints([-1, 2 * half])])                                   # sin, cos interleaved
    if 2 * half != dim:
        pe = g.slice(pe, 0, dim, 1)
    return g.op("Cast", [pe], "positions", to=g.elem)


@ONNX_CONVERTERS.register(TransformerEncoder)
def _onnx_transformer_encoder(g, m, x, where):
    t = x if m.tokenizer is None else g.layer(m.tokenizer, x, f"{where}.tokenizer")
    if m.pos is not None:
        t = g.op("Add", [t, g.const(m.pos.data, "pos_embed")], "positions")
    elif m.pos_embed == "sinusoidal":
        known = m.num_tokens
        pe = (g.const(sinusoidal_positions(known, m.dim, np.float64), "pos_embed") if known is not None
              else _onnx_sinusoidal(g, t, m.dim))
        t = g.op("Add", [t, pe], "positions")
    if m.cls_token is not None:
        n = g.op("Shape", [t], start=0, end=1)
        shape = g.op("Concat", [n, g.ints([1, m.dim])], axis=0)
        cls = g.op("Expand", [g.const(m.cls_token.data[None], "cls_token"), shape])
        t = g.op("Concat", [cls, t], "tokens", axis=1)
    for i, blk in enumerate(m.blocks):
        t = g.layer(blk, t, f"{where}.block{i}")
    t = g.layer(m.norm, t, f"{where}.norm")
    if m.pool == "cls":
        return g.op("Gather", [t, g.const(0, "index", dtype=np.int64)], "cls", axis=1)
    if m.pool == "mean":
        return g.op("ReduceMean", [t], "mean_pool", axes=[1], keepdims=0)
    return t


@ONNX_CONVERTERS.register(PatchEmbed2d)
def _onnx_patch2d(g, m, x, where):
    c, p, (gh, gw) = m.in_channels, m.patch_size, m.grid
    x = g.op("Transpose", [g.op("Reshape", [x, g.ints([-1, c, gh, p, gw, p])])], perm=[0, 2, 4, 1, 3, 5])
    return g.layer(m.embed, g.op("Reshape", [x, g.ints([-1, gh * gw, c * p * p])], "patches"), f"{where}.embed")


@ONNX_CONVERTERS.register(PatchEmbed1d)
def _onnx_patch1d(g, m, x, where):
    c, p, l = m.in_channels, m.patch_size, m.num_tokens
    x = g.op("Transpose", [g.op("Reshape", [x, g.ints([-1, c, l, p])])], perm=[0, 2, 1, 3])
    return g.layer(m.embed, g.op("Reshape", [x, g.ints([-1, l, c * p])], "patches"), f"{where}.embed")


@ONNX_CONVERTERS.register(FeatureTokenizer)
def _onnx_feature_tokenizer(g, m, x, where):
    t = g.op("Mul", [g.op("Unsqueeze", [x, g.ints([2], "axes")]), g.const(m.weight.data, "weight")])
    return t if m.bias is None else g.op("Add", [t, g.const(m.bias.data, "bias")], "tokens")


@ONNX_CONVERTERS.register(Embedding)
def _onnx_embedding(g, m, x, where):
    return g.op("Gather", [g.const(m.weight.data, "embedding"), x], "embedding", axis=0)


@ONNX_CONVERTERS.register(MixedInput)
def _onnx_mixed_input(g, m, x, where):
    a, b = m.n_numeric, len(m.cardinalities)
    parts = []
    if a:
        v, miss = g.slice(x, 0, a, 1), g.slice(x, a, 2 * a, 1)
        kept = g.op("Mul", [v, g.op("Sub", [g.const(1.0, "one"), miss])])
        parts += [g.op("Add", [kept, g.op("Mul", [miss, g.const(m.missing_value.data, "missing_value")])]), miss]
    if m.embedding is not None:
        codes = g.op("Cast", [g.slice(x, 2 * a, 2 * a + b, 1)], to=g.onnx.TensorProto.INT64)
        idx = g.op("Add", [codes, g.const(m.offsets, "offsets", dtype=np.int64)])
        e = _onnx_embedding(g, m.embedding, idx, f"{where}.embedding")                   # (N, b, E)
        parts.append(g.op("Reshape", [e, g.ints([0, b * m.embedding_dim])]))
    return parts[0] if len(parts) == 1 else g.op("Concat", parts, "mixed_input", axis=1)


@ONNX_CONVERTERS.register(TabularEncoder)
def _onnx_tabular(g, m, x, where):
    return g.layer(m.mlp, g.layer(m.input, x, f"{where}.input"), f"{where}.mlp")


@ONNX_CONVERTERS.register(DilatedConvEncoder)
def _onnx_dilated_encoder(g, m, x, where):
    x0, missing = g.nan_steps(x)
    h = g.layer(m.input_fc, x0, f"{where}.input_fc")
    h = g.op("Mul", [h, g.op("Sub", [g.const(1.0, "one"), missing])], "observed")
    return g.layer(m.blocks, h, f"{where}.blocks")  # the mask and dropout are identities in evaluation mode


@ONNX_CONVERTERS.register(CausalCNNEncoder)
def _onnx_causal_encoder(g, m, x, where):
    x0, missing = g.nan_steps(x)
    h = g.layer(m.network, x0, f"{where}.network")
    invalid = g.op("Cast", [missing], to=g.onnx.TensorProto.BOOL)
    h = g.op("Where", [invalid, g.const(-np.inf, "neg_inf"), h])
    return g.layer(m.linear, g.op("ReduceMax", [h], "max_pool", axes=[2], keepdims=0), f"{where}.linear")


OPSET = 17  # LayerNormalization needs 17; ReduceL2 / ReduceMean / ReduceMax take axes as attributes up to 17

#: every exported layer type (the keys of both converter tables)
SUPPORTED = ONNX_CONVERTERS.classes()


def to_onnx(module: Module, path, input_shape=None, dtype=None):
    """Write ``module`` (evaluation mode) as an ONNX graph to ``path``; returns the ``onnx.ModelProto``.

    The graph has one input ``"x"`` and one output ``"y"`` in the module's dtype (an Embedding
    first takes int64 codes). The batch size (and a sequence's length or an image's height and
    width) stay symbolic, so the file serves any batch. Built node by node with the ``onnx``
    package (no torch needed) and checked with ``onnx.checker`` before it is written.

    Parameters
    ----------
    module : a pyssl.nn Module built from the layers listed in :mod:`pyssl.export`.
    path : file to write (``.onnx``).
    input_shape : sequence of ints and names for symbolic sizes, e.g. ``("N", 64)``; default from
        the first layer (Linear → (N, in_features), Conv1d → (N, C, T), Conv2d → (N, C, H, W),
        a tokenizer → its fixed sample shape, a Transformer on tokens → (N, L, D), an Embedding →
        int64 codes (N, K), a table encoder → (N, packed columns)).
    dtype : np.float32 or np.float64 for the graph's weights and values; default the module's.
        onnxruntime's CPU kernels for Conv and Erf (GELU) exist in float32 only, so a float64
        encoder with those layers is served as ``dtype=np.float32``.
    """
    _check_tree(module, ONNX_CONVERTERS)
    if input_shape is not None:
        shape, int_input = list(input_shape), _input_int(module)
    else:
        shape, int_input = _input_spec(module)
    dtype = np.dtype(module.dtype if dtype is None else dtype)
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"to_onnx: dtype must be np.float32 or np.float64, got {dtype}")
    onnx = _import_onnx()
    g = _Graph(onnx, dtype)
    y = g.layer(module, "x", "the root")
    g.nodes.append(onnx.helper.make_node("Identity", [y], ["y"]))
    x_elem = onnx.TensorProto.INT64 if int_input else g.elem
    graph = onnx.helper.make_graph(g.nodes, type(module).__name__,
                                   [onnx.helper.make_tensor_value_info("x", x_elem, shape)],
                                   [onnx.helper.make_tensor_value_info("y", g.elem, None)], g.initializers)
    model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", OPSET)],
                                   producer_name="pyssl")
    model.ir_version = min(model.ir_version, 8)  # readable by onnxruntime releases of the last years
    model = onnx.shape_inference.infer_shapes(model)  # fills in the output's shape (symbolic batch)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return model


def _input_int(module: Module) -> bool:
    """Whether the first layer of ``module`` takes integer codes (an Embedding)."""
    m = module
    while True:
        kind = ONNX_CONVERTERS.kind_of(m, "the root")
        if kind in _INT_INPUT:
            return True
        if kind in (Sequential, PretrainedEncoder) and len(m._modules):
            m = next(iter(m._modules.values()))
        else:
            return False


assert set(TORCH_CONVERTERS.classes()) == set(ONNX_CONVERTERS.classes()), "the two converter tables must agree"

__all__ = ["to_torch", "to_onnx", "SUPPORTED", "ConverterTable", "TORCH_CONVERTERS", "ONNX_CONVERTERS"]
