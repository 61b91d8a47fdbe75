"""Row L2 normalisation (the C++ kernel the SSL losses use), as a function and as a layer.

    ẑ_i = z_i / max(‖z_i‖, 1e-12)        (torch.nn.functional.normalize's clamp)
    ∂L/∂z_i = (g_i − ẑ_i ⟨ẑ_i, g_i⟩) / ‖z_i‖
"""
from __future__ import annotations

import numpy as np

from .. import _core
from .._validation import check_array
from .module import Module, layer_input, register_layer


def l2_normalize(z) -> np.ndarray:
    """Rows of a (N, D) float array scaled to unit L2 norm (zero rows stay zero).

    ``z``: rows to normalise, (N, D).
    """
    z = check_array(z, "z", allow_empty=True, finite=False)
    return _core.nn.l2_normalize_forward(z)[0]


@register_layer("l2_normalize")
class L2Normalize(Module):
    """Layer form of :func:`l2_normalize` with its backward (SwAV prototypes, DINO heads)."""

    def forward(self, x):
        x = layer_input(self, x)
        zhat, norm = _core.nn.l2_normalize_forward(x)
        return zhat, (zhat, norm)

    def backward(self, grad_output, ctx, need_input_grad: bool = True):
        zhat, norm = ctx
        return _core.nn.l2_normalize_backward(zhat, norm, grad_output)
