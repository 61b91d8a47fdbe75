"""Max pooling over (N, C, H, W) and (N, C, T) (csrc/nn/maxpool.cpp)."""
from __future__ import annotations

import numbers

import numpy as np

from .. import _core
from .._validation import check_scalar
from .conv import _pair
from .module import Module, layer_input, register_layer


@register_layer("max_pool2d", example=lambda dt: MaxPool2d(3, 2, 1), input=(2, 3, 7, 6))
class MaxPool2d(Module):
    """Max pooling, PyTorch's convention (floor output size, −∞ padding):

    .. math::
        y_{ncpq} = \\max_{i < k_h,\\, j < k_w} x_{n,c,\\,p s_h + i − p_h,\\, q s_w + j − p_w},\\qquad
        H_o = ⌊(H + 2p_h − k_h)/s_h⌋ + 1

    x (N, C, H, W) → y (N, C, H_o, W_o). ``stride`` defaults to ``kernel_size``; ``padding`` must
    be at most half the kernel. The position of each maximum is kept for backward (the gradient
    goes to it alone; the first maximum in window order on ties). The ImageNet ResNet stem uses
    ``MaxPool2d(3, 2, 1)`` (He et al. 2016).

    Parameters
    ----------
    kernel_size : int or (int, int)
        Window (k_h, k_w).
    stride : int or (int, int), optional
        Step (s_h, s_w); default ``kernel_size``.
    padding : int or (int, int)
        −∞ padding (p_h, p_w) on each side, at most half the kernel.
    """

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.stride = self.kernel_size if stride is None else _pair(stride, "stride")
        self.padding = _pair(padding, "padding")
        if min(self.kernel_size) < 1 or min(self.stride) < 1:
            raise ValueError(f"kernel_size and stride must be >= 1, got {self.kernel_size} and {self.stride}")
        if min(self.padding) < 0 or any(2 * p > k for p, k in zip(self.padding, self.kernel_size)):
            raise ValueError(f"padding must be >= 0 and at most half of kernel_size {self.kernel_size}, "
                             f"got {self.padding}")

    def forward(self, x):
        x = layer_input(self, x)
        if x.ndim != 4:
            raise ValueError(f"{type(self).__name__} expects x of shape (N, C, H, W), got shape {x.shape}")
        y, arg = _core.nn.max_pool2d_forward(np.ascontiguousarray(x), self.kernel_size, self.stride, self.padding)
        return y, (arg, x.shape)

    def backward(self, grad_output, ctx, need_input_grad: bool = True):
        arg, shape = ctx
        g = np.ascontiguousarray(grad_output)
        return _core.nn.max_pool2d_backward(arg, g, list(shape), self.kernel_size, self.stride, self.padding)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


@register_layer("max_pool1d", example=lambda dt: MaxPool1d(3, 2, 1), input=(2, 3, 11))
class MaxPool1d(MaxPool2d):
    """Max pooling over time, x (N, C, T) → (N, C, T_o), T_o = ⌊(T + 2p − k)/s⌋ + 1: the H = 1
    case of :class:`MaxPool2d`.

    Parameters
    ----------
    kernel_size, stride, padding : int
        Window length k, step s (default k) and −∞ padding p on each end (p <= k/2).
    """

    def __init__(self, kernel_size, stride=None, padding=0):
        check_scalar(kernel_size, "kernel_size", kind=numbers.Integral, low=1)
        stride = kernel_size if stride is None else check_scalar(stride, "stride", kind=numbers.Integral, low=1)
        check_scalar(padding, "padding", kind=numbers.Integral, low=0)
        super().__init__((1, kernel_size), (1, stride), (0, padding))

    def forward(self, x):
        x = layer_input(self, x)
        if x.ndim != 3:
            raise ValueError(f"MaxPool1d expects x of shape (N, C, T), got shape {x.shape}")
        y, ctx = super().forward(x.reshape(x.shape[0], x.shape[1], 1, x.shape[2]))
        return y.reshape(y.shape[0], y.shape[1], y.shape[3]), ctx

    def backward(self, grad_output, ctx, need_input_grad: bool = True):
        g = grad_output.reshape(grad_output.shape[0], grad_output.shape[1], 1, grad_output.shape[2])
        dx = super().backward(g, ctx, need_input_grad)
        return dx.reshape(dx.shape[0], dx.shape[1], dx.shape[3])

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size[1]}, stride={self.stride[1]}, padding={self.padding[1]}"
