"""Normalisation layers over the C++ kernels: LayerNorm and BatchNorm1d."""
from __future__ import annotations

import numbers

import numpy as np

from .. import _core
from .. import distributed as _distributed
from .._validation import check_scalar
from .module import Module, Parameter, grads_for_backward, layer_input, register_layer


def _check_common(num_features, eps, dtype):
    check_scalar(num_features, "num_features", kind=numbers.Integral, low=1)
    check_scalar(eps, "eps", low=0.0, low_inclusive=False)
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"dtype must be float32 or float64, got {dtype}")
    return int(num_features), float(eps), dtype


def init_batch_norm(layer, num_features, eps, momentum, dtype, affine) -> None:
    """The state every batch normalisation holds: checked ``num_features``, ``eps``, ``momentum``;
    γ = 1 and β = 0 (when ``affine``, excluded from weight decay); running mean 0 and variance 1."""
    layer.num_features, layer.eps, dtype = _check_common(num_features, eps, dtype)
    check_scalar(momentum, "momentum", low=0.0, high=1.0)
    layer.momentum = float(momentum)
    layer.affine = bool(affine)
    if layer.affine:
        layer.weight = Parameter(np.ones(layer.num_features, dtype=dtype), decay=False)
        layer.bias = Parameter(np.zeros(layer.num_features, dtype=dtype), decay=False)
    else:
        layer.weight = None
        layer.bias = None
    layer.register_buffer("running_mean", np.zeros(layer.num_features, dtype=dtype))
    layer.register_buffer("running_var", np.ones(layer.num_features, dtype=dtype))


def _check_input(layer, x, pattern, ok):
    """Cheap per-call checks (type, dtype, shape); the kernels re-check layout."""
    name = type(layer).__name__
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} expects a numpy.ndarray, got {type(x).__name__}")
    if x.dtype != layer.dtype:
        raise TypeError(f"{name} has dtype {layer.dtype} but x has {x.dtype}; cast with "
                        f"x.astype(np.{layer.dtype})")
    if not ok:
        raise ValueError(f"{name}({layer.num_features}) expects x of shape {pattern}, got shape {x.shape}")
    if x.size == 0:
        raise ValueError(f"{name} got an empty x of shape {x.shape}; x must not be empty")


@register_layer("layer_norm", example=lambda dt: LayerNorm(4, dtype=dt))
class LayerNorm(Module):
    """Layer normalisation over the last dimension (Ba, Kiros & Hinton 2016, §3).

    .. math::
        μ_n = \\tfrac1D Σ_d x_{nd},\\quad σ²_n = \\tfrac1D Σ_d (x_{nd} − μ_n)²,\\quad
        y_{nd} = γ_d (x_{nd} − μ_n)/\\sqrt{σ²_n + ε} + β_d

    Shapes: x (..., D) → y (..., D); γ, β (D,) (``weight``, ``bias``; initialised to 1 and 0,
    excluded from weight decay). The variance is the biased one (1/D), as in PyTorch.
    Works for any batch size, including 1. ``elementwise_affine=False`` drops γ and β.

    The context saved for backward is ``(x, mean, rstd)`` with one mean and one
    1/√(σ² + ε) per row, so two forwards can be in flight.

    ``num_features``: D, the size of the normalised last axis. ``eps``: added to the variance.
    ``dtype``: float32 or float64: the dtype of the parameters (and of the outputs).
    """

    weight: Parameter | None  # None without the affine transform
    bias: Parameter | None

    def __init__(self, num_features: int, eps: float = 1e-5, dtype=np.float32, *,
                 elementwise_affine: bool = True):
        super().__init__()
        self.num_features, self.eps, dtype = _check_common(num_features, eps, dtype)
        self.elementwise_affine = bool(elementwise_affine)
        self._dtype = dtype
        if self.elementwise_affine:
            self.weight = Parameter(np.ones(self.num_features, dtype=dtype), decay=False)
            self.bias = Parameter(np.zeros(self.num_features, dtype=dtype), decay=False)
        else:
            self.weight = None
            self.bias = None

    @property
    def dtype(self):
        return self._dtype

    def _astype_local(self, dtype):
        super()._astype_local(dtype)
        self._dtype = dtype

    def forward(self, x):
        x = layer_input(self, x)
        _check_input(self, x, f"(..., {self.num_features})",
                     isinstance(x, np.ndarray) and x.ndim >= 1 and x.shape[-1] == self.num_features)
        w = self.weight.data if self.weight is not None else None
        b = self.bias.data if self.bias is not None else None
        y, mean, rstd = _core.nn.layer_norm_forward(x, w, b, self.eps)
        return y, (x, mean, rstd)

    def backward(self, grad_output, ctx, need_input_grad: bool = True):
        x, mean, rstd = ctx
        affine = self.weight is not None
        (wg, bg), acc = grads_for_backward(self.weight, self.bias)
        return _core.nn.layer_norm_backward(
            x, mean, rstd, grad_output, self.weight.data if self.weight is not None else None, wg, bg,
            accumulate=acc, need_dx=need_input_grad)

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"


@register_layer("batch_norm1d", example=lambda dt: BatchNorm1d(4, dtype=dt))
class BatchNorm1d(Module):
    """Batch normalisation of (N, D) features (Ioffe & Szegedy 2015, Algorithms 1 and 2).

    Training mode normalises with the batch mean and *biased* variance (1/N) and updates the
    running statistics in place with the *unbiased* variance (1/(N−1)), PyTorch's convention:

    .. math::
        \\hat μ ← (1 − m)\\,\\hat μ + m\\,μ_B,\\qquad \\hat σ² ← (1 − m)\\,\\hat σ² + m\\,σ²_B \\tfrac{N}{N−1}

    (note: ``momentum`` m weighs the *new* batch, the opposite of Keras/TF's decay).
    Evaluation mode normalises with the running statistics. Backward in training mode
    differentiates through the batch statistics; in evaluation mode it is the affine map's.

    Shapes: x (N, D) → y (N, D). Parameters γ (``weight``, ones), β (``bias``, zeros), excluded
    from weight decay; buffers ``running_mean`` (zeros) and ``running_var`` (ones) go into
    ``state_dict``. ``affine=False`` (Barlow Twins' head) drops γ, β. Training mode with N = 1
    raises ValueError, as PyTorch does.

    In data-parallel training (``pyssl.pretrain(..., distributed=...)``, see
    :mod:`pyssl.distributed`) the statistics are those of the global batch (synchronised
    BatchNorm): each rank's per-feature mean and M2 are gathered and combined, and in backward the
    sums Σ dy and Σ dy·x̂ are summed over the ranks, so that every rank normalises and
    differentiates exactly as one process holding the whole batch would.
    """

    weight: Parameter | None  # None without the affine transform
    bias: Parameter | None
    running_mean: np.ndarray  # buffers (register_buffer)
    running_var: np.ndarray
    num_features: int  # set by init_batch_norm
    eps: float
    momentum: float
    affine: bool

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1, dtype=np.float32, *,
                 affine: bool = True):
        super().__init__()
        init_batch_norm(self, num_features, eps, momentum, dtype, affine)

    @property
    def dtype(self):
        return self.running_mean.dtype

    fuses_relu = True

    def forward(self, x):
        return self._forward(x, relu=False)

    def forward_relu(self, x):
        """relu(BN(x)) in one kernel (what a Sequential runs for BatchNorm1d → ReLU)."""
        return self._forward(x, relu=True)

    def _forward(self, x, relu: bool):
        x = layer_input(self, x)
        _check_input(self, x, f"(N, {self.num_features})",
                     isinstance(x, np.ndarray) and x.ndim == 2 and x.shape[1] == self.num_features)
        training = self.training
        if training and x.shape[0] < 2:
            raise ValueError(f"BatchNorm1d in training mode needs at least 2 rows to estimate the batch "
                             f"variance, got x of shape {x.shape}; use a larger batch or call .eval()")
        w = self.weight.data if self.weight is not None else None
        b = self.bias.data if self.bias is not None else None
        group = _distributed.batch_norm_group() if training else None
        if group is None:
            y, mean, rstd = _core.nn.batch_norm_forward(x, w, b, self.running_mean, self.running_var, relu=relu,
                                                        training=training, momentum=self.momentum, eps=self.eps)
            return y, (x, mean, rstd, training, None, y if relu else None)
        # Synchronised BatchNorm: the statistics of the rows of every rank.
        local_mean, local_m2 = _core.nn.batch_norm_moments(x)
        row = np.concatenate([[float(x.shape[0])], local_mean, local_m2])[None]
        count, mean, var = _distributed.combine_moments(group.allgather_rows(row)[0])
        y, mean, rstd = _core.nn.batch_norm_forward(x, w, b, self.running_mean, self.running_var, relu=relu,
                                                    training=True, momentum=self.momentum, eps=self.eps,
                                                    given_mean=mean, given_var=var, given_count=count)
        return y, (x, mean, rstd, training, (group, count), y if relu else None)

    def backward(self, grad_output, ctx, need_input_grad: bool = True):
        x, mean, rstd, training, sync, relu_y = ctx
        w = self.weight.data if self.weight is not None else None
        (wg, bg), acc = grads_for_backward(self.weight, self.bias)
        mask = dict(y=relu_y, relu=relu_y is not None)  # the fused ReLU's mask, when forward_relu ran
        if sync is None:
            return _core.nn.batch_norm_backward(x, mean, rstd, grad_output, w, wg, bg, training=training,
                                                accumulate=acc, need_dx=need_input_grad, **mask)
        group, count = sync
        # This rank's Σ g and Σ g·x̂ (g = dy, through the ReLU's mask when fused), summed over the
        # ranks, replace the batch sums in dx.
        s1, s2 = np.empty_like(mean), np.empty_like(mean)
        _core.nn.batch_norm_backward(x, mean, rstd, grad_output, np.ones_like(mean), s2, s1, training=True,
                                     accumulate=False, need_dx=False, **mask)
        sums = group.allreduce_sum_(np.concatenate([s1, s2]).astype(np.float64))
        return _core.nn.batch_norm_backward(x, mean, rstd, grad_output, w, wg, bg, training=True,
                                            accumulate=acc, need_dx=need_input_grad, given_sums=sums,
                                            given_count=count, **mask)

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}"
