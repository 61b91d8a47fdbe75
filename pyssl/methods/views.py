"""Default view makers P: callables ``view(x, seed) -> x̃`` built on the pretext kernels.

Domain-agnostic methods default to SCARF-style corruption (Bahri et al., 2022): each view
replaces a fraction of each row's features by values of the same features drawn from other rows
of the training set, so the view stays on the data's marginals whatever the domain.
"""
from __future__ import annotations

import numpy as np

from .._validation import check_scalar


class ScarfView:
    """Replace ``ratio`` of each row's features by draws from the feature's empirical marginal
    (the training set passed to ``fit``), then add Gaussian noise of std ``noise``."""

    per_sample = True  # row i depends only on x_i and sample i's draws

    def __init__(self, ratio: float = 0.6, noise: float = 0.0):
        self.ratio = check_scalar(ratio, "ratio", low=0.0, high=1.0)
        self.noise = check_scalar(noise, "noise", low=0.0)
        self.reference = None
        self.table_layout = None

    def set_table_layout(self, layout) -> None:
        """Corrupt whole table columns of packed mixed-type rows (a numeric value with its missing
        flag, or a category code) instead of single entries (:func:`pyssl.pretext.table_scarf_corrupt`);
        noise then goes to the numeric values only. Methods call it for a table encoder."""
        self.table_layout = layout

    def fit(self, X):
        X = np.ascontiguousarray(X)
        if X.dtype not in (np.float32, np.float64):
            X = X.astype(np.float32)
        self.reference = X.reshape(X.shape[0], -1)
        return self

    def __call__(self, x, seed):
        from .. import pretext

        if self.reference is None:
            raise RuntimeError("ScarfView needs fit(X) with the training set before use")
        shape = x.shape
        x2 = np.ascontiguousarray(x.reshape(shape[0], -1))
        if self.table_layout is not None:
            out, _ = pretext.table_scarf_corrupt(x2, self.reference, self.table_layout, self.ratio, seed)
            if self.noise > 0:
                a = self.table_layout.n_numeric
                noisy = pretext.gaussian_noise(np.ascontiguousarray(out[:, :a]), self.noise, seed ^ 0x5DEECE66D)
                out[:, :a] = np.where(out[:, a:2 * a] > 0, out[:, :a], noisy)
            return out.reshape(shape)
        out, _ = pretext.scarf_corrupt(x2, self.reference, self.ratio, seed)
        if self.noise > 0:
            out = pretext.gaussian_noise(out, self.noise, seed ^ 0x5DEECE66D)
        return out.reshape(shape)


class MaskView:
    """Zero-mask ``ratio`` of the entries (any shape)."""

    per_sample = True  # row i depends only on x_i and sample i's draws

    def __init__(self, ratio: float = 0.3):
        self.ratio = check_scalar(ratio, "ratio", low=0.0, high=1.0)

    def __call__(self, x, seed):
        from .. import pretext

        return pretext.mask_features(x, self.ratio, seed)[0]


class NoiseView:
    """Additive Gaussian noise of standard deviation ``std``."""

    per_sample = True  # row i depends only on x_i and sample i's draws

    def __init__(self, std: float = 0.1):
        self.std = check_scalar(std, "std", low=0.0)

    def __call__(self, x, seed):
        from .. import pretext

        return pretext.gaussian_noise(x, self.std, seed)


class IdentityView:
    """The input unchanged, ``view(x, seed) -> x`` (methods whose pretext task makes its own inputs)."""

    per_sample = True  # row i depends only on x_i and sample i's draws

    def __call__(self, x, seed):
        return x


class MixupView:
    """DACL mixup positive: x̃ = λx + (1−λ)x′ with x′ another row of the batch and
    λ ~ Beta(α, α) folded to λ ≥ ½ (Verma et al., 2021)."""

    per_sample = False  # partners are other rows of the batch

    def __init__(self, alpha: float = 0.9):
        self.alpha = check_scalar(alpha, "alpha", low=0.0, low_inclusive=False)

    def __call__(self, x, seed):
        from .. import pretext

        return pretext.dacl_mixup(x, self.alpha, seed)[0]


def sequence_views(crop_scale=(0.6, 1.0), jitter=0.03, scale=0.1, time_mask=0.15, p_mask=0.5, segments=4,
                   p_permute=0.0):
    """Time-series view for (N, C, T): random crop resized back to T, jitter, per-channel scaling,
    a masked time span (probability ``p_mask``) and optionally segment permutation (TS-TCC,
    Eldele et al. 2021; TF-C and the augmentations of Um et al. 2017)."""
    from .. import pretext as P

    steps = [P.SequenceCrop(scale=crop_scale), P.Jitter(jitter), P.Scaling(scale),
             P.RandomApply(P.TimeMask(time_mask), p=p_mask)]
    if p_permute > 0:
        steps.append(P.RandomApply(P.SegmentPermutation(segments), p=p_permute))
    return P.Compose(steps)


def image_views(scale=(0.3, 1.0), flip=0.5, brightness=0.4, contrast=0.4):
    """Image view for (N, C, H, W): random resized crop (back to H×W), horizontal flip and
    brightness/contrast jitter (SimCLR's recipe without colour channels mixing)."""
    from .. import pretext as P

    return P.Compose([P.RandomResizedCrop(scale=scale), P.HorizontalFlip(flip),
                      P.ColorJitter(brightness, contrast)])
