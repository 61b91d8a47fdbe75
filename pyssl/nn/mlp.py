"""MLP builder: Linear → norm → activation between layers, the last Linear plain."""
from __future__ import annotations

import numbers

import numpy as np

from .._validation import check_scalar
from .activation import make_activation
from .init import rng
from .linear import Linear
from .module import Module, Residual, Sequential, register_layer

NORMS = ("batch", "layer", None)


def _make_norm(norm, width, dtype):
    from .norm import BatchNorm1d, LayerNorm  # norm layers live in their own file

    if norm == "batch":
        return BatchNorm1d(width, dtype=dtype)
    if norm == "layer":
        return LayerNorm(width, dtype=dtype)
    raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")


@register_layer("mlp", example=lambda dt: MLP([4, 6, 3], norm="layer", act="gelu", dtype=dt, seed=0))
class MLP(Sequential):
    """Multi-layer perceptron used as an extractor h_θ or a head k_γ.

    ``MLP([d0, d1, ..., dL])`` stacks L Linear layers; between two Linears come an optional
    norm (``"batch"`` → BatchNorm1d, ``"layer"`` → LayerNorm, ``None``), the activation
    (``"relu"``, ``"gelu"``, ``"tanh"``, ``"sigmoid"``) and optional dropout. The last Linear is
    plain. With ``norm`` set, hidden Linears carry no bias (the norm's shift replaces it).
    With ``residual=True`` every hidden block whose input and output widths agree becomes
    ``x + act(norm(Linear(x)))`` (a residual MLP block).

    ``dims``: widths [input, hidden..., output] (at least two). ``dtype``: float32 or float64: the
    dtype of the parameters (and of the outputs). ``seed``: initialisation seed; None draws from the
    process-wide stream (:func:`pyssl.manual_seed`).
    """

    def __init__(self, dims, norm="batch", act="relu", dropout: float = 0.0, dtype=np.float32, seed=None,
                 residual: bool = False):
        try:
            dims = list(dims)
        except TypeError:
            raise TypeError(f"dims must be a sequence of layer sizes, got {dims!r}") from None
        dims = [int(check_scalar(d, f"dims[{i}]", kind=numbers.Integral, low=1)) for i, d in enumerate(dims)]
        if len(dims) < 2:
            raise ValueError(f"dims needs at least an input and an output size, got {dims}")
        if norm not in NORMS:
            raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
        check_scalar(dropout, "dropout", low=0.0, high=1.0, high_inclusive=False)
        g = rng(seed)
        layers: list[Module] = []
        for i in range(len(dims) - 1):
            last = i == len(dims) - 2
            block: list[Module] = [Linear(dims[i], dims[i + 1], bias=last or norm is None, dtype=dtype,
                            seed=int(g.integers(2**63)))]
            if not last:
                if norm is not None:
                    block.append(_make_norm(norm, dims[i + 1], dtype))
                block.append(make_activation(act))
                if dropout > 0:
                    from .dropout import Dropout

                    block.append(Dropout(dropout, seed=int(g.integers(2**63))))
            if residual and not last and dims[i] == dims[i + 1]:
                layers.append(Residual(Sequential(*block)))
            else:
                layers.extend(block)
        super().__init__(*layers)
        self.dims = dims
        self.out_features = dims[-1]
        self.in_features = dims[0]
