"""Softmax and LogSoftmax over the last dimension (C++ kernels, max-shifted)."""
from __future__ import annotations

from .. import _core
from .module import Module, layer_input, register_layer


@register_layer("softmax")
class Softmax(Module):
    """softmax(x)_k = exp(x_k − m) / Σ_j exp(x_j − m), m = max_j x_j, over the last dim.

    Shapes: x (..., K) → y (..., K). Backward: dx = y ⊙ (dy − Σ_k dy_k y_k); context is y.
    """

    _log = False

    def forward(self, x):
        x = layer_input(self, x)
        y = _core.nn.softmax_forward(x, self._log)
        return y, y

    def backward(self, grad_output, ctx, need_input_grad: bool = True):
        return _core.nn.softmax_backward(ctx, grad_output, self._log)


@register_layer("log_softmax")
class LogSoftmax(Softmax):
    """log_softmax(x)_k = x_k − m − log Σ_j exp(x_j − m), over the last dim.

    Shapes: x (..., K) → y (..., K). Backward: dx = dy − exp(y) Σ_k dy_k; context is y.
    """

    _log = True
