"""Export a pyssl module to PyTorch (:func:`to_torch`) or ONNX (:func:`to_onnx`), so that a
pretrained encoder h_θ* can be served by any runtime.

Both walk the module tree and map each layer of ``pyssl.nn`` to its exact counterpart:

================================  ==========================================  ============================================
pyssl                             torch                                       ONNX (opset 17)
================================  ==========================================  ============================================
Linear (W stored (I, O))          nn.Linear, weight = Wᵀ (O, I)               MatMul(x, W) + Add(b)
Conv2d (weight (O, C, KH, KW))    nn.Conv2d, same layout                      Conv, pads (ph, pw, ph, pw)
Conv1d (weight (O, C, 1, K))      nn.Conv1d, weight[:, :, 0, :]               Conv on (N, C, T), weight (O, C, K)
ReLU / Tanh / Sigmoid             nn.ReLU / nn.Tanh / nn.Sigmoid              Relu / Tanh / Sigmoid
GELU (exact, erf form)            nn.GELU(approximate="none")                 x · ½ · (1 + erf(x / √2))
LayerNorm (biased variance, ε)    nn.LayerNorm(D, eps, elementwise_affine)    LayerNormalization(axis=−1, epsilon)
BatchNorm1d                       nn.BatchNorm1d with the running statistics  (x − μ̂) · 1/√(σ̂² + ε) · γ + β (eval mode)
Dropout                           nn.Dropout(p)                               identity (inference)
Softmax / LogSoftmax (last dim)   nn.Softmax(−1) / nn.LogSoftmax(−1)          Softmax / LogSoftmax(axis=−1)
L2Normalize                       x / max(‖x‖, 1e−12) (F.normalize)           x / Max(ReduceL2(x), 1e−12)
Flatten / GlobalAvgPool           nn.Flatten(1) / mean over axes ≥ 2          Flatten(axis=1) / Reshape(N, C, −1) + ReduceMean
Sequential, MLP, ConvEncoder*     nn.Sequential                               the children in order
Residual / Identity               x + inner(x) / nn.Identity                  Add / Identity
Standardize                       (x − mean) / std                            Div(Sub(x, mean), std)
PretrainedEncoder (load_encoder)  its input Standardize, flatten, encoder     the same, in order
================================  ==========================================  ============================================

The exported network is in evaluation mode (BatchNorm uses its running statistics, Dropout is the
identity) and in the module's dtype. Any other module — a user subclass that overrides
``forward`` included — raises TypeError naming it and its place in the tree.

torch and onnx are optional: ``pip install torch`` for :func:`to_torch`, ``pip install
"pyssl[export]"`` (the ``onnx`` package) for :func:`to_onnx`; onnxruntime runs the file.
"""
from __future__ import annotations

from typing import cast

import numpy as np

from .nn.activation import GELU, ReLU, Sigmoid, Tanh
from .nn.conv import Conv1d, Conv2d, Flatten, GlobalAvgPool
from .nn.dropout import Dropout
from .nn.linear import Linear
from .nn.module import Identity, Module, Residual, Sequential
from .nn.norm import BatchNorm1d, LayerNorm
from .nn.normalize import L2Normalize
from .nn.softmax import LogSoftmax, Softmax
from .pretrained import PretrainedEncoder, Standardize

#: exported layer types, most specific first (Conv1d before Conv2d, LogSoftmax before Softmax)
SUPPORTED = (Linear, Conv1d, Conv2d, ReLU, GELU, Tanh, Sigmoid, LayerNorm, BatchNorm1d, Dropout, LogSoftmax,
             Softmax, L2Normalize, Flatten, GlobalAvgPool, Residual, Identity, Sequential, Standardize,
             PretrainedEncoder)

_L2_EPS = 1e-12  # the clamp of pyssl's l2_normalize kernel (and of torch.nn.functional.normalize)


def _kind(module, where: str) -> type:
    """The supported layer type ``module`` is exported as, or a TypeError naming it.

    Subclasses are exported as their supported base only when they keep its ``forward``
    (MLP and the conv encoders are Sequentials); a subclass with its own computation is refused.
    """
    if not isinstance(module, Module):
        raise TypeError(f"pyssl.export converts pyssl.nn Modules, got {type(module).__name__} at {where}"
                        + ("; pass the method's encoder (method.encoder)" if hasattr(module, "encoder") else ""))
    for base in SUPPORTED:
        if isinstance(module, base):
            if type(module).forward is base.forward:
                return base
            break
    names = ", ".join(c.__name__ for c in SUPPORTED)
    raise TypeError(f"pyssl.export cannot convert {type(module).__name__} at {where}: it defines its own forward; "
                    f"supported layers are {names} (and their subclasses that keep their forward)")


def _children(module: Module):
    return list(module._modules.items())


def _check_tree(module, where: str = "the root") -> None:
    """Refuse an unsupported module anywhere in the tree before any conversion starts."""
    kind = _kind(module, where)
    if kind in (Sequential, Residual, PretrainedEncoder):
        for name, child in _children(module):
            _check_tree(child, f"{where}.{name}")


# -- PyTorch ----------------------------------------------------------------------------------------

def _import_torch():
    try:
        import torch
    except ImportError as exc:
        raise ImportError("pyssl.export.to_torch needs PyTorch: pip install torch") from exc
    return torch


def _torch_layers(torch):
    """The two torch modules with no built-in equivalent (made once torch is imported)."""
    nn = torch.nn

    class L2Normalize(nn.Module):
        """x / max(‖x‖₂, 1e−12) over the last dimension (pyssl.nn.L2Normalize)."""

        def forward(self, x):
            return nn.functional.normalize(x, p=2.0, dim=-1, eps=_L2_EPS)

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

    class Standardize(nn.Module):
        """(x − mean) / std with fixed buffers broadcast against one sample."""

        def __init__(self, mean, std):
            super().__init__()
            self.register_buffer("mean", mean)
            self.register_buffer("std", std)

        def forward(self, x):
            return (x - self.mean) / self.std

    return L2Normalize, GlobalAvgPool, Residual, Standardize


def to_torch(module: Module):
    """An equivalent ``torch.nn.Module`` of ``module``, in evaluation mode and the module's dtype.

    Weights are copied (Linear's W transposed to torch's (out, in) layout); the result does not
    share memory with ``module``. Outputs agree with ``module(x)`` in evaluation mode to floating
    point rounding (the products run in different BLAS libraries).

    Parameters
    ----------
    module : a pyssl.nn Module built from the layers listed in :mod:`pyssl.export`.

    Raises
    ------
    TypeError for a module that cannot be exported, ImportError without torch.
    """
    _check_tree(module)  # refuse before importing torch
    torch = _import_torch()
    l2, gap, residual, standardize = _torch_layers(torch)
    nn = torch.nn
    dtype = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}[np.dtype(module.dtype)]

    def tensor(a):
        return torch.from_numpy(np.ascontiguousarray(a)).to(dtype).clone()

    def param(a):
        return nn.Parameter(tensor(a))

    def convert(m, where):
        kind = _kind(m, where)
        if kind is Sequential:
            return nn.Sequential(*[convert(c, f"{where}.{name}") for name, c in _children(m)])
        if kind is Residual:
            return residual(convert(m.inner, f"{where}.inner"))
        if kind is Identity:
            return nn.Identity()
        if kind is Standardize:
            return standardize(tensor(m.mean), tensor(m.std))
        if kind is PretrainedEncoder:
            parts = [convert(m.input, f"{where}.input")] if getattr(m, "input", None) is not None else []
            parts += [nn.Flatten(1)] if m.flatten else []
            return nn.Sequential(*parts, convert(m.encoder, f"{where}.encoder"))
        if kind is Linear:
            t = nn.Linear(m.in_features, m.out_features, bias=m.bias is not None)
            t.weight = param(m.weight.data.T)
            if m.bias is not None:
                t.bias = param(m.bias.data)
            return t
        if kind is Conv1d:
            t = nn.Conv1d(m.in_channels, m.out_channels, m.kernel_size[1], stride=m.stride[1],
                          padding=m.padding[1], bias=m.bias is not None)
            t.weight = param(m.weight.data[:, :, 0, :])
        elif kind is Conv2d:
            t = nn.Conv2d(m.in_channels, m.out_channels, m.kernel_size, stride=m.stride, padding=m.padding,
                          bias=m.bias is not None)
            t.weight = param(m.weight.data)
        if kind in (Conv1d, Conv2d):
            if m.bias is not None:
                t.bias = param(m.bias.data)
            return t
        if kind is LayerNorm:
            t = nn.LayerNorm(m.num_features, eps=m.eps, elementwise_affine=m.weight is not None)
            if m.weight is not None:
                t.weight, t.bias = param(m.weight.data), param(m.bias.data)
            return t
        if kind is BatchNorm1d:
            t = nn.BatchNorm1d(m.num_features, eps=m.eps, momentum=m.momentum, affine=m.weight is not None)
            if m.weight is not None:
                t.weight, t.bias = param(m.weight.data), param(m.bias.data)
            t.running_mean = tensor(m.running_mean)
            t.running_var = tensor(m.running_var)
            return t
        simple = {ReLU: nn.ReLU, Tanh: nn.Tanh, Sigmoid: nn.Sigmoid, Flatten: lambda: nn.Flatten(1),
                  GELU: lambda: nn.GELU(approximate="none"), Softmax: lambda: nn.Softmax(dim=-1),
                  LogSoftmax: lambda: nn.LogSoftmax(dim=-1), L2Normalize: l2, GlobalAvgPool: gap}
        if kind is Dropout:
            return nn.Dropout(m.p)
        return simple[kind]()

    out = convert(module, "the root").to(dtype)
    return out.eval()


# -- ONNX -------------------------------------------------------------------------------------------

def _import_onnx():
    try:
        import onnx
    except ImportError as exc:
        raise ImportError('pyssl.export.to_onnx needs the onnx package: pip install "pyssl[export]"') from exc
    return onnx


def _input_shape(module: Module):
    """Input shape with symbolic sizes, from the first layer that fixes the feature layout."""
    m = module
    while True:
        kind = _kind(m, "the root")
        if kind is PretrainedEncoder:
            return ["N", *cast(PretrainedEncoder, m).input_shape]
        if kind is Linear:
            return ["N", cast(Linear, m).in_features]
        if kind is Conv1d:
            return ["N", cast(Conv1d, m).in_channels, "T"]
        if kind is Conv2d:
            return ["N", cast(Conv2d, m).in_channels, "H", "W"]
        if kind in (LayerNorm, BatchNorm1d):
            return ["N", cast("LayerNorm | BatchNorm1d", m).num_features]
        if kind is Sequential and len(m._modules):
            m = next(iter(m._modules.values()))
        elif kind is Residual:
            m = cast(Residual, m).inner
        else:
            raise ValueError(f"to_onnx cannot tell the input shape of {type(module).__name__} from its first layer; "
                             "pass input_shape, e.g. input_shape=('N', 64)")


class _Graph:
    """Nodes and initializers of the ONNX graph being built, with fresh value names."""

    def __init__(self, onnx, dtype):
        self.onnx, self.helper, self.dtype = onnx, onnx.helper, np.dtype(dtype)
        self.nodes, self.initializers, self._count = [], [], 0

    def name(self, hint: str) -> str:
        self._count += 1
        return f"{hint}_{self._count}"

    def const(self, value, hint: str, dtype=None) -> str:
        name = self.name(hint)
        arr = np.ascontiguousarray(np.asarray(value, dtype=dtype or self.dtype))
        self.initializers.append(self.onnx.numpy_helper.from_array(arr, name))
        return name

    def op(self, op_type: str, inputs, hint: str | None = None, **attrs) -> str:
        out = self.name(hint or op_type.lower())
        self.nodes.append(self.helper.make_node(op_type, list(inputs), [out], **attrs))
        return out


def _onnx_layer(g: _Graph, m, x: str, where: str) -> str:
    kind = _kind(m, where)
    if kind is Sequential:
        for name, c in _children(m):
            x = _onnx_layer(g, c, x, f"{where}.{name}")
        return x
    if kind is Residual:
        return g.op("Add", [x, _onnx_layer(g, m.inner, x, f"{where}.inner")], "residual")
    if kind in (Identity, Dropout):
        return g.op("Identity", [x])
    if kind is Standardize:
        return g.op("Div", [g.op("Sub", [x, g.const(m.mean, "mean")]), g.const(m.std, "std")], "standardize")
    if kind is PretrainedEncoder:
        if getattr(m, "input", None) is not None:
            x = _onnx_layer(g, m.input, x, f"{where}.input")
        if m.flatten:
            x = g.op("Flatten", [x], axis=1)
        return _onnx_layer(g, m.encoder, x, f"{where}.encoder")
    if kind is Linear:
        y = g.op("MatMul", [x, g.const(m.weight.data, "weight")])
        return y if m.bias is None else g.op("Add", [y, g.const(m.bias.data, "bias")])
    if kind in (Conv1d, Conv2d):
        w = m.weight.data[:, :, 0, :] if kind is Conv1d else m.weight.data
        ks = list(w.shape[2:])
        stride = [m.stride[1]] if kind is Conv1d else list(m.stride)
        pad = [m.padding[1]] if kind is Conv1d else list(m.padding)
        inputs = [x, g.const(w, "weight")] + ([g.const(m.bias.data, "bias")] if m.bias is not None else [])
        return g.op("Conv", inputs, "conv", kernel_shape=ks, strides=stride, pads=pad + pad)
    if kind in (ReLU, Tanh, Sigmoid):
        return g.op({ReLU: "Relu", Tanh: "Tanh", Sigmoid: "Sigmoid"}[kind], [x])
    if kind is GELU:
        erf = g.op("Erf", [g.op("Mul", [x, g.const(1.0 / np.sqrt(2.0), "inv_sqrt2")])])
        half = g.op("Mul", [x, g.const(0.5, "half")])
        return g.op("Mul", [half, g.op("Add", [erf, g.const(1.0, "one")])], "gelu")
    if kind is LayerNorm:
        d = m.num_features
        w = m.weight.data if m.weight is not None else np.ones(d)
        b = m.bias.data if m.bias is not None else np.zeros(d)
        return g.op("LayerNormalization", [x, g.const(w, "ln_weight"), g.const(b, "ln_bias")], "layer_norm",
                    axis=-1, epsilon=float(m.eps))
    if kind is BatchNorm1d:
        rstd = 1.0 / np.sqrt(m.running_var.astype(np.float64) + m.eps)
        y = g.op("Mul", [g.op("Sub", [x, g.const(m.running_mean, "bn_mean")]), g.const(rstd, "bn_rstd")])
        if m.weight is not None:
            y = g.op("Add", [g.op("Mul", [y, g.const(m.weight.data, "bn_weight")]), g.const(m.bias.data, "bn_bias")])
        return y
    if kind in (Softmax, LogSoftmax):
        return g.op("LogSoftmax" if kind is LogSoftmax else "Softmax", [x], axis=-1)
    if kind is L2Normalize:
        norm = g.op("ReduceL2", [x], "norm", axes=[-1], keepdims=1)
        return g.op("Div", [x, g.op("Max", [norm, g.const(_L2_EPS, "eps")])], "l2_normalize")
    if kind is Flatten:
        return g.op("Flatten", [x], axis=1)
    if kind is GlobalAvgPool:
        flat = g.op("Reshape", [x, g.const([0, 0, -1], "shape", dtype=np.int64)])
        return g.op("ReduceMean", [flat], "pool", axes=[2], keepdims=0)
    raise AssertionError(kind)  # pragma: no cover - every SUPPORTED kind is handled above


OPSET = 17  # LayerNormalization needs 17; ReduceL2 / ReduceMean take axes as attributes up to 17


def to_onnx(module: Module, path, input_shape=None, dtype=None):
    """Write ``module`` (evaluation mode) as an ONNX graph to ``path``; returns the ``onnx.ModelProto``.

    The graph has one input ``"x"`` and one output ``"y"`` in the module's dtype. The batch size
    (and a sequence's length or an image's height and width) stay symbolic, so the file serves
    any batch. Built node by node with the ``onnx`` package (no torch needed) and checked with
    ``onnx.checker`` before it is written.

    Parameters
    ----------
    module : a pyssl.nn Module built from the layers listed in :mod:`pyssl.export`.
    path : file to write (``.onnx``).
    input_shape : sequence of ints and names for symbolic sizes, e.g. ``("N", 64)``; default from
        the first layer (Linear → (N, in_features), Conv1d → (N, C, T), Conv2d → (N, C, H, W)).
    dtype : np.float32 or np.float64 for the graph's weights and values; default the module's.
        onnxruntime's CPU kernels for Conv and Erf (GELU) exist in float32 only, so a float64
        encoder with those layers is served as ``dtype=np.float32``.
    """
    _check_tree(module)
    shape = list(input_shape) if input_shape is not None else _input_shape(module)
    dtype = np.dtype(module.dtype if dtype is None else dtype)
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"to_onnx: dtype must be np.float32 or np.float64, got {dtype}")
    onnx = _import_onnx()
    elem = {np.dtype(np.float32): onnx.TensorProto.FLOAT, np.dtype(np.float64): onnx.TensorProto.DOUBLE}[dtype]
    g = _Graph(onnx, dtype)
    y = _onnx_layer(g, module, "x", "the root")
    g.nodes.append(onnx.helper.make_node("Identity", [y], ["y"]))
    graph = onnx.helper.make_graph(g.nodes, type(module).__name__, [onnx.helper.make_tensor_value_info("x", elem, shape)],
                                   [onnx.helper.make_tensor_value_info("y", elem, None)], g.initializers)
    model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", OPSET)],
                                   producer_name="pyssl")
    model.ir_version = min(model.ir_version, 8)  # readable by onnxruntime releases of the last years
    model = onnx.shape_inference.infer_shapes(model)  # fills in the output's shape (symbolic batch)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return model


__all__ = ["to_torch", "to_onnx", "SUPPORTED"]
