"""Linear (dense) layer: y = x W + b, W of shape (in_features, out_features)."""
from __future__ import annotations

import numpy as np

from .. import _core
from .._validation import check_scalar
from .init import rng, uniform_fan_in
from .module import Module, Parameter, grads_for_backward, layer_input, register_layer
from . import precision as _precision

import numbers


@register_layer("linear", example=lambda dt: Linear(4, 3, dtype=dt, seed=0))
class Linear(Module):
    """Dense layer ``y = x W + b``.

    Shapes: x (N, I), W (I, O), b (O,), y (N, O). Backward (C++, BLAS):
    dx = dy Wᵀ, dW += xᵀ dy, db += Σₙ dy.
    Initialisation follows PyTorch: W, b ~ U(−1/√I, 1/√I).

    ``in_features``: input width D. ``out_features``: output width O. ``bias``: add a learned bias.
    ``dtype``: float32 or float64: the dtype of the parameters (and of the outputs). ``seed``:
    initialisation seed; None draws from the process-wide stream (:func:`pyssl.manual_seed`).
    Under ``precision="bf16-mixed"`` (``pyssl.nn.precision``) a float32 layer multiplies bfloat16
    copies of x, W and dy with float32 sums; W, its gradient and db stay float32. bf16(W) is the
    copy the optimizer wrote in its update pass when there is one (``Parameter.bf16_operands``).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 dtype=np.float32, seed=None):
        super().__init__()
        check_scalar(in_features, "in_features", kind=numbers.Integral, low=1)
        check_scalar(out_features, "out_features", kind=numbers.Integral, low=1)
        g = rng(seed)
        self.in_features, self.out_features = int(in_features), int(out_features)
        self.weight = Parameter(uniform_fan_in((in_features, out_features), in_features, dtype, g))
        self.bias = Parameter(uniform_fan_in((out_features,), in_features, dtype, g), decay=False) if bias else None

    def forward(self, x):
        x = layer_input(self, x, self.weight.dtype)
        b = self.bias.data if self.bias is not None else None
        if x.dtype == np.float32 and _precision.current() == "bf16-mixed":
            w, wb = self.weight.bf16_operands()  # wb: the optimizer's bf16 copy, or None (cast here)
            y, xb, wb = _core.nn.dense_forward_bf16(x, w, b, wb)
            return y, _Bf16Operands(xb, wb)
        return _core.nn.dense_forward(x, self.weight.data, b), x

    def backward(self, grad_output, ctx, need_input_grad: bool = True):
        (wg, bg), acc = grads_for_backward(self.weight, self.bias)
        if type(ctx) is _Bf16Operands:
            return _core.nn.dense_backward_bf16(ctx.x, ctx.weight, grad_output, wg, bg,
                                                accumulate=acc, need_dx=need_input_grad)
        return _core.nn.dense_backward(ctx, self.weight.data, grad_output, wg, bg,
                                       accumulate=acc, need_dx=need_input_grad)

    def extra_repr(self) -> str:
        return f"{self.in_features} -> {self.out_features}, bias={self.bias is not None}"


class _Bf16Operands:
    """What a bf16-mixed forward keeps for backward: bf16(x) and bf16(W) (uint16 bit patterns)."""

    __slots__ = ("x", "weight")

    def __init__(self, x, weight):
        self.x, self.weight = x, weight
