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
from .._registry import Registry
from .._validation import check_scalar, check_seed
from . import image as _im
from . import sequence as _seq
from . import table as _table
from . import tabular as _tab
from ._common import as_batch, derive_seed, positive_int, ratio as _ratio

__all__ = ["TRANSFORMS", "register_transform", "Transform", "Compose", "RandomApply", "MultiView", "Identity",
           "FeatureMask", "GaussianNoise",
           "ScarfCorruption", "Mixup", "SpanMask", "SequenceCrop", "Jitter", "Scaling",
           "SegmentPermutation", "TimeWarp", "TimeMask", "RandomRotation", "HorizontalFlip",
           "RandomResizedCrop", "ColorJitter", "GaussianBlur", "PatchMask", "sequence_views", "image_views",
           "default_views"]

#: name -> transform class (or view factory); ``data`` names the input it takes ("rows" (N, D),
#: "sequences" (N, C, T), "images" (N, C, H, W)) and ``example`` builds a small instance for the
#: contract checks (default: the class with its defaults). One line registers a new transform.
TRANSFORMS = Registry("transform")


#: ``@register_transform(name, data=..., example=...)``: :meth:`pyssl._registry.Registry.register` of ``TRANSFORMS``
register_transform = TRANSFORMS.register


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


def _set_table_layout(views, layout) -> None:
    """Hand ``layout`` to every transform inside ``views`` (through Compose, RandomApply and
    MultiView) that corrupts table columns (has ``set_table_layout``)."""
    if hasattr(views, "set_table_layout"):
        views.set_table_layout(layout)
    for child in getattr(views, "transforms", None) or ():
        _set_table_layout(child, layout)
    inner = getattr(views, "transform", None)  # RandomApply, MultiView
    if isinstance(inner, Transform) or hasattr(inner, "set_table_layout"):
        _set_table_layout(inner, layout)


@register_transform("compose", data="rows", example=lambda: Compose([FeatureMask(0.3), GaussianNoise(0.1)]))
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


@register_transform("random_apply", data="rows", example=lambda: RandomApply(GaussianNoise(0.5), p=0.5))
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


@register_transform("multi_view", data="rows", example=lambda: MultiView(FeatureMask(0.3), concat=True))
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


@register_transform("identity", data="rows")
class Identity(Transform):
    """The input unchanged, ``t(x, seed) -> x`` (methods whose pretext task makes its own inputs)."""

    def __call__(self, x, seed):
        return x


# --- domain-agnostic -----------------------------------------------------------------------------

@register_transform("feature_mask", data="rows")
class FeatureMask(Transform):
    """:func:`pyssl.pretext.mask_features` as a transform.

    ``ratio``: fraction of entries masked, in [0, 1]. ``fill``: value written into masked entries.
    """

    def __init__(self, ratio=0.15, fill=0.0):
        self.ratio, self.fill = _ratio(ratio), fill

    def __call__(self, x, seed):
        return _tab.mask_features(x, self.ratio, seed, self.fill)[0]


@register_transform("gaussian_noise", data="rows")
class GaussianNoise(Transform):
    """Additive Gaussian noise x + std·ε, ε ~ N(0, 1) (:func:`pyssl.pretext.gaussian_noise`).

    Parameters
    ----------
    std : float
        Standard deviation, >= 0.
    """

    def __init__(self, std=0.1):
        self.std = float(check_scalar(std, "std", low=0.0))

    def __call__(self, x, seed):
        return _tab.gaussian_noise(x, self.std, seed)


@register_transform("scarf_corruption", data="rows", example=lambda: ScarfCorruption(0.6, noise=0.1))
class ScarfCorruption(Transform):
    """SCARF corruption (Bahri et al., ICLR 2022): ``ratio`` of each row's features replaced by
    the same features of random rows of ``reference`` (their empirical marginals), then Gaussian
    noise of std ``noise`` (drawn from ``seed ^ 0x5DEECE66D``).

    Parameters
    ----------
    ratio : float
        Fraction of features corrupted, in [0, 1].
    reference : array (M, ...), optional
        Rows to draw from. Default: the training set passed to :meth:`fit` (methods call it in
        ``setup``), else the batch itself.
    noise : float
        Standard deviation of the added noise, >= 0.
    """

    def __init__(self, ratio=0.6, reference=None, noise=0.0):
        self.ratio = _ratio(ratio)
        self.noise = float(check_scalar(noise, "noise", low=0.0))
        self.reference = None if reference is None else as_batch(reference, "reference")
        self._fixed = reference is not None
        self._table_layout = None

    def set_table_layout(self, layout) -> None:
        """Corrupt whole table columns of packed mixed-type rows (a numeric value with its missing
        flag, or a category code) instead of single entries (:func:`pyssl.pretext.table_scarf_corrupt`);
        the noise then goes to the observed numeric values only. Methods call it in ``setup`` when
        the encoder is a :class:`pyssl.tables.TabularEncoder`.

        Parameters
        ----------
        layout : pyssl.tables.TableLayout or None
            The packing of the rows (``schema.layout``); None restores entry-wise corruption.
        """
        self._table_layout = layout

    @property
    def table_layout(self):
        """The table layout set by :meth:`set_table_layout` (None: entry-wise corruption)."""
        return getattr(self, "_table_layout", None)

    def fit(self, X):
        """Use the training set ``X`` as the reference (unless one was given at construction).

        Parameters
        ----------
        X : array (N, ...)
            The training set.
        """
        if not self._fixed:
            X = as_batch(X, "X")
            self.reference = X.reshape(X.shape[0], -1)
        return self

    @property
    def per_sample(self):
        return self.reference is not None  # against the batch itself, rows draw from each other

    def __call__(self, x, seed):
        x = as_batch(x)
        shape = x.shape
        x2 = np.ascontiguousarray(x.reshape(shape[0], -1))
        ref = x2 if self.reference is None else self.reference.reshape(self.reference.shape[0], -1)
        layout = getattr(self, "_table_layout", None)
        if layout is not None:
            out = _table.table_scarf_corrupt(x2, ref, layout, self.ratio, seed)[0]
            a = layout.n_numeric
            if self.noise > 0 and a > 0:  # categorical-only tables: no value to noise
                noisy = _tab.gaussian_noise(np.ascontiguousarray(out[:, :a]), self.noise,
                                            check_seed(seed) ^ 0x5DEECE66D)
                out[:, :a] = np.where(out[:, a:2 * a] > 0, out[:, :a], noisy)
            return out.reshape(shape)
        out = _tab.scarf_corrupt(x2, ref, self.ratio, seed)[0]
        if self.noise > 0:
            out = _tab.gaussian_noise(out, self.noise, check_seed(seed) ^ 0x5DEECE66D)
        return out.reshape(shape)


@register_transform("mixup", data="rows")
class Mixup(Transform):
    """Mixup within the batch (:func:`pyssl.pretext.mixup`); with ``positive_only`` λ ≥ ½, the
    DACL positive (Verma et al., ICML 2021).

    Parameters
    ----------
    alpha : float
        λ ~ Beta(α, α), α > 0.
    positive_only : bool
        Fold λ to max(λ, 1 − λ).
    """

    def __init__(self, alpha=1.0, positive_only=False):
        self.alpha = float(check_scalar(alpha, "alpha", low=0.0, low_inclusive=False))
        self.positive_only = bool(positive_only)

    per_sample = False  # partners are other rows of the batch

    def __call__(self, x, seed):
        return _tab.mixup(x, self.alpha, seed, self.positive_only)[0]


@register_transform("span_mask", data="rows")
class SpanMask(Transform):
    """None

    ``ratio``: fraction of the last axis masked as one span. ``fill``: value written into masked
    entries.
    """
    def __init__(self, ratio=0.15, fill=0.0):
        self.ratio, self.fill = _ratio(ratio), fill

    def __call__(self, x, seed):
        return _tab.span_mask(x, self.ratio, seed, self.fill)[0]


# --- sequences -------------------------------------------------------------------------------------

@register_transform("sequence_crop", data="sequences")
class SequenceCrop(Transform):
    """None

    ``scale``: range of the crop length as a fraction of T. ``size``: output length (None: T).
    """
    def __init__(self, scale=(0.5, 1.0), size=None):
        self.scale, self.size = scale, size

    def __call__(self, x, seed):
        return _seq.crop_resize(x, seed, self.scale, self.size)[0]


@register_transform("jitter", data="sequences")
class Jitter(Transform):
    """None

    ``sigma``: standard deviation of the random perturbation.
    """
    def __init__(self, sigma=0.03):
        self.sigma = sigma

    def __call__(self, x, seed):
        return _seq.jitter(x, self.sigma, seed)


@register_transform("scaling", data="sequences")
class Scaling(Transform):
    """None

    ``sigma``: standard deviation of the per-channel scale factor around 1.
    """
    def __init__(self, sigma=0.1):
        self.sigma = sigma

    def __call__(self, x, seed):
        return _seq.scaling(x, self.sigma, seed)


@register_transform("segment_permutation", data="sequences")
class SegmentPermutation(Transform):
    """None

    ``segments``: number of segments the time axis is cut into.
    """
    def __init__(self, segments=5):
        self.segments = segments

    def __call__(self, x, seed):
        return _seq.segment_permutation(x, self.segments, seed)[0]


@register_transform("time_warp", data="sequences")
class TimeWarp(Transform):
    """None

    ``sigma``: standard deviation of the random perturbation. ``knots``: knots of the smooth random
    warp.
    """
    def __init__(self, sigma=0.2, knots=4):
        self.sigma, self.knots = sigma, knots

    def __call__(self, x, seed):
        return _seq.time_warp(x, self.sigma, seed, self.knots)


@register_transform("time_mask", data="sequences")
class TimeMask(Transform):
    """None

    ``ratio``: fraction of the time steps masked. ``fill``: value written into masked entries.
    """
    def __init__(self, ratio=0.1, fill=0.0):
        self.ratio, self.fill = _ratio(ratio), fill

    def __call__(self, x, seed):
        return _seq.time_mask(x, self.ratio, seed, self.fill)[0]


# --- images ---------------------------------------------------------------------------------------

@register_transform("random_rotation", data="images")
class RandomRotation(Transform):
    """Rotate each image by k_i ~ U{0, 1, 2, 3} quarter turns (square images)."""

    def __call__(self, x, seed):
        x = as_batch(x, "images", ndim=4)
        k = _tab.random_integers(x.shape[0], 4, seed)
        return _im.rotate90(x, k)


@register_transform("horizontal_flip", data="images")
class HorizontalFlip(Transform):
    """None

    ``p``: probability of flipping each image.
    """
    def __init__(self, p=0.5):
        self.p = _ratio(p, "p")

    def __call__(self, x, seed):
        return _im.random_hflip(x, seed, self.p)[0]


@register_transform("random_resized_crop", data="images")
class RandomResizedCrop(Transform):
    """None

    ``size``: output (H, W) (None: the input's). ``scale``: range of the crop area as a fraction of
    the image. ``ratio``: range of the crop's aspect ratio.
    """
    def __init__(self, size=None, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3)):
        self.size, self.scale, self.ratio = size, scale, ratio

    def __call__(self, x, seed):
        return _im.random_resized_crop(x, seed, self.size, self.scale, self.ratio)[0]


@register_transform("color_jitter", data="images")
class ColorJitter(Transform):
    """None

    ``brightness``: β: brightness factor b ~ U[1 − β, 1 + β]. ``contrast``: γ: contrast factor c ~
    U[1 − γ, 1 + γ]. ``clip``: clip to [0, 1] after each step.
    """
    def __init__(self, brightness=0.4, contrast=0.4, clip=True):
        self.brightness, self.contrast, self.clip = brightness, contrast, clip

    def __call__(self, x, seed):
        return _im.color_jitter(x, seed, self.brightness, self.contrast, self.clip)[0]


@register_transform("gaussian_blur", data="images")
class GaussianBlur(Transform):
    """None

    ``kernel_size``: kernel width (int, or (kh, kw) for 2-D). ``sigma``: (low, high) range of the
    blur's standard deviation.
    """
    def __init__(self, kernel_size=3, sigma=(0.1, 2.0)):
        self.kernel_size, self.sigma = kernel_size, sigma

    def __call__(self, x, seed):
        return _im.gaussian_blur(x, seed, self.kernel_size, self.sigma)[0]


@register_transform("patch_mask", data="images")
class PatchMask(Transform):
    """None

    ``patch_size``: side of the square patches. ``ratio``: fraction of patches masked. ``fill``:
    value written into masked entries.
    """
    def __init__(self, patch_size=4, ratio=0.75, fill=0.0):
        self.patch_size, self.ratio, self.fill = patch_size, _ratio(ratio), fill

    def __call__(self, x, seed):
        return _im.patch_mask(x, self.patch_size, self.ratio, seed, self.fill)[0]


# --- default views per domain ----------------------------------------------------------------------

def sequence_views(crop_scale=(0.6, 1.0), jitter=0.03, scale=0.1, time_mask=0.15, p_mask=0.5, segments=4,
                   p_permute=0.0):
    """Time-series view for (N, C, T): random crop resized back to T, jitter, per-channel scaling,
    a masked time span (probability ``p_mask``) and optionally segment permutation (TS-TCC,
    Eldele et al. 2021; TF-C and the augmentations of Um et al. 2017).

    Parameters
    ----------
    crop_scale : (float, float)
        Range of the crop length as a fraction of T.
    jitter, scale : float
        Standard deviations of the additive jitter and of the per-channel scale.
    time_mask, p_mask : float
        Fraction of T masked, and the probability that a sample is masked.
    segments, p_permute : int, float
        Segments of the permutation, and its probability (0: never).
    """
    steps = [SequenceCrop(scale=crop_scale), Jitter(jitter), Scaling(scale), RandomApply(TimeMask(time_mask), p=p_mask)]
    if p_permute > 0:
        steps.append(RandomApply(SegmentPermutation(segments), p=p_permute))
    return Compose(steps)


def image_views(scale=(0.3, 1.0), flip=0.5, brightness=0.4, contrast=0.4):
    """Image view for (N, C, H, W): random resized crop (back to H×W), horizontal flip and
    brightness/contrast jitter (SimCLR's recipe without colour channels mixing).

    Parameters
    ----------
    scale : (float, float)
        Range of the crop area as a fraction of the image.
    flip : float
        Probability of a horizontal flip.
    brightness, contrast : float
        Strengths of the colour jitter.
    """
    return Compose([RandomResizedCrop(scale=scale), HorizontalFlip(flip), ColorJitter(brightness, contrast)])


register_transform("sequence_views", sequence_views, data="sequences", example=lambda: sequence_views(p_permute=0.5))
register_transform("image_views", image_views, data="images")


def default_views(ndim: int = 2):
    """The default view by input rank: SCARF corruption for (N, D) rows (Bahri et al., 2022),
    :func:`sequence_views` for (N, C, T) sequences, :func:`image_views` for (N, C, H, W) images.

    Parameters
    ----------
    ndim : int
        The rank of the training array.
    """
    if ndim == 3:
        return sequence_views()
    if ndim == 4:
        return image_views()
    return ScarfCorruption()
