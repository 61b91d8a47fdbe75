"""One method for every pretext task P that makes pseudolabels z (Ericsson et al., 2022, Figure 2):
the encoder h_θ and a head k_γ per loss predict z from P's inputs, scored by the loss the task
names, resolved through the loss registry (:func:`pyssl.losses.task_loss`). Rotation prediction,
jigsaw, masked modeling, denoising, VIME, instance discrimination, SCARF, DACL and shuffled-token
detection are all instances; :class:`~pyssl.methods.MaskedModeling`,
:class:`~pyssl.methods.DenoisingAutoencoder` and :class:`~pyssl.methods.VIME` are this method
over a fixed task."""
from __future__ import annotations

import numpy as np

from ..losses.registry import task_loss
from ..pretext.compose import Identity
from .base import Method, backward_chain, forward_chain, register_method


def _check_task(task):
    missing = [a for a in ("generate", "head_output_size", "loss") if not hasattr(task, a)]
    if missing:
        raise TypeError(f"task must be a pretext task (e.g. pyssl.pretext.MaskedFeaturePrediction()) with generate, "
                        f"head_output_size and loss; {type(task).__name__} lacks {', '.join(missing)}")
    return task


class PretextTaskMethod(Method):
    """Train encoder + heads on ``task.generate(X, seed) -> (inputs, z)`` with the task's loss.

    With one loss name, one head ``head`` (h → ``task.head_output_size``) and
    L = loss(head(h(x̃)), z). With a tuple of names (VIME), one head per loss, attributes
    ``head_names`` (default ``head_0, head_1, …``), and L = Σ_i w_i loss_i(head_i(h(x̃)), z_i) with
    ``task.loss_weights``. Heads not given are MLPs ``[feature_dim, (hidden_dim,) out]``.

    Parameters
    ----------
    encoder : pyssl.nn.Module
        h_θ; it receives the task's inputs.
    task : pyssl.pretext.PretextTask
        P: ``generate``, ``head_output_size(input_shape)`` and ``loss`` (a registered loss name,
        or a tuple of names with ``loss_weights``).
    head : Module or tuple of Module, optional
        k_γ, one per loss.
    hidden_dim : int, optional
        Hidden width of the default heads (none: a linear head with BatchNorm).
    seed : int
        Head initialisation.
    """

    head_names: tuple[str, ...] = ()

    def __init__(self, encoder, task, head=None, hidden_dim: int | None = None, seed: int | None = 0):
        super().__init__(encoder, views=Identity(), seed=seed)
        self.task = _check_task(task)
        self.hidden_dim = hidden_dim
        names = task.loss if isinstance(task.loss, tuple) else (task.loss,)
        task_loss(task.loss, getattr(task, "loss_weights", None))  # an unknown or unfit loss name raises here
        if not self.head_names:
            self.head_names = ("head",) if len(names) == 1 else tuple(f"head_{i}" for i in range(len(names)))
        if len(self.head_names) != len(names):
            raise ValueError(f"{type(self).__name__} has heads {self.head_names} for the losses {names}")
        self.trainable_names = ("encoder",) + self.head_names
        if head is None:
            heads = (None,) * len(names)
        else:
            heads = tuple(head) if isinstance(head, (tuple, list)) else (head,)
        if len(heads) != len(names):
            raise ValueError(f"head must be one module per loss {names}, got {len(heads)}")
        for name, h in zip(self.head_names, heads):
            setattr(self, name, h)

    def setup(self, X):
        if hasattr(self.task, "fit"):
            self.task.fit(X)
        super().setup(X)

    def example_input(self, X):
        return self.task.generate(np.ascontiguousarray(X[:2]), 0)[0]

    def build_heads(self, feature_dim, X):
        sizes = self.task.head_output_size(X.shape)
        sizes = sizes if isinstance(sizes, tuple) else (sizes,)
        for i, (name, out) in enumerate(zip(self.head_names, sizes)):
            if getattr(self, name) is None:
                dims = [feature_dim, self.hidden_dim, int(out)] if self.hidden_dim else [feature_dim, int(out)]
                setattr(self, name, self.mlp(dims, key=1 + i))

    def training_step(self, X, seed):
        loss_of = task_loss(self.task.loss, getattr(self.task, "loss_weights", None))  # not stored: methods pickle
        inputs, z = self.task.generate(X, seed)
        heads = [getattr(self, n) for n in self.head_names]
        h, hctx = self.encoder.forward(self.local(np.ascontiguousarray(inputs)))
        outs, ctxs = zip(*(head.forward(h) for head in heads))
        if len(heads) == 1:
            loss, dout = self.global_loss(lambda o: loss_of(o, z), outs[0])
            douts = [dout]
        else:
            def loss_fn(*o):
                value, grads = loss_of(o, z)
                return (value, *grads)
            loss, *douts = self.global_loss(loss_fn, *outs)
        dh = None
        for head, d, c in zip(heads, douts, ctxs):
            g = head.backward(d, c)
            dh = g if dh is None else dh + g
        backward_chain([self.encoder], dh, [hctx])
        return loss


@register_method("rotation", example=lambda e: RotationPrediction(e), data="images")
class RotationPrediction(PretextTaskMethod):
    """RotNet (Gidaris et al., ICLR 2018): predict which of the 4 quarter turns was applied to an
    image (N, C, H, W); 4-way cross-entropy head. :class:`PretextTaskMethod` over
    :class:`pyssl.pretext.RotationPredictionTask`.

    Parameters
    ----------
    encoder : pyssl.nn.Module
        h_θ over images.
    head : Module, optional
        The 4-logit head.
    all_rotations : bool
        Every image in all four rotations (the paper's training scheme).
    seed : int
        Head initialisation.
    """

    def __init__(self, encoder, head=None, all_rotations: bool = False, seed: int | None = 0):
        from ..pretext import RotationPredictionTask

        super().__init__(encoder, RotationPredictionTask(all_rotations=all_rotations), head, seed=seed)


@register_method("jigsaw", example=lambda e: Jigsaw(e, grid=2, n_permutations=6), data="images")
class Jigsaw(PretextTaskMethod):
    """Jigsaw puzzles (Noroozi & Favaro, ECCV 2016): tiles of a grid×grid image shuffled by one of
    a fixed set of permutations; the head classifies which permutation was used.
    :class:`PretextTaskMethod` over :class:`pyssl.pretext.JigsawTask` (shuffled images, not tiles,
    by default, so any image encoder applies).

    Parameters
    ----------
    encoder : pyssl.nn.Module
        h_θ over images.
    grid : int
        Tiles per side.
    n_permutations : int
        Size of the permutation set (the head's classes).
    head : Module, optional
        The classifier head.
    seed : int
        Head initialisation.
    **task_kw
        Further :class:`pyssl.pretext.JigsawTask` arguments (``permutation_set``, ``tiles``).
    """

    def __init__(self, encoder, grid: int = 2, n_permutations: int = 24, head=None, seed: int | None = 0, **task_kw):
        from ..pretext import JigsawTask

        task_kw.setdefault("tiles", False)  # the shuffled image, same shape as the input
        super().__init__(encoder, JigsawTask(grid=grid, n_permutations=n_permutations, **task_kw), head, seed=seed)
