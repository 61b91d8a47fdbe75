"""Batch normalisation over channels for convolutional features: BatchNorm2d for (N, C, H, W) and
ChannelBatchNorm1d for (N, C, T), each optionally fused with a residual add and a ReLU (one pass
over the tensor forward, two backward; csrc/nn/batchnorm2d.cpp)."""
from __future__ import annotations

import numpy as np

from .. import _core
from .. import distributed as _distributed
from .module import Module, Parameter, grads_for_backward, layer_input, register_layer
from .norm import init_batch_norm


class _ChannelBatchNorm(Module):
    _ndim = 4
    _pattern = "(N, C, H, W)"
    running_mean: np.ndarray  # buffers (register_buffer)
    running_var: np.ndarray
    weight: Parameter | None  # None without the affine transform
    bias: Parameter | None
    num_features: int  # set by init_batch_norm
    eps: float
    momentum: float
    affine: bool

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1, dtype=np.float32, *,
                 affine: bool = True, relu: bool = False):
        super().__init__()
        init_batch_norm(self, num_features, eps, momentum, dtype, affine)
        self.relu = bool(relu)

    @property
    def dtype(self):
        return self.running_mean.dtype

    def _check(self, x):
        name = type(self).__name__
        x = layer_input(self, x)
        if x.dtype != self.dtype:
            raise TypeError(f"{name} has dtype {self.dtype} but x has {x.dtype}; cast with x.astype(np.{self.dtype})")
        if x.ndim != self._ndim or x.shape[1] != self.num_features:
            raise ValueError(f"{name}({self.num_features}) expects x of shape {self._pattern} with C = "
                             f"{self.num_features}, got shape {x.shape}")
        if x.size == 0:
            raise ValueError(f"{name} got an empty x of shape {x.shape}; x must not be empty")
        return np.ascontiguousarray(x)

    fuses_relu = True

    def forward(self, x):
        return self.forward_fused(x)

    def forward_relu(self, x):
        """relu(BN(x)) in one pass (what a Sequential runs for this norm → ReLU)."""
        return self.forward_fused(x, relu=True)

    def forward_fused(self, x, residual=None, relu: bool = False):
        """y = [relu](BN(x) + residual); ``residual`` has x's shape (None: no add). The ReLU is
        applied when the layer was built with ``relu=True`` or ``relu`` is true."""
        relu = self.relu or relu
        x = self._check(x)
        if residual is not None:
            residual = np.ascontiguousarray(residual)
            if residual.shape != x.shape or residual.dtype != x.dtype:
                raise ValueError(f"{type(self).__name__}: residual must match x ({x.shape}, {x.dtype}), got "
                                 f"{residual.shape}, {residual.dtype}")
        training = self.training
        per_channel = x.shape[0] * int(np.prod(x.shape[2:]))
        if training and per_channel < 2:
            raise ValueError(f"{type(self).__name__} in training mode needs at least 2 values per channel "
                             f"(N times the spatial size), got x of shape {x.shape}; use a larger batch or .eval()")
        w = self.weight.data if self.weight is not None else None
        b = self.bias.data if self.bias is not None else None
        group = _distributed.batch_norm_group() if training else None
        kw = dict(residual=residual, relu=relu, training=training, momentum=self.momentum, eps=self.eps)
        if group is None:
            y, mean, rstd = _core.nn.batch_norm_channels_forward(x, w, b, self.running_mean, self.running_var, **kw)
            sync = None
        else:
            # Synchronised BatchNorm: statistics of the values of every rank (as BatchNorm1d).
            local_mean, local_m2 = _core.nn.batch_norm_channels_moments(x)
            row = np.concatenate([[float(per_channel)], local_mean, local_m2])[None]
            count, gmean, gvar = _distributed.combine_moments(group.allgather_rows(row)[0])
            y, mean, rstd = _core.nn.batch_norm_channels_forward(
                x, w, b, self.running_mean, self.running_var, given_mean=gmean, given_var=gvar,
                given_count=count, **kw)
            sync = (group, count)
        return y, (x, mean, rstd, y if relu else None, training, sync, residual is not None)

    def backward(self, grad_output, ctx, need_input_grad: bool = True):
        return self.backward_fused(grad_output, ctx, need_input_grad)[0]

    def backward_fused(self, grad_output, ctx, need_input_grad: bool = True):
        """Returns ``(dx or None, d_residual or None)`` and accumulates dγ, dβ."""
        x, mean, rstd, y, training, sync, has_res = ctx
        grad_output = np.ascontiguousarray(grad_output, dtype=x.dtype)
        w = self.weight.data if self.weight is not None else None
        (wg, bg), acc = grads_for_backward(self.weight, self.bias)
        kw = dict(y=y, relu=y is not None)
        if sync is None:
            return _core.nn.batch_norm_channels_backward(
                x, mean, rstd, grad_output, w, weight_grad=wg, bias_grad=bg, training=training, accumulate=acc,
                need_dx=need_input_grad, need_dres=has_res, **kw)
        group, count = sync
        s1, s2 = np.empty_like(mean), np.empty_like(mean)
        _core.nn.batch_norm_channels_backward(x, mean, rstd, grad_output, np.ones_like(mean), weight_grad=s2,
                                              bias_grad=s1, training=True, accumulate=False, need_dx=False, **kw)
        sums = group.allreduce_sum_(np.concatenate([s1, s2]).astype(np.float64))
        return _core.nn.batch_norm_channels_backward(
            x, mean, rstd, grad_output, w, weight_grad=wg, bias_grad=bg, training=True, accumulate=acc,
            need_dx=need_input_grad, need_dres=has_res, given_sums=sums, given_count=count, **kw)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}"
                + (", relu=True" if self.relu else ""))


@register_layer("batch_norm2d", example=lambda dt: BatchNorm2d(3, dtype=dt), input=(3, 3, 4, 5))
class BatchNorm2d(_ChannelBatchNorm):
    """Batch normalisation of image features x (N, C, H, W) per channel (Ioffe & Szegedy 2015,
    §3.2: a channel's statistics are taken over the batch and all spatial positions):

    .. math::
        μ_c = \\tfrac1M Σ_{n,h,w} x_{nchw},\\quad σ²_c = \\tfrac1M Σ_{n,h,w} (x_{nchw} − μ_c)²,\\quad
        M = N·H·W,\\qquad y = γ_c (x − μ_c)/\\sqrt{σ²_c + ε} + β_c

    Training mode uses the batch statistics (biased variance) and updates ``running_mean`` /
    ``running_var`` with momentum m on the new batch and the unbiased variance (σ² M/(M−1)), as
    PyTorch and :class:`BatchNorm1d`; evaluation mode uses the running statistics. Backward in
    training mode differentiates through the batch statistics.

    ``relu=True`` fuses a ReLU, y = max(BN(x), 0); :meth:`forward_fused` also adds a residual
    before the ReLU, y = relu(BN(x) + r), the tail of a ResNet block (He et al. 2016), and
    :meth:`backward_fused` returns (dx, dr). Parameters γ (``weight``, ones) and β (``bias``,
    zeros) are excluded from weight decay; ``affine=False`` drops them. Under
    ``pyssl.pretrain(..., distributed=...)`` the statistics are those of the global batch
    (synchronised BatchNorm, as :class:`BatchNorm1d`).
    """


@register_layer("channel_batch_norm1d", example=lambda dt: ChannelBatchNorm1d(3, dtype=dt, relu=True),
                input=(3, 3, 7))
class ChannelBatchNorm1d(_ChannelBatchNorm):
    """Batch normalisation of series features x (N, C, T) per channel — PyTorch's BatchNorm1d on
    3-D input: statistics of channel c over the batch and time (M = N·T); otherwise exactly
    :class:`BatchNorm2d` (running statistics, ``relu``, fused residual, synchronised mode)."""

    _ndim = 3
    _pattern = "(N, C, T)"
