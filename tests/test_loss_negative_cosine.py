"""Negative cosine similarity (SimSiam / BYOL)."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import pyssl
from pyssl.losses import NegativeCosineLoss, negative_cosine, symmetric_negative_cosine
from pyssl.testing import check_gradients, embeddings


def reference(p, z):
    """SimSiam eq. (1): D(p, z) = −(p/‖p‖)·(z/‖z‖), averaged over the batch."""
    return float(-np.mean(np.sum(p * z, 1) / (np.linalg.norm(p, axis=1) * np.linalg.norm(z, axis=1))))


def test_matches_reference_and_byol_form(rng):
    p, z = rng.standard_normal((2, 7, 4))
    assert negative_cosine(p, z)[0] == pytest.approx(reference(p, z), rel=1e-13)
    # BYOL eq. (2): ‖p̂ − ẑ‖² = 2 − 2 cos
    pn = p / np.linalg.norm(p, axis=1, keepdims=True)
    zn = z / np.linalg.norm(z, axis=1, keepdims=True)
    byol = float(np.mean(np.sum((pn - zn) ** 2, axis=1)))
    loss, dp = negative_cosine(p, z, "byol")
    assert loss == pytest.approx(byol, rel=1e-12)
    np.testing.assert_allclose(dp, 2 * negative_cosine(p, z)[1], rtol=1e-13)


@given(pz=embeddings(min_n=2, max_n=12, min_d=1, max_d=5), form=st.sampled_from(["simsiam", "byol"]))
def test_gradients_fd(pz, form):
    n = pz.shape[0] // 2
    z = pz[n:2 * n]
    check_gradients(lambda a: negative_cosine(a, z, form), [pz[:n]])


def test_n1_d1_and_stop_gradient():
    p = np.array([[0.3]])
    z = np.array([[-2.0]])
    loss, dp = negative_cosine(p, z)
    assert loss == pytest.approx(1.0)
    np.testing.assert_allclose(dp, 0, atol=1e-15)  # d1: cos is ±1 everywhere, zero gradient


def test_symmetric_helper(rng):
    p1, z1, p2, z2 = rng.standard_normal((4, 5, 3))
    loss, dp1, dp2 = symmetric_negative_cosine(p1, z1, p2, z2)
    assert loss == pytest.approx(0.5 * (reference(p1, z2) + reference(p2, z1)), rel=1e-13)
    np.testing.assert_allclose(dp1, 0.5 * negative_cosine(p1, z2)[1])


def test_scale_invariance_and_float32(rng):
    p, z = rng.standard_normal((2, 40, 8))
    assert negative_cosine(3 * p, 0.1 * z)[0] == pytest.approx(negative_cosine(p, z)[0], rel=1e-12)
    l32, d32 = negative_cosine(p.astype(np.float32), z.astype(np.float32))
    l64, d64 = negative_cosine(p, z)
    assert l32 == pytest.approx(l64, rel=1e-5)
    np.testing.assert_allclose(d32, d64, atol=1e-6)


def test_bad_inputs(rng):
    p = rng.standard_normal((4, 3))
    with pytest.raises(ValueError, match="z must have the same shape as p"):
        negative_cosine(p, p[:, :2])
    with pytest.raises(ValueError, match="form must be one of"):
        negative_cosine(p, p, "simclr")
    with pytest.raises(ValueError, match="form must be one of"):
        NegativeCosineLoss("x")
    assert NegativeCosineLoss("byol")(p, p)[0] == pytest.approx(0.0, abs=1e-12)
