"""Dropout (inverted, counter-based random masks)."""
from __future__ import annotations

import numpy as np

from .. import _core
from .._validation import check_scalar, check_seed
from .init import rng
from .module import Module, layer_input, register_layer


@register_layer("dropout", example=lambda dt: Dropout(0.3, seed=0).astype(dt), fd=False)
class Dropout(Module):
    """Inverted dropout (Srivastava et al. 2014): in training mode each element is zeroed with
    probability ``p`` and the survivors are scaled by 1/(1 − p), so evaluation mode is the
    identity (PyTorch's convention; the paper instead scales the weights by 1 − p at test time).

    Masks are drawn in C++ from the counter-based Philox stream ``(seed, step)``, one 32-bit word
    per element: ``step`` counts this module's training forwards and advances on each, so two
    views through one network get different masks, and the same seed replays the same sequence
    bit for bit whatever the thread count. ``seed=None`` draws the seed from the process-wide
    generator of :func:`pyssl.nn.manual_seed`.

    Any input shape; the context for backward is the uint8 keep mask (None when the layer is
    the identity: eval mode or p = 0). p must be in [0, 1).
    """

    rng_state: np.ndarray  # buffer (register_buffer): (seed, training forwards so far), uint64

    def __init__(self, p: float = 0.5, seed=None):
        super().__init__()
        check_scalar(p, "p", low=0.0, high=1.0, high_inclusive=False)
        self.p = float(p)
        seed = int(rng(None).integers(2**63)) if seed is None else check_seed(seed)
        # (seed, number of training forwards so far) is state: saved in state_dict so that a run
        # resumed from a checkpoint draws the same masks as an uninterrupted one.
        self.register_buffer("rng_state", np.array([seed, 0], dtype=np.uint64))

    @property
    def seed(self) -> int:
        return int(self.rng_state[0])

    @property
    def step(self) -> int:
        return int(self.rng_state[1])

    def forward(self, x):
        x = layer_input(self, x)
        if not self.training or self.p == 0.0:
            return x, None
        y, mask = _core.nn.dropout_forward(x, self.p, self.seed, self.step)
        self.rng_state[1] += np.uint64(1)
        return y, mask

    def backward(self, grad_output, ctx, need_input_grad: bool = True):
        if ctx is None:
            return grad_output
        return _core.nn.dropout_backward(grad_output, ctx, self.p)

    def extra_repr(self) -> str:
        return f"p={self.p}"
