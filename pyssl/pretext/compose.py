"""Transform objects and composition: ``t(x, seed) -> x̃`` (the array only; auxiliary outputs
such as masks are dropped — use the functional form to get them).

Seeds for composed transforms are derived with :func:`pyssl.pretext.derive_seed` (see
``pyssl/pretext/_common.py``): Compose gives transform i ``derive_seed(seed, i)``; RandomApply
draws its per-sample decisions from ``derive_seed(seed, "apply")`` and runs its transform with
``derive_seed(seed, "inner")``; MultiView runs view v with ``derive_seed(seed, "view", v)``.
So views and composed steps are independent, and everything is fixed by the one user seed.
"""
from __future__ import annotations

import numpy as np

from .. import _core
from .._validation import check_seed
from . import image as _im
from . import sequence as _seq
from . import tabular as _tab
from ._common import as_batch, derive_seed, positive_int, ratio as _ratio

__all__ = ["Transform", "Compose", "RandomApply", "MultiView", "FeatureMask", "GaussianNoise",
           "ScarfCorruption", "Mixup", "SpanMask", "SequenceCrop", "Jitter", "Scaling",
           "SegmentPermutation", "TimeWarp", "TimeMask", "RandomRotation", "HorizontalFlip",
           "RandomResizedCrop", "ColorJitter", "GaussianBlur", "PatchMask"]


class Transform:
    """Base class: subclasses implement ``__call__(x, seed) -> array``.

    ``per_sample`` is True when output row i depends only on input row i and the draws of sample
    i (so rows [k, k + n) augmented alone under :func:`pyssl.pretext.sample_offset` (k) equal
    those rows of the whole batch's output); False for transforms that mix rows of the batch.
    """

    per_sample = True

    def __call__(self, x, seed):  # pragma: no cover - interface
        raise NotImplementedError

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({args})"


def _check_transform(t, name="transform"):
    if not callable(t):
        raise TypeError(f"{name} must be callable as t(x, seed), got {type(t).__name__}")
    return t


class Compose(Transform):
    """Apply transforms in order; transform i is called with ``derive_seed(seed, i)``."""

    def __init__(self, transforms):
        if isinstance(transforms, (str, bytes)) or not hasattr(transforms, "__iter__"):
            raise TypeError(f"transforms must be a list of transforms (callables x, seed -> x), got {transforms!r}")
        self.transforms = [_check_transform(t, f"transforms[{i}]") for i, t in enumerate(transforms)]

    def __call__(self, x, seed):
        seed = check_seed(seed)
        for i, t in enumerate(self.transforms):
            x = t(x, derive_seed(seed, i))
        return x

    @property
    def per_sample(self):
        return all(getattr(t, "per_sample", False) for t in self.transforms)


class RandomApply(Transform):
    """Apply ``transform`` to each sample with probability p (decided per sample: u_i < p with
    u_i uniform from stream (Uniform, i) of ``derive_seed(seed, "apply")``). The transform must
    keep the shape."""

    def __init__(self, transform, p=0.5):
        self.transform = _check_transform(transform)
        self.p = _ratio(p, "p")

    def __call__(self, x, seed):
        seed = check_seed(seed)
        x = as_batch(x)
        y = self.transform(x, derive_seed(seed, "inner"))
        if y.shape != x.shape:
            raise ValueError(f"RandomApply needs a shape-preserving transform; {self.transform!r} maps "
                             f"{x.shape} to {y.shape}")
        apply = _core.augment.uniforms(x.shape[0], derive_seed(seed, "apply")) < self.p
        return np.where(apply.reshape((-1,) + (1,) * (x.ndim - 1)), y, x)

    @property
    def per_sample(self):
        return getattr(self.transform, "per_sample", False)


class MultiView(Transform):
    """``n_views`` independently augmented views of the batch: view v = transform(x,
    derive_seed(seed, "view", v)). Returns a list of arrays, or one (n_views·N, ...) array with
    view v in rows [v·N, (v+1)·N) when ``concat``."""

    def __init__(self, transform, n_views=2, concat=False):
        self.transform = _check_transform(transform)
        self.n_views = positive_int(n_views, "n_views", low=2)
        self.concat = bool(concat)

    def views(self, x, seed):
        seed = check_seed(seed)
        return [self.transform(x, derive_seed(seed, "view", v)) for v in range(self.n_views)]

    def __call__(self, x, seed):
        views = self.views(x, seed)
        return np.concatenate(views, axis=0) if self.concat else views


# --- domain-agnostic -----------------------------------------------------------------------------

class FeatureMask(Transform):
    """:func:`pyssl.pretext.mask_features` as a transform."""

    def __init__(self, ratio=0.15, fill=0.0):
        self.ratio, self.fill = _ratio(ratio), fill

    def __call__(self, x, seed):
        return _tab.mask_features(x, self.ratio, seed, self.fill)[0]


class GaussianNoise(Transform):
    def __init__(self, std=0.1):
        self.std = std

    def __call__(self, x, seed):
        return _tab.gaussian_noise(x, self.std, seed)


class ScarfCorruption(Transform):
    """SCARF corruption against ``reference`` (default: the batch itself)."""

    def __init__(self, ratio=0.6, reference=None):
        self.ratio = _ratio(ratio)
        self.reference = None if reference is None else as_batch(reference, "reference")

    @property
    def per_sample(self):
        return self.reference is not None  # against the batch itself, rows draw from each other

    def __call__(self, x, seed):
        ref = x if self.reference is None else self.reference
        return _tab.scarf_corrupt(x, ref, self.ratio, seed)[0]


class Mixup(Transform):
    def __init__(self, alpha=1.0, positive_only=False):
        self.alpha, self.positive_only = alpha, bool(positive_only)

    per_sample = False  # partners are other rows of the batch

    def __call__(self, x, seed):
        return _tab.mixup(x, self.alpha, seed, self.positive_only)[0]


class SpanMask(Transform):
    def __init__(self, ratio=0.15, fill=0.0):
        self.ratio, self.fill = _ratio(ratio), fill

    def __call__(self, x, seed):
        return _tab.span_mask(x, self.ratio, seed, self.fill)[0]


# --- sequences -------------------------------------------------------------------------------------

class SequenceCrop(Transform):
    def __init__(self, scale=(0.5, 1.0), size=None):
        self.scale, self.size = scale, size

    def __call__(self, x, seed):
        return _seq.crop_resize(x, seed, self.scale, self.size)[0]


class Jitter(Transform):
    def __init__(self, sigma=0.03):
        self.sigma = sigma

    def __call__(self, x, seed):
        return _seq.jitter(x, self.sigma, seed)


class Scaling(Transform):
    def __init__(self, sigma=0.1):
        self.sigma = sigma

    def __call__(self, x, seed):
        return _seq.scaling(x, self.sigma, seed)


class SegmentPermutation(Transform):
    def __init__(self, segments=5):
        self.segments = segments

    def __call__(self, x, seed):
        return _seq.segment_permutation(x, self.segments, seed)[0]


class TimeWarp(Transform):
    def __init__(self, sigma=0.2, knots=4):
        self.sigma, self.knots = sigma, knots

    def __call__(self, x, seed):
        return _seq.time_warp(x, self.sigma, seed, self.knots)


class TimeMask(Transform):
    def __init__(self, ratio=0.1, fill=0.0):
        self.ratio, self.fill = _ratio(ratio), fill

    def __call__(self, x, seed):
        return _seq.time_mask(x, self.ratio, seed, self.fill)[0]


# --- images ---------------------------------------------------------------------------------------

class RandomRotation(Transform):
    """Rotate each image by k_i ~ U{0, 1, 2, 3} quarter turns (square images)."""

    def __call__(self, x, seed):
        x = as_batch(x, "images", ndim=4)
        k = _tab.random_integers(x.shape[0], 4, seed)
        return _im.rotate90(x, k)


class HorizontalFlip(Transform):
    def __init__(self, p=0.5):
        self.p = _ratio(p, "p")

    def __call__(self, x, seed):
        return _im.random_hflip(x, seed, self.p)[0]


class RandomResizedCrop(Transform):
    def __init__(self, size=None, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3)):
        self.size, self.scale, self.ratio = size, scale, ratio

    def __call__(self, x, seed):
        return _im.random_resized_crop(x, seed, self.size, self.scale, self.ratio)[0]


class ColorJitter(Transform):
    def __init__(self, brightness=0.4, contrast=0.4, clip=True):
        self.brightness, self.contrast, self.clip = brightness, contrast, clip

    def __call__(self, x, seed):
        return _im.color_jitter(x, seed, self.brightness, self.contrast, self.clip)[0]


class GaussianBlur(Transform):
    def __init__(self, kernel_size=3, sigma=(0.1, 2.0)):
        self.kernel_size, self.sigma = kernel_size, sigma

    def __call__(self, x, seed):
        return _im.gaussian_blur(x, seed, self.kernel_size, self.sigma)[0]


class PatchMask(Transform):
    def __init__(self, patch_size=4, ratio=0.75, fill=0.0):
        self.patch_size, self.ratio, self.fill = patch_size, _ratio(ratio), fill

    def __call__(self, x, seed):
        return _im.patch_mask(x, self.patch_size, self.ratio, seed, self.fill)[0]
