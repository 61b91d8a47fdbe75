"""Pretext tasks P: unlabeled x and a seed -> (inputs x̃, pseudolabels z) (DESIGN.md, seed
Figures 1–2). Each task names what a method needs to be assembled without glue code:

* ``generate(x, seed) -> (inputs, z)``
* ``head_output_size(input_shape)`` — the width of the head k_γ's output (per token for ShED)
* ``loss`` — the name of the pyssl loss it pairs with ("cross_entropy", "mse", "masked_mse",
  "mask_bce", "nt_xent"); VIME pairs two, with ``loss_weights``.

Contrastive tasks return the views concatenated along the batch axis, view v in rows
[v·N, (v+1)·N), and z (V·N,) int64 = the source sample index: rows with equal z are positives.
Every random part uses ``derive_seed(seed, "<part>")`` (see pyssl/pretext/_common.py).
"""
from __future__ import annotations

import numpy as np

from .._registry import Registry
from .._validation import check_scalar, check_seed, describe
from . import image as _im
from . import tabular as _tab
from ._common import as_batch, as_images, derive_seed, positive_int, ratio as _ratio
from .compose import FeatureMask, MultiView, _check_transform

__all__ = ["TASKS", "register_task", "PretextTask", "RotationPredictionTask", "JigsawTask", "MaskedFeaturePrediction", "Denoising", "VIMETask",
           "InstanceDiscrimination", "SCARFTask", "DACLTask", "ShuffledTokenDetection"]


#: name -> pretext task class; ``data`` names its input ("rows" (N, D), "sequences" (N, C, T),
#: "images" (N, C, H, W), "tokens" (N, L, D)) and ``example`` builds a small instance (default:
#: the class with its defaults). Every entry is trained one step by the generic method in the
#: contract tests (tests/contracts/test_tasks.py); one line registers a new task.
TASKS = Registry("pretext task")


#: ``@register_task(name, data=..., example=...)``: :meth:`pyssl._registry.Registry.register` of ``TASKS``
register_task = TASKS.register


def _features(shape) -> int:
    shape = tuple(shape)
    if len(shape) < 2:
        raise ValueError(f"input_shape must be (N, ...) with at least one feature axis, got {shape}")
    return int(np.prod(shape[1:]))


def _instance_labels(n: int, views: int) -> np.ndarray:
    return np.tile(np.arange(n, dtype=np.int64), views)


class PretextTask:
    """Base class. ``loss`` names the pyssl loss; ``head_output_size(input_shape)`` its width."""

    loss: str | tuple = ""
    loss_weights: tuple | None = None

    def generate(self, x, seed):  # pragma: no cover - interface
        raise NotImplementedError

    def head_output_size(self, input_shape):  # pragma: no cover - interface
        raise NotImplementedError

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({args})"


@register_task("rotation_prediction", data="images")
class RotationPredictionTask(PretextTask):
    """RotNet (Gidaris et al. 2018): predict which of 4 quarter turns was applied.

    inputs: images rotated by k_i ~ U{0..3} (counter-clockwise, ``rotate90``); z = k_i (N,) int64.
    With ``all_rotations`` every image appears in all four rotations (the paper's training
    scheme): inputs (4N, C, H, W) with rotation r in rows [rN, (r+1)N), z = r.
    Head: 4 logits; loss "cross_entropy". Images must be square.
    """

    loss = "cross_entropy"

    def __init__(self, all_rotations=False):
        self.all_rotations = bool(all_rotations)

    def head_output_size(self, input_shape=None):
        return 4

    def generate(self, x, seed):
        x = as_images(x)
        if x.shape[2] != x.shape[3]:
            raise ValueError(f"RotationPredictionTask needs square images, got {describe(x)}; crop or resize first")
        seed = check_seed(seed)
        n = x.shape[0]
        if self.all_rotations:
            inputs = np.concatenate([_im.rotate90(x, r) for r in range(4)], axis=0)
            return inputs, np.repeat(np.arange(4, dtype=np.int64), n)
        k = _tab.random_integers(n, 4, derive_seed(seed, "rotation"))
        return _im._A.rotate90(x, k), k  # x and k already validated


@register_task("jigsaw", data="images", example=lambda: JigsawTask(grid=2, n_permutations=6))
class JigsawTask(PretextTask):
    """Jigsaw puzzles (Noroozi & Favaro 2016): predict which permutation of grid² tiles was applied.

    ``permutation_set``: (P, grid²) ints, or None for ``jigsaw_permutation_set(grid,
    n_permutations)``. inputs: tiles (N, grid², C, H/grid, W/grid) (``tiles=True``, the paper's
    siamese layout) or the shuffled images (N, C, H, W); z (N,) int64 in [0, P).
    Head: P logits; loss "cross_entropy".
    """

    loss = "cross_entropy"

    def __init__(self, grid=3, n_permutations=30, permutation_set=None, tiles=True):
        self.grid = positive_int(grid, "grid")
        if permutation_set is None:
            permutation_set = _im.jigsaw_permutation_set(self.grid, n_permutations)
        self.permutation_set = np.ascontiguousarray(permutation_set, dtype=np.int64)
        self.tiles = bool(tiles)

    def head_output_size(self, input_shape=None):
        return int(self.permutation_set.shape[0])

    def generate(self, x, seed):
        return _im.jigsaw(x, self.grid, self.permutation_set, derive_seed(check_seed(seed), "jigsaw"), self.tiles)


@register_task("masked_feature_prediction", data="rows")
class MaskedFeaturePrediction(PretextTask):
    """Masked modeling: reconstruct masked entries (MAE, He et al. 2022; masked features for any
    domain). inputs = mask_features(x, ratio, fill); z = (x, mask). Head: D outputs (x's feature
    count); loss "masked_mse" (error on masked entries only)."""

    loss = "masked_mse"

    def __init__(self, ratio=0.15, fill=0.0):
        self.ratio, self.fill = _ratio(ratio), fill

    def head_output_size(self, input_shape):
        return _features(input_shape)

    def generate(self, x, seed):
        x = as_batch(x)
        xm, mask = _tab.mask_features(x, self.ratio, derive_seed(check_seed(seed), "mask"), self.fill)
        return xm, (x, mask)


@register_task("denoising", data="rows")
class Denoising(PretextTask):
    """Denoising autoencoder (Vincent et al. 2008): inputs x + std·ε, z = x. Head: D outputs;
    loss "mse"."""

    loss = "mse"

    def __init__(self, std=0.1):
        self.std = float(check_scalar(std, "std", low=0.0))

    def head_output_size(self, input_shape):
        return _features(input_shape)

    def generate(self, x, seed):
        x = as_batch(x)
        return _tab.gaussian_noise(x, self.std, derive_seed(check_seed(seed), "noise")), x


@register_task("vime", data="rows")
class VIMETask(PretextTask):
    """VIME self-supervision (Yoon et al. 2020, §4.1): inputs x̃ = vime_corrupt(x, p_m); z =
    (m, x) — the mask vector (1[x̃ ≠ x]) and the original values. Two heads of D outputs each;
    losses ("mask_bce", "mse") weighted (1, alpha), alpha = 2.0 as the authors' code."""

    loss = ("mask_bce", "mse")

    def __init__(self, p_m=0.3, alpha=2.0):
        self.p_m = _ratio(p_m, "p_m")
        self.alpha = float(check_scalar(alpha, "alpha", low=0.0))
        self.loss_weights = (1.0, self.alpha)

    def head_output_size(self, input_shape):
        d = _features(input_shape)
        return (d, d)

    def generate(self, x, seed):
        x = as_batch(x)
        xt, m = _tab.vime_corrupt(x, self.p_m, derive_seed(check_seed(seed), "vime"))
        return xt, (m, x)


@register_task("instance_discrimination", data="rows",
               example=lambda: InstanceDiscrimination(FeatureMask(0.3), n_views=3, projection_dim=8))
class InstanceDiscrimination(PretextTask):
    """Instance discrimination with several views (SimCLR, Chen et al. 2020): inputs = V augmented
    views concatenated (V·N, ...), view v from ``derive_seed(seed, "view", v)``; z (V·N,) = sample
    index (rows with equal z belong together). Head: ``projection_dim``; loss "nt_xent".

    ``transform``: the augmentation ``t(x, seed) -> x̃`` each view applies. ``n_views``: V >= 2
    views per sample.
    """

    loss = "nt_xent"

    def __init__(self, transform, n_views=2, projection_dim=128):
        self.transform = _check_transform(transform)
        self.n_views = positive_int(n_views, "n_views", low=2)
        self.projection_dim = positive_int(projection_dim, "projection_dim")

    def head_output_size(self, input_shape=None):
        return self.projection_dim

    def generate(self, x, seed):
        x = as_batch(x)
        views = MultiView(self.transform, self.n_views).views(x, check_seed(seed))
        return np.concatenate(views, axis=0), _instance_labels(x.shape[0], self.n_views)


@register_task("scarf", data="rows", example=lambda: SCARFTask(projection_dim=8))
class SCARFTask(PretextTask):
    """SCARF (Bahri et al. 2022): the anchor x and its corruption scarf_corrupt(x, reference,
    ratio) form a positive pair. inputs (2N, ...) = [x; x̃]; z = sample index. ``reference``
    defaults to the batch itself. Head: ``projection_dim``; loss "nt_xent"."""

    loss = "nt_xent"

    def __init__(self, ratio=0.6, reference=None, projection_dim=128):
        self.ratio = _ratio(ratio)
        self.reference = None if reference is None else as_batch(reference, "reference")
        self.projection_dim = positive_int(projection_dim, "projection_dim")

    def head_output_size(self, input_shape=None):
        return self.projection_dim

    def generate(self, x, seed):
        x = as_batch(x)
        ref = x if self.reference is None else self.reference
        xc, _ = _tab.scarf_corrupt(x, ref, self.ratio, derive_seed(check_seed(seed), "scarf"))
        return np.concatenate([x, xc], axis=0), _instance_labels(x.shape[0], 2)


@register_task("dacl", data="rows", example=lambda: DACLTask(projection_dim=8))
class DACLTask(PretextTask):
    """DACL (Verma et al. 2021): two mixup positives per sample, λ ~ Beta(α, α) folded to
    λ ← max(λ, 1 − λ), view v from ``derive_seed(seed, "view", v)``. inputs (2N, ...); z = sample
    index. Head: ``projection_dim``; loss "nt_xent".

    ``alpha``: beta(α, α) parameter of the mixing weight λ, α > 0.
    """

    loss = "nt_xent"

    def __init__(self, alpha=1.0, projection_dim=128):
        self.alpha = float(check_scalar(alpha, "alpha", low=0.0, low_inclusive=False))
        self.projection_dim = positive_int(projection_dim, "projection_dim")

    def head_output_size(self, input_shape=None):
        return self.projection_dim

    def generate(self, x, seed):
        x = as_batch(x)
        seed = check_seed(seed)
        views = [_tab.dacl_mixup(x, self.alpha, derive_seed(seed, "view", v))[0] for v in range(2)]
        return np.concatenate(views, axis=0), _instance_labels(x.shape[0], 2)


@register_task("shuffled_token_detection", data="tokens", example=lambda: ShuffledTokenDetection(0.3))
class ShuffledTokenDetection(PretextTask):
    """ShED (DABS, Tamkin et al. 2021): ⌈ratio·L⌉ tokens of each (L, D) sequence are permuted among
    themselves (shuffle_tokens); predict per token whether it moved. inputs (N, L, D); z (N, L).
    Head: L logits, one per token (from the sequence's features); loss "mask_bce"."""

    loss = "mask_bce"

    def __init__(self, ratio=0.15):
        self.ratio = _ratio(ratio)

    def head_output_size(self, input_shape):
        shape = tuple(input_shape)
        if len(shape) != 3:
            raise ValueError(f"ShuffledTokenDetection needs (N, L, D) token batches, got input_shape {shape}")
        return int(shape[1])

    def generate(self, x, seed):
        return _tab.shuffle_tokens(x, self.ratio, derive_seed(check_seed(seed), "shed"))
