"""Methods built from a pretext task P that makes pseudolabels z (seed, Figure 2): the encoder
and a head k_γ predict z from P's inputs, with the loss the task names. Rotation prediction,
jigsaw and shuffled-token detection are instances."""
from __future__ import annotations

import numpy as np

from .. import losses
from ..nn.losses import cross_entropy, mse
from .base import Method, backward_chain, forward_chain
from .views import IdentityView


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
        super().__init__(encoder, views=IdentityView(), seed=seed)
        self.task, self.head, self.hidden_dim = task, head, hidden_dim

    def setup(self, X):
        if hasattr(self.task, "fit"):
            self.task.fit(X)
        if isinstance(self.task.loss, tuple):
            raise ValueError(f"{type(self.task).__name__} names several losses {self.task.loss}; use the "
                             "dedicated method (e.g. pyssl.methods.VIME) instead of PretextTaskMethod")
        super().setup(X)

    def example_input(self, X):
        return self.task.generate(np.ascontiguousarray(X[:2]), 0)[0]

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
        out, ctx = forward_chain(chain, self.local(np.ascontiguousarray(inputs)))
        loss, dout = self.global_loss(lambda o: _loss(self.task.loss, o, z), out)
        backward_chain(chain, dout, ctx)
        return loss


class RotationPrediction(PretextTaskMethod):
    """RotNet (Gidaris et al., ICLR 2018): predict which of the 4 quarter turns was applied to an
    image (N, C, H, W); 4-way cross-entropy head."""

    def __init__(self, encoder, head=None, all_rotations: bool = False, seed: int | None = 0):
        from .. import pretext

        super().__init__(encoder, pretext.RotationPrediction(all_rotations=all_rotations), head, seed=seed)


class Jigsaw(PretextTaskMethod):
    """Jigsaw puzzles (Noroozi & Favaro, ECCV 2016): tiles of a grid×grid image shuffled by one of
    a fixed set of permutations; the head classifies which permutation was used."""

    def __init__(self, encoder, grid: int = 2, n_permutations: int = 24, head=None, seed: int | None = 0, **task_kw):
        from .. import pretext

        task_kw.setdefault("tiles", False)  # the shuffled image, same shape as the input
        super().__init__(encoder, pretext.Jigsaw(grid=grid, n_permutations=n_permutations, **task_kw), head,
                         seed=seed)
