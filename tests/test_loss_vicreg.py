"""VICReg: official formula (with the ½ on the variance term), finite differences."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import pyssl
from pyssl.losses import VICRegLoss, vicreg
from pyssl.testing import batches, check_gradients


def reference_vicreg(x, y, sim=25.0, var=25.0, cov=1.0, eps=1e-4, halve=True):
    """facebookresearch/vicreg main_vicreg.py forward (single process)."""
    n, d = x.shape
    repr_loss = np.mean((x - y) ** 2)
    x = x - x.mean(0)
    y = y - y.mean(0)
    std_x = np.sqrt(x.var(0, ddof=1) + eps)
    std_y = np.sqrt(y.var(0, ddof=1) + eps)
    f = 0.5 if halve else 1.0
    std_loss = f * np.mean(np.maximum(0, 1 - std_x)) + f * np.mean(np.maximum(0, 1 - std_y))
    cov_x = x.T @ x / (n - 1)
    cov_y = y.T @ y / (n - 1)
    off = lambda c: np.sum(c ** 2) - np.sum(np.diag(c) ** 2)
    cov_loss = off(cov_x) / d + off(cov_y) / d
    return sim * repr_loss + var * std_loss + cov * cov_loss, (repr_loss, std_loss, cov_loss)


def test_matches_reference(rng):
    z1 = rng.standard_normal((10, 6)) * 0.5
    z2 = z1 + 0.3 * rng.standard_normal((10, 6))
    z2[:, 0] *= 3  # one feature above the hinge
    loss, _, _, terms = vicreg(z1, z2, return_terms=True)
    ref, ref_terms = reference_vicreg(z1, z2)
    assert loss == pytest.approx(ref, rel=1e-12)
    np.testing.assert_allclose(terms, ref_terms, rtol=1e-12)
    for w in [(1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0), (2.0, 3.0, 5.0)]:
        assert vicreg(z1, z2, *w)[0] == pytest.approx(reference_vicreg(z1, z2, *w)[0], rel=1e-12)


def test_variance_term_is_half_of_solo_learn(rng):
    # solo-learn sums the two branches' hinge terms: twice the official (and our) value.
    z1, z2 = rng.standard_normal((2, 16, 4)) * 0.3
    _, _, _, terms = vicreg(z1, z2, return_terms=True)
    assert terms[1] == pytest.approx(0.5 * reference_vicreg(z1, z2, halve=False)[1][1], rel=1e-12)


@given(z=batches(min_n=4, max_n=12, min_d=1, max_d=5), scale=st.sampled_from([0.3, 1.0, 3.0]))
def test_gradients_fd(z, scale):
    n = z.shape[0] // 2
    z1, z2 = scale * z[:n], scale * z[n:2 * n]
    std = np.sqrt(np.concatenate([z1.var(0, ddof=1), z2.var(0, ddof=1)]) + 1e-4)
    if np.min(np.abs(std - 1)) < 1e-3:
        return  # the hinge's kink
    check_gradients(lambda a, b: (lambda r: (r[0], r[1:]))(vicreg(a, b)), [z1, z2])


def test_gradients_n2_d1():
    check_gradients(lambda a, b: (lambda r: (r[0], r[1:]))(vicreg(a, b)),
                    [np.array([[0.2], [0.9]]), np.array([[-0.4], [0.3]])])


def test_class_and_bad_inputs(rng):
    z = rng.standard_normal((4, 3))
    assert VICRegLoss(1.0, 2.0, 3.0)(z, z + 1)[0] == vicreg(z, z + 1, 1.0, 2.0, 3.0)[0]
    with pytest.raises(ValueError, match="at least 2 rows"):
        vicreg(z[:1], z[:1])
    with pytest.raises(ValueError, match="same shape"):
        vicreg(z, z[:3])
    with pytest.raises(ValueError, match="var_weight"):
        vicreg(z, z, var_weight=-1.0)
    with pytest.raises(ValueError, match="eps"):
        VICRegLoss(eps=0.0)


def test_wide_matches_reference(rng):
    # D >= 128 takes the blocked symmetric covariance path
    z1 = rng.standard_normal((12, 131)) * 0.3
    z2 = z1 + 0.1 * rng.standard_normal((12, 131))
    loss, g1, g2, terms = vicreg(z1, z2, return_terms=True)
    ref, ref_terms = reference_vicreg(z1, z2)
    assert loss == pytest.approx(ref, rel=1e-11)
    np.testing.assert_allclose(terms, ref_terms, rtol=1e-11)
    # gradient of the covariance term alone, analytically: 4/(D(N−1)) x offdiag(cov)
    x = z1 - z1.mean(0)
    cov = x.T @ x / 11
    np.fill_diagonal(cov, 0)
    np.testing.assert_allclose(vicreg(z1, z2, 0.0, 0.0, 1.0)[1], 4 / (131 * 11) * x @ cov, rtol=1e-9, atol=1e-15)
