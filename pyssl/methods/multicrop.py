"""Multi-crop views (Caron et al., NeurIPS 2020, "Unsupervised Learning of Visual Features by
Contrasting Cluster Assignments", §3.2): a few global crops at full resolution and several small
local crops per image, used by SwAV and DINO.

The crops of one resolution run through the encoder as one batch (so its BatchNorm statistics are
those of that resolution, as in the official code), the features of all crops through the head.
"""
from __future__ import annotations

import numbers

import numpy as np

from .._seeding import derive_seed
from .._validation import check_scalar
from .base import backward_chain, forward_chain


def _scale_pair(v, name):
    try:
        lo, hi = (float(a) for a in v)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a (low, high) pair of area fractions, got {v!r}") from None
    if not 0 < lo <= hi <= 1:
        raise ValueError(f"{name} must satisfy 0 < low <= high <= 1, got {v!r}")
    return lo, hi


class MultiCrop:
    """``n_global`` global and ``n_local`` local views of a batch of images (N, C, H, W).

    Each crop is a random resized crop (area fraction in ``global_scale`` / ``local_scale``,
    aspect ratio in [3/4, 4/3]) resized to ``global_size`` (default H×W) or ``local_size``
    (default ⌈0.43·H⌉ × ⌈0.43·W⌉, SwAV's 96/224), then a horizontal flip with probability
    ``flip`` and brightness/contrast jitter. Defaults are SwAV's (2 × 224 at scale (0.14, 1),
    6 × 96 at scale (0.05, 0.14)); DINO uses (0.4, 1) and (0.05, 0.4).

    ``crops(X, seed) -> (globals, locals)``: lists of arrays; crop v draws from
    ``derive_seed(seed, v)`` (globals first), so a batch's crops are fixed by the step seed.

    Parameters
    ----------
    n_global, n_local : int
        Numbers of global (>= 1) and local (>= 0) crops.
    global_size, local_size : int or (int, int), optional
        Output sizes (defaults above).
    global_scale, local_scale : (float, float)
        Area fractions of the crops.
    flip : float
        Horizontal-flip probability.
    brightness, contrast : float
        Jitter strengths.
    """

    per_sample = True

    def __init__(self, n_global: int = 2, n_local: int = 6, global_size=None, local_size=None,
                 global_scale=(0.14, 1.0), local_scale=(0.05, 0.14), flip: float = 0.5,
                 brightness: float = 0.4, contrast: float = 0.4):
        self.n_global = int(check_scalar(n_global, "n_global", kind=numbers.Integral, low=1))
        self.n_local = int(check_scalar(n_local, "n_local", kind=numbers.Integral, low=0))
        if self.n_global + self.n_local < 2:
            raise ValueError(f"multi-crop needs at least 2 crops in all, got n_global={n_global}, n_local={n_local}")
        self.global_size, self.local_size = global_size, local_size
        self.global_scale = _scale_pair(global_scale, "global_scale")
        self.local_scale = _scale_pair(local_scale, "local_scale")
        self.flip = check_scalar(flip, "flip", low=0.0, high=1.0)
        self.brightness, self.contrast = brightness, contrast

    @property
    def n_crops(self) -> int:
        return self.n_global + self.n_local

    def _sizes(self, h, w):
        g = (h, w) if self.global_size is None else self.global_size
        loc = (max(1, int(np.ceil(h * 96 / 224))), max(1, int(np.ceil(w * 96 / 224)))) \
            if self.local_size is None else self.local_size
        return g, loc

    def crops(self, X, seed):
        from .. import pretext as P

        X = np.asarray(X)
        if X.ndim != 4:
            raise ValueError(f"MultiCrop expects images (N, C, H, W), got shape {X.shape}")
        gsize, lsize = self._sizes(X.shape[2], X.shape[3])
        out = []
        for v in range(self.n_crops):
            is_global = v < self.n_global
            t = P.Compose([P.RandomResizedCrop(size=gsize if is_global else lsize,
                                               scale=self.global_scale if is_global else self.local_scale),
                           P.HorizontalFlip(self.flip), P.ColorJitter(self.brightness, self.contrast)])
            out.append(np.ascontiguousarray(t(X, derive_seed(seed, v))))
        return out[:self.n_global], out[self.n_global:]

    def __repr__(self):
        return (f"MultiCrop(n_global={self.n_global}, n_local={self.n_local}, global_scale={self.global_scale}, "
                f"local_scale={self.local_scale})")


def check_multi_crop(multi_crop):
    if multi_crop is not None and not isinstance(multi_crop, MultiCrop):
        raise TypeError(f"multi_crop must be None or a pyssl.methods.MultiCrop, got {type(multi_crop).__name__}")
    return multi_crop


def forward_crops(method, encoder, head_chain, groups):
    """Encoder per resolution group (one batch per group), head on all crops' features.

    ``groups``: list of lists of crop arrays (same size within a group). Returns (outputs per
    crop, context for :func:`backward_crops`)."""
    feats, ectx, sizes = [], [], []
    for crops in groups:
        if not crops:
            continue
        f, c = encoder.forward(np.concatenate(crops))
        feats.append(f)
        ectx.append(c)
        sizes.append([a.shape[0] for a in crops])
    out, hctx = forward_chain(head_chain, np.concatenate(feats))
    bounds = np.cumsum([0] + [s for g in sizes for s in g])
    per_crop = [out[bounds[i]:bounds[i + 1]] for i in range(len(bounds) - 1)]
    return per_crop, (ectx, hctx, sizes, [f.shape[0] for f in feats])


def backward_crops(encoder, head_chain, grads, ctx):
    """Backward of :func:`forward_crops` from the gradients of each crop's output."""
    ectx, hctx, sizes, rows = ctx
    dfeat = backward_chain(head_chain, np.concatenate(grads), hctx, need_input_grad=True)
    start = 0
    for c, r in zip(ectx, rows):
        encoder.backward(np.ascontiguousarray(dfeat[start:start + r]), c, need_input_grad=False)
        start += r


def swav_multi_crop(scores, n_assign: int = 2, temperature: float = 0.1, epsilon: float = 0.05,
                    iterations: int = 3):
    r"""SwAV's multi-crop swapped prediction (Caron et al. 2020, eq. (1) and official
    ``main_swav.py``), codes from the first ``n_assign`` crops (the global ones):

    .. math::
        L = \frac{1}{A} \sum_{i < A} \frac{1}{V − 1} \sum_{v \ne i} −\frac1N \sum_n
            q_{i,n} \cdot \log \mathrm{softmax}(s_{v,n}/τ),\qquad q_i = \mathrm{sinkhorn}(s_i, ε)

    — each global crop's code is predicted from every other crop. This is the DINO pairing of
    :func:`pyssl.losses.dino` with teacher distributions q_i (passed as log q at temperature 1,
    centre 0), so one fused kernel computes it; with two crops it equals :func:`pyssl.losses.swav`.

    scores: sequence of V >= 2 arrays (N, K). Returns ``(loss, ds_0, ..., ds_{V−1})``.
    """
    from .. import losses

    scores = [np.ascontiguousarray(s) for s in scores]
    if len(scores) < 2:
        raise ValueError(f"swav_multi_crop needs at least 2 crops, got {len(scores)}")
    n_assign = int(check_scalar(n_assign, "n_assign", kind=numbers.Integral, low=1, high=len(scores)))
    S = np.stack(scores)
    tiny = np.finfo(S.dtype).tiny
    codes = np.stack([losses.sinkhorn(S[i], epsilon=epsilon, iterations=iterations) for i in range(n_assign)])
    teacher = np.log(np.maximum(codes, tiny)).astype(S.dtype)
    loss, dS = losses.dino(S, teacher, np.zeros(S.shape[2], S.dtype), student_temp=temperature, teacher_temp=1.0)
    return (loss, *[dS[v] for v in range(S.shape[0])])
