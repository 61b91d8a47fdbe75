"""Pointwise activations (C++ kernels): ReLU, GELU (exact erf form), Tanh, Sigmoid."""
from __future__ import annotations

from .. import _core
from .module import Module, layer_input, register_layer


class _Activation(Module):
    _id: int = -1

    def forward(self, x):
        x = layer_input(self, x)
        y = _core.nn.activation_forward(self._id, x)
        return y, (x, y)

    def backward(self, grad_output, ctx, need_input_grad: bool = True):
        x, y = ctx
        return _core.nn.activation_backward(self._id, x, y, grad_output)


class ReLU(_Activation):
    """relu(x) = max(x, 0). After a BatchNorm1d in a Sequential it runs inside the norm's kernel."""
    _id = 0
    is_relu = True


class GELU(_Activation):
    """gelu(x) = x Φ(x), the exact (erf) form of Hendrycks & Gimpel (2016), as torch's default."""
    _id = 1


class Tanh(_Activation):
    """tanh(x); derivative 1 − tanh²(x)."""
    _id = 2


class Sigmoid(_Activation):
    """σ(x) = 1 / (1 + e^−x), evaluated stably; derivative σ(1 − σ)."""
    _id = 3


#: name -> activation layer (one entry adds an activation to ``make_activation``, MLPs and ``nn.LAYERS``)
ACTIVATIONS = {"relu": ReLU, "gelu": GELU, "tanh": Tanh, "sigmoid": Sigmoid}
for _name, _cls in ACTIVATIONS.items():
    register_layer(_name, _cls)


def make_activation(name: str) -> Module:
    """An activation layer by name.

    ``name``: 'relu', 'gelu', 'tanh' or 'sigmoid' (case ignored).
    """
    try:
        return ACTIVATIONS[name]()
    except KeyError:
        raise ValueError(f"act must be one of {sorted(ACTIVATIONS)}, got {name!r}") from None
