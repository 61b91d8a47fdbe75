"""Time-series transforms (N, C, T) against numpy references given the drawn parameters."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import pyssl.pretext as P
from pyssl.testing import assert_seeded_and_thread_invariant, sequences


def linear_resample_ref(row, start, length, t_out):
    src = np.maximum((np.arange(t_out) + 0.5) * length / t_out - 0.5, 0.0)
    i0 = np.minimum(np.floor(src).astype(int), length - 1)
    i1 = np.minimum(i0 + 1, length - 1)
    w = src - i0
    win = row[start:start + length]
    return (1 - w) * win[i0] + w * win[i1]


@given(x=sequences(dtype=np.float64), seed=st.integers(0, 2**32), size=st.integers(1, 40))
def test_crop_resize_matches_numpy(x, seed, size):
    y, win = P.crop_resize(x, seed, scale=(0.3, 1.0), size=size)
    n, c, t = x.shape
    assert y.shape == (n, c, size)
    for i in range(n):
        s, ln = win[i]
        assert 0 <= s and 1 <= ln and s + ln <= t
        for ch in range(c):
            np.testing.assert_allclose(y[i, ch], linear_resample_ref(x[i, ch], s, ln, size), rtol=1e-12, atol=1e-12)


def test_crop_resize_full_window_is_identity(rng):
    x = rng.standard_normal((3, 2, 17))
    y, win = P.crop_resize(x, 0, scale=(1.0, 1.0))
    np.testing.assert_array_equal(win, [[0, 17]] * 3)
    np.testing.assert_array_equal(y, x)


@given(x=sequences(), seed=st.integers(0, 2**32))
def test_scaling_one_factor_per_channel(x, seed):
    y = P.scaling(x, 0.2, seed)
    ratio = y / np.where(x == 0, 1, x)
    for i in range(x.shape[0]):
        for ch in range(x.shape[1]):
            r = ratio[i, ch][x[i, ch] != 0]
            if r.size:
                np.testing.assert_allclose(r, r[0], rtol=1e-5)


@given(x=sequences(min_t=4, max_t=30), m=st.integers(1, 4), seed=st.integers(0, 2**32))
def test_segment_permutation_matches_numpy(x, m, seed):
    y, perms = P.segment_permutation(x, m, seed)
    t = x.shape[2]
    bounds = [(k * t // m, (k + 1) * t // m) for k in range(m)]
    for i in range(x.shape[0]):
        assert sorted(perms[i]) == list(range(m))
        ref = np.concatenate([x[i, :, bounds[p][0]:bounds[p][1]] for p in perms[i]], axis=1)
        np.testing.assert_array_equal(y[i], ref)


def test_time_warp_identity_and_endpoints(rng):
    x = rng.standard_normal((4, 2, 50))
    np.testing.assert_allclose(P.time_warp(x, 0.0, 1), x, atol=1e-12)
    y = P.time_warp(x, 0.3, 1)
    np.testing.assert_allclose(y[:, :, 0], x[:, :, 0], atol=1e-12)
    np.testing.assert_allclose(y[:, :, -1], x[:, :, -1], atol=1e-9)
    assert not np.allclose(y, x)


def test_jitter_is_gaussian_noise_and_time_mask(rng):
    x = rng.standard_normal((4, 3, 20)).astype(np.float32)
    np.testing.assert_array_equal(P.jitter(x, 0.1, 5), P.gaussian_noise(x, 0.1, 5))
    xm, m = P.time_mask(x, 0.25, 5)
    assert np.all(m.sum(axis=2) == 5)


@pytest.mark.parametrize("name,f", [
    ("crop", lambda x, s: P.crop_resize(x, s)),
    ("scaling", lambda x, s: (P.scaling(x, 0.1, s),)),
    ("segments", lambda x, s: P.segment_permutation(x, 5, s)),
    ("warp", lambda x, s: (P.time_warp(x, 0.2, s),)),
])
def test_seeded_and_thread_invariant(name, f, rng):
    assert_seeded_and_thread_invariant(f, rng.standard_normal((64, 4, 512)).astype(np.float32))


@pytest.mark.parametrize("call,match", [
    (lambda x: P.crop_resize(x[0], 0), "3-D"),
    (lambda x: P.crop_resize(x, 0, scale=(0.0, 1.0)), "scale"),
    (lambda x: P.segment_permutation(x, 11, 0), "segments"),
    (lambda x: P.scaling(x, -0.1, 0), "sigma"),
    (lambda x: P.time_mask(x, 1.5, 0), "ratio"),
    (lambda x: P.jitter(x[:0], 0.1, 0), "empty"),
])
def test_invalid_inputs(call, match):
    x = np.ones((2, 3, 10), np.float32)
    with pytest.raises(ValueError, match=match):
        call(x)


@pytest.mark.parametrize("knots", [0, 1, 2, 4, 7])
def test_time_warp_matches_cubic_spline_reference(knots):
    """A ramp x[t] = t read at the warped positions gives the positions themselves; they must
    follow scipy's not-a-knot CubicSpline through the knot speeds drawn from the sample's stream."""
    interpolate = pytest.importorskip("scipy.interpolate")
    from test_pretext_tabular import normals_ref

    t, sigma, seed = 64, 0.4, 11
    x = np.tile(np.arange(t, dtype=np.float64), (3, 1, 1))
    y = P.time_warp(x, sigma, seed, knots=knots)
    nk = knots + 2
    for i in range(3):
        knots_y = 1 + sigma * normals_ref(seed, (15 << 40) | i, nk)
        u = np.arange(t) * (nk - 1) / (t - 1)
        if nk == 2:
            s = np.interp(u, [0, 1], knots_y)
        else:
            s = interpolate.CubicSpline(np.arange(nk), knots_y)(u)
        step = np.maximum(s, 0.1)
        pos = np.concatenate([[0.0], np.cumsum(step[:-1])])
        want = np.minimum(pos * (t - 1) / pos[-1], t - 1)
        np.testing.assert_allclose(y[i, 0], want, rtol=0, atol=2e-5)
