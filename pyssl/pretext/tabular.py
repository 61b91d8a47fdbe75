"""Domain-agnostic corruptions: any batch (N, ...) is treated as N rows of D = size / N values.

All functions are pure: the result depends only on the inputs and ``seed`` (bit-identical for any
thread count), never on global state. Float32 and float64 inputs keep their dtype; other numeric
inputs are cast to float32.
"""
from __future__ import annotations

import math

import numpy as np

from .. import _core
from .._validation import check_scalar, check_seed, describe
from ._common import as_batch, non_negative, positive_int, ratio as _ratio

_A = _core.augment

__all__ = ["mask_features", "gaussian_noise", "scarf_corrupt", "vime_corrupt", "mixup", "dacl_mixup",
           "span_mask", "feature_subsets", "shuffle_tokens", "random_permutations", "random_integers"]


def mask_features(x, ratio, seed, fill=0.0):
    """Random feature masking: ``x̃ = m ⊙ fill + (1 − m) ⊙ x`` with ``m_ij ~ Bernoulli(ratio)``.

    Masked modeling on any domain (e.g. VIME's mask generator, Yoon et al. 2020, §4; MAE-style
    masking of features). Each entry is masked independently, so the number masked per row is
    Binomial(D, ratio).

    Parameters
    ----------
    x : array (N, ...)
    ratio : float in [0, 1], probability that an entry is masked.
    seed : int in [0, 2**64).
    fill : float, or array of one value per feature (shape ``x.shape[1:]``) — a per-feature
        mask token such as the feature means.

    Returns
    -------
    x_masked : array of x's shape and dtype.
    mask : array of x's shape and dtype, 1 where masked.
    """
    x = as_batch(x)
    r = _ratio(ratio)
    seed = check_seed(seed)
    if np.ndim(fill) == 0:
        fv = float(check_scalar(float(fill) if isinstance(fill, np.generic) else fill, "fill"))
        return _A.mask_features(x, r, seed, fv, None)
    f = np.ascontiguousarray(fill, dtype=x.dtype)
    if f.shape != x.shape[1:]:
        raise ValueError(f"fill must be a scalar or have shape x.shape[1:] = {x.shape[1:]}, got {describe(f)}")
    if not np.isfinite(f).all():
        raise ValueError("fill contains NaN or Inf")
    return _A.mask_features(x, r, seed, 0.0, f)


def gaussian_noise(x, std, seed):
    """Additive Gaussian noise ``x̃ = x + std · ε``, ε ~ N(0, I) (denoising autoencoders, Vincent
    et al. 2008; time-series jitter, Um et al. 2017).

    ε is drawn by Box–Muller from the sample's Philox stream in float precision (24-bit uniforms,
    polynomial log/sin/cos accurate to about 1 ulp). Returns an array of x's shape and dtype.

    ``seed``: seed of the random draws (a non-negative int): the result depends on it alone, not on
    the thread count.
    """
    x = as_batch(x)
    std = non_negative(std, "std")
    # |ε| < 6 (Box–Muller from 24-bit uniforms): a larger std could overflow x's dtype
    limit = float(np.finfo(x.dtype).max) / 8
    if std > limit:
        raise ValueError(f"The 'std' parameter must be <= {limit:.3g} for {x.dtype} inputs (x + std·ε overflows "
                         f"beyond), got {std!r}; pass float64 inputs or a smaller std")
    return _A.gaussian_noise(x, std, check_seed(seed))


def scarf_corrupt(x, reference, ratio, seed):
    """SCARF corruption (Bahri et al. 2022, "SCARF: Self-supervised contrastive learning using
    random feature corruption", §2).

    For each row, exactly ``k = max(1, ⌊ratio · D⌋)`` distinct features are chosen uniformly
    (partial Fisher–Yates); feature j is replaced by ``reference[r, j]`` with r uniform over the
    reference rows — a draw from feature j's empirical marginal. Convention: TabularS3L's exact
    count per row (pytorch-scarf instead masks each entry independently).

    Parameters
    ----------
    x : array (N, ...); reference : array (R, ...) with the same feature shape (often the
        training set or x itself); ratio : float in [0, 1]; seed : int.

    Returns
    -------
    x_corrupt : array of x's shape and dtype; mask : same shape, 1 where replaced.
    """
    x = as_batch(x)
    ref = as_batch(reference, "reference", min_ndim=x.ndim)
    if ref.shape[1:] != x.shape[1:]:
        raise ValueError(f"reference must have x's feature shape {x.shape[1:]}, got {describe(ref)}")
    if ref.dtype != x.dtype:
        ref = ref.astype(x.dtype)
    d = x.size // x.shape[0]
    k = max(1, int(math.floor(_ratio(ratio) * d)))
    return _A.scarf_corrupt(x, ref, min(k, d), check_seed(seed))


def vime_corrupt(x, p_m, seed):
    """VIME mask-and-swap corruption (Yoon et al. 2020, "VIME", §4.1).

    ``m_ij ~ Bernoulli(p_m)``; ``x̄_ij = x[r_ij, j]`` with r_ij uniform over the batch rows (a draw
    from the empirical marginal of feature j, as the authors' per-column shuffle);
    ``x̃ = (1 − m) ⊙ x + m ⊙ x̄``. Returns ``(x̃, m_new)`` with VIME's label ``m_new = 1[x̃ ≠ x]``
    (an entry swapped with an equal value is not counted as corrupted).

    ``seed``: seed of the random draws (a non-negative int): the result depends on it alone, not on
    the thread count.
    """
    x = as_batch(x)
    return _A.vime_corrupt(x, _ratio(p_m, "p_m"), check_seed(seed))


def mixup(x, alpha, seed, positive_only=False):
    """Mixup within the batch (Zhang et al. 2018): ``x̃_i = λ_i x_i + (1 − λ_i) x_{p_i}``.

    ``λ_i ~ Beta(α, α)`` drawn exactly as G₁/(G₁ + G₂) with G ~ Gamma(α) (Marsaglia–Tsang
    rejection; Gamma(α) = Gamma(α + 1)·U^{1/α} for α < 1); the partner p_i is uniform over the
    other rows (p_i = i only when N = 1). With ``positive_only`` λ ← max(λ, 1 − λ), so x̃_i stays
    closest to x_i — the mixup positives of DACL (Verma et al. 2021).

    Returns ``(x_mixed, lam (N,), partner (N,) int64)``.

    ``alpha``: beta(α, α) parameter of the mixing weight λ, α > 0. ``seed``: seed of the random
    draws (a non-negative int): the result depends on it alone, not on the thread count.
    """
    x = as_batch(x)
    a = float(check_scalar(alpha, "alpha", low=0.0, low_inclusive=False))
    return _A.mixup(x, a, bool(positive_only), check_seed(seed))


def dacl_mixup(x, alpha, seed):
    """DACL positive: :func:`mixup` with λ ← max(λ, 1 − λ) (Verma et al. 2021, §3).

    ``x``: batch (N, ...). ``alpha``: beta(α, α) parameter of the mixing weight λ, α > 0. ``seed``:
    seed of the random draws (a non-negative int): the result depends on it alone, not on the thread
    count.
    """
    return mixup(x, alpha, seed, positive_only=True)


def span_mask(x, ratio, seed, fill=0.0):
    """Contiguous span masking along the last axis.

    For (N, D) rows or (N, C, T) sequences: one span of ``L = max(1, ⌊ratio · T⌋)`` consecutive
    steps (``L = 0`` when ratio = 0) starting at a uniform position is set to ``fill`` in every
    channel (time masking). Returns ``(x_masked, mask)``, mask 1 where masked.

    ``x``: rows (N, D) or sequences (N, C, T). ``seed``: seed of the random draws (a non-negative
    int): the result depends on it alone, not on the thread count.
    """
    x = as_batch(x)
    if x.ndim not in (2, 3):
        raise ValueError(f"x must be (N, D) or (N, C, T), got {describe(x)}")
    r = _ratio(ratio)
    t = x.shape[-1]
    span = 0 if r == 0 else max(1, int(math.floor(r * t)))
    return _A.span_mask(x, span, float(check_scalar(fill, "fill")), check_seed(seed))


def random_permutations(count, n, seed):
    """``count`` uniform permutations of 0..n−1, row r from stream (Permutation, r): (count, n) int64.

    ``seed``: seed of the random draws (a non-negative int): the result depends on it alone, not on
    the thread count.
    """
    return _A.permutations(positive_int(count, "count", low=0), positive_int(n, "n"), check_seed(seed))


def random_integers(count, high, seed):
    """``count`` integers uniform in [0, high), entry i from stream (Integers, i): (count,) int64.

    ``seed``: seed of the random draws (a non-negative int): the result depends on it alone, not on
    the thread count.
    """
    return _A.integers(positive_int(count, "count", low=0), positive_int(high, "high"), check_seed(seed))


def feature_subsets(x, n_subsets=4, overlap=0.75, seed=None):
    """SubTab feature subsets (Ucar et al. 2021, "SubTab", §3.1).

    Columns are split into ``K = n_subsets`` contiguous blocks of ``s = ⌊D/K⌋`` columns, each
    widened by ``o = ⌊overlap · s⌋`` columns on both sides where possible (the authors' code: first
    block [0, s + o), last [D − s − o, D), middle ones [i·s − o, (i+1)·s + o)). With ``seed`` the
    columns are first put in a random order (one permutation for the whole batch).

    Returns ``(views, columns)``: a list of K arrays (N, |S_k|) and the list of column indices.

    ``x``: rows (N, D).
    """
    x = as_batch(x, ndim=2)
    n, d = x.shape
    k = positive_int(n_subsets, "n_subsets")
    if k > d:
        raise ValueError(f"n_subsets ({k}) cannot exceed the number of features ({d})")
    ov = _ratio(overlap, "overlap")
    order = np.arange(d) if seed is None else random_permutations(1, d, seed)[0]
    s = d // k
    o = int(math.floor(ov * s))
    cols = []
    for i in range(k):
        lo = max(0, i * s - o)
        hi = d if i == k - 1 else min(d, (i + 1) * s + o)
        if i == k - 1:
            lo = max(0, min(lo, d - s - o))
        cols.append(order[lo:hi])
    return [np.ascontiguousarray(x[:, c]) for c in cols], cols


def shuffle_tokens(x, ratio, seed):
    """ShED shuffled-token corruption (DABS, Tamkin et al. 2021, "ShED").

    x is (N, L, D) tokens. Per sample ``m = ⌈ratio · L⌉`` positions are chosen uniformly; sorted as
    s_0 < … < s_{m−1}, position s_t receives the token from s_{(t+1) mod m} (a roll, so each chosen
    token moves when m ≥ 2; with m = 1 nothing moves and nothing is labelled).
    Returns ``(x_shuffled, z)`` with z (N, L) 1 at the moved positions.

    ``seed``: seed of the random draws (a non-negative int): the result depends on it alone, not on
    the thread count.
    """
    x = as_batch(x, ndim=3)
    l = x.shape[1]
    m = int(math.ceil(_ratio(ratio) * l))
    m = 0 if m < 2 else m
    return _A.shuffle_tokens(x, m, check_seed(seed))
