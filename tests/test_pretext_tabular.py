"""Domain-agnostic pretext corruptions: exact checks against an independent numpy Philox4x32-10,
statistical bounds, SCARF/VIME/mixup invariants, thread bit-identity and input validation."""
import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

import pyssl.pretext as P
from pyssl import _core
from pyssl.testing import assert_seeded_and_thread_invariant, batches

M32 = np.uint64(0xFFFFFFFF)
TAG = {"mask": 1, "noise": 2, "scarf": 3, "vime": 4, "permutation": 9, "integers": 10}


def philox_words_ref(seed, stream, count):
    """Philox4x32-10 (Salmon et al. 2011) in numpy: words 0..count-1 of (seed, stream)."""
    nb = (count + 3) // 4
    ctr = np.arange(nb, dtype=np.uint64)
    c0, c1 = ctr & M32, ctr >> np.uint64(32)
    c2 = np.full(nb, stream & 0xFFFFFFFF, np.uint64)
    c3 = np.full(nb, stream >> 32, np.uint64)
    k0, k1 = seed & 0xFFFFFFFF, seed >> 32
    for _ in range(10):
        p0 = np.uint64(0xD2511F53) * c0
        p1 = np.uint64(0xCD9E8D57) * c2
        c0, c1, c2, c3 = ((p1 >> np.uint64(32)) ^ c1 ^ np.uint64(k0), p1 & M32,
                          (p0 >> np.uint64(32)) ^ c3 ^ np.uint64(k1), p0 & M32)
        k0, k1 = (k0 + 0x9E3779B9) & 0xFFFFFFFF, (k1 + 0xBB67AE85) & 0xFFFFFFFF
    return np.stack([c0, c1, c2, c3], axis=1).reshape(-1)[:count]


def normals_ref(seed, stream, count):
    """Normals 0..count-1 of (seed, stream) as the kernels draw them (Box–Muller, both branches:
    normals 2q and 2q+1 from words 2q (radius, top 24 bits) and 2q+1 (angle)), in float64."""
    w = philox_words_ref(seed, stream, count + count % 2).astype(np.float64)
    u1 = (np.floor(w[0::2] / 256) + 0.5) / 2**24
    theta = 2 * np.pi * np.floor(w[1::2] / 256) / 2**24
    r = np.sqrt(-2 * np.log(u1))
    return np.stack([r * np.cos(theta), r * np.sin(theta)], axis=1).reshape(-1)[:count]


def sid(tag, i):
    return (TAG[tag] << 40) | i


@pytest.mark.parametrize("seed,stream", [(0, 0), (12345, (3 << 40) | 17), (2**64 - 1, 2**63 + 11), (7, 2**32 - 1)])
@pytest.mark.parametrize("count", [1, 5, 64, 1027])
def test_philox_matches_numpy_reference(seed, stream, count):
    ref = philox_words_ref(seed, stream, count)
    for vec in (True, False):
        np.testing.assert_array_equal(_core.augment.philox_words(count, seed, stream, vec), ref.astype(np.uint32))


def test_philox_known_answer():
    # Random123 known-answer test for philox4x32-10 with zero counter and key.
    w = philox_words_ref(0, 0, 4)
    assert [hex(int(v)) for v in w] == ["0x6627e8d5", "0xe169c58d", "0xbc57ac4c", "0x9b00dbd8"]


@given(x=batches(min_n=1, max_n=6, min_d=1, max_d=40, dtype=np.float32), ratio=st.floats(0, 1),
       seed=st.integers(0, 2**64 - 1))
def test_mask_features_exact(x, ratio, seed):
    xm, m = P.mask_features(x, ratio, seed, fill=-7.0)
    assert xm.shape == x.shape and m.shape == x.shape and xm.dtype == x.dtype and m.dtype == x.dtype
    thr = 1 << 32 if ratio >= 1 else int(math.ldexp(ratio, 32))
    for i in range(x.shape[0]):
        want = philox_words_ref(seed, sid("mask", i), x.shape[1]).astype(np.int64) < thr
        np.testing.assert_array_equal(m[i], want.astype(np.float32))
    np.testing.assert_array_equal(xm, np.where(m == 1, np.float32(-7.0), x))


@pytest.mark.parametrize("ratio", [0.0, 0.15, 0.5, 0.9, 1.0])
def test_mask_ratio_within_binomial_bounds(ratio):
    x = np.ones((64, 500), np.float32)
    _, m = P.mask_features(x, ratio, 3)
    n = m.size
    assert abs(m.sum() - n * ratio) <= 5 * math.sqrt(n * ratio * (1 - ratio)) + 1e-9
    per_row = m.sum(axis=1)
    assert np.all(np.abs(per_row - 500 * ratio) <= 6 * math.sqrt(500 * ratio * (1 - ratio)) + 1e-9)


def test_mask_per_feature_fill_and_any_shape(rng):
    x = rng.standard_normal((5, 3, 4)).astype(np.float64)
    fill = rng.standard_normal((3, 4))
    xm, m = P.mask_features(x, 0.5, 1, fill=fill)
    assert xm.dtype == np.float64 and m.shape == x.shape
    np.testing.assert_array_equal(xm, np.where(m == 1, np.broadcast_to(fill, x.shape), x))


def test_gaussian_noise_matches_box_muller_reference(rng):
    x = rng.standard_normal((3, 37)).astype(np.float32)
    seed, std = 99, 0.5
    y = P.gaussian_noise(x, std, seed)
    for i in range(3):
        z = normals_ref(seed, sid("noise", i), 37)
        np.testing.assert_allclose(y[i], x[i] + std * z, rtol=2e-6, atol=2e-6)


def test_gaussian_noise_moments():
    z = P.gaussian_noise(np.zeros((400, 500), np.float32), 1.0, 5).astype(np.float64)
    n = z.size
    assert abs(z.mean()) < 5 / math.sqrt(n)
    assert abs(z.var() - 1) < 5 * math.sqrt(2 / n)
    assert abs((z**4).mean() - 3) < 0.05
    assert abs(np.mean(z[:, ::2] * z[:, 1::2])) < 5 / math.sqrt(n / 2)  # cos/sin branches uncorrelated


@given(x=batches(min_n=1, max_n=6, min_d=1, max_d=30), ratio=st.floats(0, 1), seed=st.integers(0, 2**32))
def test_scarf_exact_count_and_same_feature(x, ratio, seed):
    n, d = x.shape
    ref = np.arange(11 * d, dtype=np.float64).reshape(11, d) + 0.5  # unique values: row r, feature j
    xc, m = P.scarf_corrupt(x, ref, ratio, seed)
    k = max(1, math.floor(ratio * d))
    np.testing.assert_array_equal(m.sum(axis=1), np.full(n, k))
    np.testing.assert_array_equal(xc[m == 0], x[m == 0])
    rows, cols = np.nonzero(m)
    vals = xc[rows, cols]
    src_row, src_col = np.divmod(vals - 0.5, d)
    np.testing.assert_array_equal(src_col, cols)  # value of the same feature ...
    assert np.all((src_row >= 0) & (src_row < 11))  # ... from some reference row


@given(n=st.integers(1, 5), d=st.integers(1, 40), n_ref=st.integers(1, 9), ratio=st.floats(0, 1),
       seed=st.integers(0, 2**64 - 1))
def test_scarf_matches_numpy_fisher_yates_reference(n, d, n_ref, ratio, seed):
    """Exact draws: words [0, k) drive a partial Fisher–Yates over the features, word k + t picks
    the reference row for the t-th chosen feature; integers by multiply-shift ⌊w·m / 2^32⌋."""
    g = np.random.default_rng(seed % 2**32)
    x = g.standard_normal((n, d))
    ref = g.standard_normal((n_ref, d))
    xc, m = P.scarf_corrupt(x, ref, ratio, seed)
    k = max(1, math.floor(ratio * d))
    want = x.copy()
    for i in range(n):
        w = [int(v) for v in philox_words_ref(seed, sid("scarf", i), 2 * k)]
        idx = list(range(d))
        for t in range(k):
            j = t + ((w[t] * (d - t)) >> 32)
            idx[t], idx[j] = idx[j], idx[t]
        for t in range(k):
            want[i, idx[t]] = ref[(w[k + t] * n_ref) >> 32, idx[t]]
    np.testing.assert_array_equal(xc, want)


def test_scarf_choices_are_uniform():
    n, d, k = 3000, 10, 3
    x = np.zeros((n, d), np.float32)
    ref = np.tile(np.arange(4, dtype=np.float32)[:, None] + 1, (1, d))
    xc, m = P.scarf_corrupt(x, ref, 0.3, 7)
    counts = m.sum(axis=0)
    assert np.all(np.abs(counts - n * k / d) < 5 * math.sqrt(n * k / d))
    vals = xc[m == 1]
    for v in range(1, 5):
        assert abs((vals == v).mean() - 0.25) < 0.03


def test_vime_label_and_marginal(rng):
    x = rng.standard_normal((40, 7)).astype(np.float32)
    xt, m = P.vime_corrupt(x, 0.3, 4)
    np.testing.assert_array_equal(m, (xt != x).astype(np.float32))
    for j in range(7):
        assert np.isin(xt[:, j], x[:, j]).all()
    assert 0.15 < m.mean() < 0.4


@pytest.mark.parametrize("alpha", [0.2, 1.0, 4.0])
def test_mixup_formula_and_beta_moments(alpha, rng):
    x = rng.standard_normal((4000, 3))
    y, lam, partner = P.mixup(x, alpha, 11)
    np.testing.assert_allclose(y, lam[:, None] * x + (1 - lam[:, None]) * x[partner], rtol=1e-12, atol=1e-12)
    assert np.all(partner != np.arange(4000))
    var = 1 / (4 * (2 * alpha + 1))  # Beta(α, α)
    assert abs(lam.mean() - 0.5) < 5 * math.sqrt(var / 4000)
    assert abs(lam.var() - var) < 0.15 * var
    _, lam_d, _ = P.dacl_mixup(x, alpha, 11)
    np.testing.assert_allclose(lam_d, np.maximum(lam, 1 - lam))


def test_span_mask_contiguous(rng):
    x = rng.standard_normal((20, 2, 30)).astype(np.float32)
    xm, m = P.span_mask(x, 0.2, 3, fill=9.0)
    for i in range(20):
        np.testing.assert_array_equal(m[i, 0], m[i, 1])
        idx = np.nonzero(m[i, 0])[0]
        assert len(idx) == 6 and np.all(np.diff(idx) == 1)
    np.testing.assert_array_equal(xm, np.where(m == 1, 9.0, x))


def test_feature_subsets_overlap(rng):
    x = rng.standard_normal((5, 20))
    views, cols = P.feature_subsets(x, 4, 0.75)
    assert [len(c) for c in cols] == [8, 11, 11, 8]
    for v, c in zip(views, cols):
        np.testing.assert_array_equal(v, x[:, c])
    assert set(np.concatenate(cols)) == set(range(20))
    views2, cols2 = P.feature_subsets(x, 4, 0.75, seed=3)
    assert set(np.concatenate(cols2)) == set(range(20)) and not np.array_equal(np.concatenate(cols2), np.concatenate(cols))


def test_shuffle_tokens_moves_exactly_the_chosen(rng):
    x = rng.standard_normal((6, 20, 3))
    xs, z = P.shuffle_tokens(x, 0.15, 8)
    assert z.shape == (6, 20)
    np.testing.assert_array_equal(z.sum(axis=1), np.full(6, 3))
    for i in range(6):
        sel = np.nonzero(z[i])[0]
        np.testing.assert_array_equal(xs[i, z[i] == 0], x[i, z[i] == 0])
        assert not np.any(np.all(xs[i, sel] == x[i, sel], axis=1))  # every chosen token moved
        np.testing.assert_array_equal(xs[i, sel], x[i, np.roll(sel, -1)])


def test_permutations_and_integers():
    p = P.random_permutations(50, 9, 1)
    assert np.all(np.sort(p, axis=1) == np.arange(9))
    z = P.random_integers(2000, 4, 2)
    assert z.min() == 0 and z.max() == 3 and np.all(np.abs(np.bincount(z) - 500) < 100)
    w = philox_words_ref(2, sid("integers", 5), 1)[0]
    assert z[5] == (int(w) * 4) >> 32


THREAD_CASES = {
    "mask": lambda x, s: P.mask_features(x, 0.3, s),
    "noise": lambda x, s: P.gaussian_noise(x, 0.2, s),
    "scarf": lambda x, s: P.scarf_corrupt(x, x, 0.4, s),
    "vime": lambda x, s: P.vime_corrupt(x, 0.3, s),
    "mixup": lambda x, s: P.mixup(x, 0.4, s),
    "span": lambda x, s: P.span_mask(x, 0.3, s),
    "tokens": lambda x, s: P.shuffle_tokens(x.reshape(x.shape[0], 64, -1), 0.2, s),
}


@pytest.mark.parametrize("name", sorted(THREAD_CASES))
def test_seeded_and_thread_invariant(name, rng):
    assert_seeded_and_thread_invariant(THREAD_CASES[name], rng.standard_normal((96, 2048)).astype(np.float32))


@pytest.mark.parametrize("call,err,match", [
    (lambda x: P.mask_features(x, 1.5, 0), ValueError, "ratio"),
    (lambda x: P.mask_features(x, -0.1, 0), ValueError, "ratio"),
    (lambda x: P.mask_features(x[0], 0.1, 0), ValueError, "at least 2 dimensions"),
    (lambda x: P.mask_features(x[:0], 0.1, 0), ValueError, "empty"),
    (lambda x: P.mask_features(x, 0.1, -1), ValueError, "seed"),
    (lambda x: P.mask_features(x, 0.1, 2**64), ValueError, "seed"),
    (lambda x: P.mask_features(x, 0.1, 1.5), TypeError, "seed"),
    (lambda x: P.mask_features(x, 0.1, 0, fill=np.zeros(3)), ValueError, "fill"),
    (lambda x: P.gaussian_noise(x, -1.0, 0), ValueError, "std"),
    (lambda x: P.scarf_corrupt(x, x[:, :3], 0.5, 0), ValueError, "reference"),
    (lambda x: P.scarf_corrupt(x, x, 2.0, 0), ValueError, "ratio"),
    (lambda x: P.mixup(x, 0.0, 0), ValueError, "alpha"),
    (lambda x: P.span_mask(x[:, :, None, None], 0.1, 0), ValueError, r"\(N, D\) or \(N, C, T\)"),
    (lambda x: P.shuffle_tokens(x, 0.1, 0), ValueError, "3-D"),
    (lambda x: P.feature_subsets(x, 9), ValueError, "n_subsets"),
    (lambda x: P.vime_corrupt(x, 1.1, 0), ValueError, "p_m"),
])
def test_invalid_inputs(call, err, match):
    x = np.ones((4, 5), np.float32)
    with pytest.raises(err, match=match):
        call(x)


def test_non_finite_values_pass_through_in_place():
    x = np.array([[np.nan, 1.0, np.inf, 2.0]] * 3, np.float32)
    xm, m = P.mask_features(x, 0.5, 1)
    keep = m == 0
    np.testing.assert_array_equal(xm[keep], x[keep])
    assert np.all(np.isfinite(P.gaussian_noise(x, 1.0, 0)[:, [1, 3]]))


def test_kernel_rechecks_in_binding():
    with pytest.raises(ValueError, match="ratio"):
        _core.augment.mask_features(np.ones((2, 2), np.float32), 2.0, 0)
    with pytest.raises(TypeError, match="float32 or float64"):
        _core.augment.gaussian_noise(np.ones((2, 2), np.int32), 1.0, 0)
    with pytest.raises(ValueError, match="C-contiguous"):
        _core.augment.gaussian_noise(np.ones((4, 4), np.float32)[:, ::2], 1.0, 0)
