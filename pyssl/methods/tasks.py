"""Methods built from a pretext task P that makes pseudolabels z (seed, Figure 2): the encoder
and a head k_γ predict z from P's inputs, with the loss the task names. Rotation prediction,
jigsaw and shuffled-token detection are instances."""
from __future__ import annotations

import numpy as np

from .. import losses
from ..nn.losses import cross_entropy, mse
from .base import Method, backward_chain, forward_chain


def _loss(name: str, out, z, extra=None):
    if name == "cross_entropy":
        return cross_entropy(out, np.ascontiguousarray(z, dtype=np.int64))
    if name == "mse":
        return mse(out, np.ascontiguousarray(z.reshape(out.shape), dtype=out.dtype))
    if name == "mask_bce":
        return losses.mask_bce(out, np.ascontiguousarray(z.reshape(out.shape), dtype=out.dtype))
    raise ValueError(f"unsupported task loss {name!r}")


class PretextTaskMethod(Method):
    """Train encoder + head on ``task.generate(X, seed) -> (inputs, z)`` with ``task.loss``."""

    trainable_names = ("encoder", "head")

    def __init__(self, encoder, task, head=None, hidden_dim: int | None = None, seed: int | None = 0):
        super().__init__(encoder, views=lambda x, s: x, seed=seed)
        self.task, self.head, self.hidden_dim = task, head, hidden_dim

    def setup(self, X):
        if hasattr(self.task, "fit"):
            self.task.fit(X)
        inputs, _ = self.task.generate(np.ascontiguousarray(X[:2]), 0)
        self._input_example = inputs
        super().setup(X)

    def _head_size(self, X):
        size = getattr(self.task, "head_output_size", None)
        if callable(size):
            size = size(X.shape)
        return int(size)

    def build_heads(self, feature_dim, X):
        if self.head is None:
            out = self._head_size(X)
            if self.hidden_dim:
                self.head = self.mlp([feature_dim, self.hidden_dim, out], key=1)
            else:
                self.head = self.mlp([feature_dim, out], key=1)

    def training_step(self, X, seed):
        inputs, z = self.task.generate(X, seed)
        chain = [self.encoder, self.head]
        out, ctx = forward_chain(chain, np.ascontiguousarray(inputs))
        loss, dout = _loss(self.task.loss, out, z)
        backward_chain(chain, dout, ctx)
        return loss
