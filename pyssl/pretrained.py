"""Pretrained encoders on disk: the input standardisation stored with them, the encoder chosen by
input rank, and the checkpoint format that ``pyssl pretrain`` writes and ``pyssl.load_encoder``
reads.

A checkpoint holds one :class:`PretrainedEncoder` — ``(x − μ) / σ`` with the training data's
statistics (``input.*`` arrays), a reshape to rows for an MLP on images or series, then the
encoder (``encoder.*`` arrays) — and JSON metadata describing how to rebuild it. The same file
therefore also loads with ``pyssl.nn.load(load_encoder(path), path)``.
"""
from __future__ import annotations

import numpy as np

from .nn.module import Module

ENCODER_KINDS = ("auto", "mlp", "conv")


def standardization_axes(ndim: int) -> tuple[int, ...]:
    """Axes the statistics are taken over: samples for rows (N, D) — one (μ, σ) per feature —
    and samples plus positions for (N, C, T) series and (N, C, H, W) images — one per channel."""
    return (0,) if ndim == 2 else (0,) + tuple(range(2, ndim))


class Standardize(Module):
    """Fixed affine input layer ``(x − mean) / std`` (no trainable parameters; ``mean`` and ``std``
    are buffers broadcast against one sample, e.g. (D,) for rows or (C, 1, 1) for images)."""

    mean: np.ndarray  # buffers (register_buffer)
    std: np.ndarray

    def __init__(self, mean, std):
        super().__init__()
        mean = np.ascontiguousarray(mean, dtype=np.float32)
        std = np.ascontiguousarray(std, dtype=np.float32)
        if mean.shape != std.shape:
            raise ValueError(f"mean and std must have the same shape, got {mean.shape} and {std.shape}")
        if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(std)) and np.all(std > 0)):
            raise ValueError("mean must be finite and std finite and > 0")
        self.register_buffer("mean", mean)
        self.register_buffer("std", std)

    @classmethod
    def fit(cls, X, eps: float = 1e-8) -> "Standardize":
        """Statistics of ``X`` over :func:`standardization_axes` (a std below ``eps`` becomes 1)."""
        X = np.asarray(X)
        axes = standardization_axes(X.ndim)
        mu = X.mean(axis=axes, dtype=np.float64, keepdims=True)[0]
        sd = X.std(axis=axes, dtype=np.float64, keepdims=True)[0]
        return cls(mu, np.where(sd > eps, sd, 1.0))

    def forward(self, x):
        return ((x - self.mean) / self.std).astype(x.dtype, copy=False), None

    def backward(self, grad_output, ctx, need_input_grad: bool = True):
        return (grad_output / self.std).astype(grad_output.dtype, copy=False) if need_input_grad else None

    def extra_repr(self) -> str:
        return f"shape={self.mean.shape}"


class PretrainedEncoder(Module):
    """An encoder with what it needs to take raw samples: the shape of one sample, the input
    standardisation (``input``, a :class:`Standardize` or None) and whether samples are flattened
    to rows first (an MLP on images or series). ``meta`` keeps the checkpoint's metadata (method,
    training history, encoder spec)."""

    # Plain attributes set through object.__setattr__ (not registered as state).
    input_shape: tuple[int, ...]
    flatten: bool
    meta: dict

    def __init__(self, encoder: Module, input_shape, standardize: Standardize | None = None,
                 flatten: bool = False, meta: dict | None = None):
        super().__init__()
        if not isinstance(encoder, Module):
            raise TypeError(f"encoder must be a pyssl.nn.Module, got {type(encoder).__name__}")
        if standardize is not None:
            self.input = standardize
        self.encoder = encoder
        object.__setattr__(self, "input_shape", tuple(int(v) for v in input_shape))
        object.__setattr__(self, "flatten", bool(flatten))
        object.__setattr__(self, "meta", dict(meta or {}))
        out = getattr(encoder, "out_features", None)
        if out is not None:
            object.__setattr__(self, "out_features", int(out))

    def check_input(self, X, name: str = "data") -> None:
        """Raise a ValueError when samples of ``X`` do not have the shape the encoder was trained on."""
        shape = tuple(np.shape(X)[1:])
        if shape == self.input_shape:
            return
        if len(shape) == 1 and len(self.input_shape) == 1:
            raise ValueError(f"{name} has {shape[0]} features but the encoder expects {self.input_shape[0]}")
        raise ValueError(f"{name} has samples of shape {shape} but the encoder expects {self.input_shape}")

    def forward(self, x):
        self.check_input(x, "x")
        std = getattr(self, "input", None)
        if std is not None:
            x = std(x)
        if self.flatten:
            x = x.reshape(x.shape[0], -1)
        y, ctx = self.encoder.forward(x)
        return y, (ctx, np.shape(x))

    def backward(self, grad_output, ctx, need_input_grad: bool = True):
        ctx, _ = ctx
        g = self.encoder.backward(grad_output, ctx, need_input_grad=need_input_grad)
        if not need_input_grad or g is None:
            return None
        g = g.reshape((g.shape[0],) + self.input_shape)
        std = getattr(self, "input", None)
        return std.backward(g, None) if std is not None else g


def encoder_spec(input_shape, encoder: str = "auto", widths=None, seed: int = 0) -> tuple[dict, bool]:
    """The encoder for samples of ``input_shape`` and whether they are flattened to rows first.

    ``encoder="auto"`` picks by rank: an MLP (widths 256, 256, BatchNorm) for rows (D,), a 1-D CNN
    (channels 32, 64, kernel 5, global average pooling) for series (C, T), a 2-D CNN (3×3
    convolutions, channels 32, 64) for images (C, H, W). ``"mlp"`` flattens series and images;
    ``"conv"`` needs (C, T) or (C, H, W). ``widths`` overrides the layer widths.
    """
    input_shape = tuple(int(v) for v in input_shape)
    if encoder not in ENCODER_KINDS:
        raise ValueError(f"encoder must be one of {ENCODER_KINDS}, got {encoder!r}")
    rank = len(input_shape)
    if rank not in (1, 2, 3):
        raise ValueError(f"samples must be rows (D,), series (C, T) or images (C, H, W), got shape {input_shape}")
    if encoder == "conv" and rank == 1:
        raise ValueError("a conv encoder needs series (N, C, T) or images (N, C, H, W); rows (N, D) take encoder='mlp'")
    if encoder == "mlp" or (encoder == "auto" and rank == 1):
        widths = [256, 256] if widths is None else list(widths)
        return {"type": "mlp", "dims": [int(np.prod(input_shape))] + widths, "norm": "batch", "seed": seed}, rank > 1
    channels = [32, 64] if widths is None else list(widths)
    kind = "conv1d" if rank == 2 else "conv2d"
    return {"type": kind, "in_channels": input_shape[0], "channels": channels, "seed": seed}, False


def build_encoder(input_shape, encoder: str = "auto", widths=None, seed: int = 0,
                  standardize: Standardize | None = None) -> PretrainedEncoder:
    """A fresh :class:`PretrainedEncoder` for samples of ``input_shape`` (see :func:`encoder_spec`)."""
    from .experiments import make_encoder

    spec, flatten = encoder_spec(input_shape, encoder, widths, seed)
    return PretrainedEncoder(make_encoder(spec), input_shape, standardize, flatten, meta={"encoder": spec})


def save_encoder(path, model: PretrainedEncoder, **meta) -> None:
    """Write ``model`` (weights, standardisation and how to rebuild it) to ``path``; extra
    keyword arguments (method name, history) are stored in the metadata."""
    from .nn.checkpoint import save_state

    if not isinstance(model, PretrainedEncoder):
        raise TypeError(f"model must be a PretrainedEncoder, got {type(model).__name__}")
    header = {**model.meta, **meta, "kind": "encoder", "input_shape": list(model.input_shape),
              "flatten": model.flatten, "standardize": getattr(model, "input", None) is not None}
    save_state(path, model.state_dict(), header)


def load_encoder(path) -> PretrainedEncoder:
    """Load an encoder saved by ``pyssl pretrain`` (or :func:`save_encoder`): a
    :class:`PretrainedEncoder` that takes raw samples — the stored input standardisation is
    applied inside — and works with ``transform``, ``pyssl.transfer`` and ``pyssl.sklearn``.

    Example: ``enc = pyssl.load_encoder("encoder.npz"); Z = enc.transform(X)``.

    ``path``: an encoder file written by ``pyssl pretrain --out`` or :func:`pyssl.nn.save`.
    """
    from .experiments import make_encoder
    from .nn.checkpoint import load_state

    arrays, meta = load_state(path)
    if meta.get("kind") != "encoder" or "encoder" not in meta:
        raise ValueError(f"{path!r} is not an encoder checkpoint (written by 'pyssl pretrain' or save_encoder); "
                         f"its kind is {meta.get('kind')!r}")
    spec = meta["encoder"]
    std = None
    if "input.mean" in arrays:
        std = Standardize(arrays["input.mean"], arrays["input.std"])
    if "input_shape" in meta:
        shape, flatten = meta["input_shape"], meta.get("flatten", False)
    else:  # written before input shapes were stored: rows of the MLP's input width
        shape, flatten = [spec["dims"][0]], False
        if std is not None:
            std = Standardize(std.mean.reshape(-1), std.std.reshape(-1))
    model = PretrainedEncoder(make_encoder(spec), shape, std, flatten, meta)
    if std is not None:
        arrays["input.mean"], arrays["input.std"] = std.mean, std.std
    model.load_state_dict(arrays)
    return model
