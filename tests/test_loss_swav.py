"""SwAV: Sinkhorn-Knopp codes (official algorithm) and the swapped-prediction loss."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import pyssl
from pyssl.losses import SwAVLoss, sinkhorn, swav
from pyssl.testing import batches, numerical_gradient


def reference_sinkhorn(out, epsilon=0.05, iterations=3):
    """facebookresearch/swav main_swav.py distributed_sinkhorn (one process), in float64."""
    Q = np.exp(out / epsilon).T
    B, K = Q.shape[1], Q.shape[0]
    Q = Q / Q.sum()
    for _ in range(iterations):
        Q = Q / Q.sum(axis=1, keepdims=True)
        Q = Q / K
        Q = Q / Q.sum(axis=0, keepdims=True)
        Q = Q / B
    return (Q * B).T


def log_softmax(x):
    m = x.max(axis=1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=1, keepdims=True))


def reference_swav_fixed_codes(s1, s2, q1, q2, t):
    return float(-0.5 * (np.mean(np.sum(q2 * log_softmax(s1 / t), 1)) + np.mean(np.sum(q1 * log_softmax(s2 / t), 1))))


def test_sinkhorn_matches_official(rng):
    s = rng.uniform(-1, 1, (12, 7))
    for eps, it in [(0.05, 3), (0.1, 1), (0.5, 10)]:
        np.testing.assert_allclose(sinkhorn(s, eps, it), reference_sinkhorn(s, eps, it), rtol=1e-12, atol=1e-300)


def test_sinkhorn_log_domain_path_matches_official(rng):
    # A sample whose scores sit 25 below everyone else's: exp((s - max)/0.05) ~ 1e-217 is below
    # the multiplicative path's floor, so the log-domain path runs; the official float64 code is
    # still exact here (its exp(s/ε) stays in range).
    s = rng.uniform(-1, 1, (10, 6))
    s[3] -= 25.0
    np.testing.assert_allclose(sinkhorn(s, 0.05, 3), reference_sinkhorn(s, 0.05, 3), rtol=1e-9, atol=1e-300)
    q32 = sinkhorn(s.astype(np.float32), 0.05, 3)  # float32 takes the log path earlier (1e-20 floor)
    np.testing.assert_allclose(q32, reference_sinkhorn(s, 0.05, 3), rtol=2e-4, atol=1e-30)


@given(s=batches(min_n=1, max_n=20, min_d=1, max_d=9), eps=st.sampled_from([0.05, 0.3, 1.0]))
def test_sinkhorn_marginals(s, eps):
    n, k = s.shape
    q = sinkhorn(s, eps, 3)
    # every sample's code sums to 1 (the last step normalises samples)
    np.testing.assert_allclose(q.sum(1), 1.0, rtol=1e-12)
    # Many iterations follow the official algorithm and drive every prototype's mass towards N / K.
    # How fast depends on the scores (a 4x4 example needed more than 500 iterations for 1e-6), so
    # the check is that the error shrinks with iterations or is already at the 1e-6 level.
    e = max(eps, 0.3)
    q = sinkhorn(s, e, 500)
    np.testing.assert_allclose(q, reference_sinkhorn(s, e, 500), rtol=1e-9, atol=1e-300)
    err500 = np.abs(q.sum(0) - n / k).max()
    err20 = np.abs(sinkhorn(s, e, 20).sum(0) - n / k).max()
    assert err500 <= 1e-6 * n / k or err500 < 0.5 * err20


def test_swav_matches_reference_and_fixed_code_gradients(rng):
    s1, s2 = rng.uniform(-1, 1, (2, 6, 5))
    t = 0.1
    q1, q2 = reference_sinkhorn(s1), reference_sinkhorn(s2)
    loss, d1, d2 = swav(s1, s2, t)
    assert loss == pytest.approx(reference_swav_fixed_codes(s1, s2, q1, q2, t), rel=1e-12)
    # no gradient flows through the codes: compare with differences of the loss at fixed codes
    a, b = s1.copy(), s2.copy()
    n1 = numerical_gradient(lambda: reference_swav_fixed_codes(a, b, q1, q2, t), a)
    n2 = numerical_gradient(lambda: reference_swav_fixed_codes(a, b, q1, q2, t), b)
    np.testing.assert_allclose(d1, n1, rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(d2, n2, rtol=1e-5, atol=1e-8)


@given(s=batches(min_n=2, max_n=16, min_d=2, max_d=6), t=st.sampled_from([0.05, 0.1, 1.0]))
def test_gradients_fd_fixed_codes(s, t):
    n = s.shape[0] // 2
    s1, s2 = s[:n].copy(), s[n:2 * n].copy()
    q1, q2 = sinkhorn(s1), sinkhorn(s2)
    _, d1, d2 = swav(s1, s2, t)
    n1 = numerical_gradient(lambda: reference_swav_fixed_codes(s1, s2, q1, q2, t), s1)
    np.testing.assert_allclose(d1, n1, rtol=1e-5, atol=1e-7)
    n2 = numerical_gradient(lambda: reference_swav_fixed_codes(s1, s2, q1, q2, t), s2)
    np.testing.assert_allclose(d2, n2, rtol=1e-5, atol=1e-7)


def test_class_and_bad_inputs(rng):
    s = rng.uniform(-1, 1, (4, 3))
    assert SwAVLoss(0.2, 0.1, 2)(s, s[::-1])[0] == swav(s, s[::-1], 0.2, 0.1, 2)[0]
    with pytest.raises(ValueError, match="same shape"):
        swav(s, s[:, :2])
    with pytest.raises(ValueError, match="epsilon"):
        swav(s, s, epsilon=0.0)
    with pytest.raises(ValueError, match="iterations"):
        sinkhorn(s, iterations=0)
    with pytest.raises(TypeError, match="iterations"):
        SwAVLoss(iterations=2.5)
    with pytest.raises(ValueError, match="at least 2 prototypes"):
        swav(s[:, :1], s[:, :1])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sinkhorn_of_huge_scores_is_finite_and_normalised(dtype, rng):
    s1 = (rng.standard_normal((300, 50)) * 1e4).astype(dtype)  # exp(s/ε) overflows any naive version
    q = sinkhorn(s1)
    assert np.isfinite(q).all()
    np.testing.assert_allclose(q.sum(1), 1.0, rtol=1e-5)
    loss, g1, _ = swav(s1, rng.standard_normal((300, 50)).astype(dtype), 0.01)
    assert np.isfinite(loss) and np.isfinite(g1).all() and g1.dtype == dtype
