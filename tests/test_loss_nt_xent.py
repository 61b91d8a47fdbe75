"""NT-Xent (SimCLR): numpy reference from the paper, finite differences, closed forms, properties."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import pyssl
from pyssl.losses import NTXentLoss, nt_xent, sup_con
from pyssl.testing import check_gradients, embeddings


def reference_nt_xent(z1, z2, temperature):
    """SimCLR Algorithm 1, transcribed: l(i, j) = -log exp(s_ij/τ) / Σ_{k≠i} exp(s_ik/τ), mean of
    l(2k-1, 2k) + l(2k, 2k-1) over the N pairs."""
    z = np.concatenate([z1, z2]).astype(np.float64)
    n = z1.shape[0]
    zn = z / np.linalg.norm(z, axis=1, keepdims=True)
    s = zn @ zn.T / temperature
    total = 0.0
    for i in range(2 * n):
        j = (i + n) % (2 * n)
        others = [s[i, k] for k in range(2 * n) if k != i]
        total += -s[i, j] + np.log(np.sum(np.exp(others)))
    return total / (2 * n)


def _fun(t):
    def f(a, b):
        loss, g1, g2 = nt_xent(a, b, t)
        return loss, (g1, g2)
    return f


def test_matches_reference(rng):
    z1, z2 = rng.standard_normal((2, 7, 5))
    for t in (0.1, 0.5, 1.0):
        assert nt_xent(z1, z2, t)[0] == pytest.approx(reference_nt_xent(z1, z2, t), rel=1e-12)


@given(z=embeddings(min_n=4, max_n=10, min_d=1, max_d=5), t=st.sampled_from([0.05, 0.1, 0.5, 2.0]))
def test_gradients_fd(z, t):
    n = z.shape[0] // 2
    check_gradients(_fun(t), [z[:n], z[n:2 * n]], rtol=1e-5, atol=1e-7)


def test_gradients_n2_d1():
    z1 = np.array([[0.7], [-1.3]])
    z2 = np.array([[0.4], [2.0]])
    check_gradients(_fun(0.1), [z1, z2])


@pytest.mark.parametrize("n", [2, 3, 8, 33])
def test_collapsed_is_log_2n_minus_1(n):
    z = np.ones((n, 4))
    loss, g1, g2 = nt_xent(z, 3 * z, 0.1)
    assert loss == pytest.approx(np.log(2 * n - 1), rel=1e-12)
    np.testing.assert_allclose(g1, 0, atol=1e-12)


def test_symmetric(rng):
    z1, z2 = rng.standard_normal((2, 6, 3))
    l12, a1, a2 = nt_xent(z1, z2)
    l21, b2, b1 = nt_xent(z2, z1)
    assert l12 == pytest.approx(l21, rel=1e-13)
    np.testing.assert_allclose(a1, b1, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(a2, b2, rtol=1e-10, atol=1e-14)


def test_scale_invariant(rng):
    z1, z2 = rng.standard_normal((2, 6, 3))
    scales = rng.uniform(0.01, 100, (6, 1))
    assert nt_xent(z1 * scales, z2 * 7.0)[0] == pytest.approx(nt_xent(z1, z2)[0], rel=1e-12)


def test_equals_sup_con_with_pair_labels(rng):
    z1, z2 = rng.standard_normal((2, 5, 4))
    labels = np.concatenate([np.arange(5), np.arange(5)])
    loss, dz = sup_con(np.concatenate([z1, z2]), labels, 0.2)
    ref, g1, g2 = nt_xent(z1, z2, 0.2)
    assert loss == pytest.approx(ref, rel=1e-12)
    np.testing.assert_allclose(dz, np.concatenate([g1, g2]), rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_stability(dtype, rng):
    z1 = (rng.standard_normal((16, 8)) * 1e4).astype(dtype)
    z2 = (rng.standard_normal((16, 8)) * 1e4).astype(dtype)
    z1[3] = 0.0  # zero vector
    z2[5] = 0.0
    for t in (0.01, 0.1):
        loss, g1, g2 = nt_xent(z1, z2, t)
        assert np.isfinite(loss) and np.all(np.isfinite(g1)) and np.all(np.isfinite(g2))
        assert g1.dtype == dtype and g2.dtype == dtype
    # temperature 0.01 on unit vectors: logits up to 100
    u = rng.standard_normal((16, 8)).astype(dtype)
    loss, g1, g2 = nt_xent(u, u + dtype(0.01) * rng.standard_normal((16, 8)).astype(dtype), 0.01)
    assert np.isfinite(loss) and np.all(np.isfinite(g1))


def test_class(rng):
    z1, z2 = rng.standard_normal((2, 4, 3))
    loss = NTXentLoss(temperature=0.3)
    assert loss(z1, z2)[0] == nt_xent(z1, z2, 0.3)[0]
    assert "0.3" in repr(loss)


def test_bad_inputs(rng):
    z = rng.standard_normal((4, 3))
    with pytest.raises(ValueError, match="z2 must have the same shape as z1"):
        nt_xent(z, z[:3])
    with pytest.raises(ValueError, match="at least 2 rows"):
        nt_xent(z[:1], z[:1])
    with pytest.raises(ValueError, match="temperature.*> 0"):
        nt_xent(z, z, 0.0)
    with pytest.raises(ValueError, match="temperature.*> 0"):
        NTXentLoss(temperature=-1)
    with pytest.raises(ValueError, match="2-D"):
        nt_xent(z[0], z[0])
    with pytest.raises(ValueError, match="NaN"):
        nt_xent(np.full((4, 3), np.nan), z)
    with pytest.raises(TypeError, match="temperature"):
        nt_xent(z, z, "0.1")


def test_core_rechecks(rng):
    z = rng.standard_normal((4, 3))
    with pytest.raises(TypeError, match="dtype"):
        pyssl._core.losses.nt_xent(z, z.astype(np.float32), 0.1)
    with pytest.raises(ValueError, match="z2"):
        pyssl._core.losses.nt_xent(z, z[:2], 0.1)
    with pytest.raises(ValueError, match="temperature"):
        pyssl._core.losses.nt_xent(z, z, -0.5)


def test_torch_oracle(rng):
    torch = pytest.importorskip("torch")
    z1, z2 = rng.standard_normal((2, 9, 6))
    a = torch.tensor(z1, requires_grad=True)
    b = torch.tensor(z2, requires_grad=True)
    z = torch.nn.functional.normalize(torch.cat([a, b]), dim=1)
    s = z @ z.T / 0.1
    s = s.masked_fill(torch.eye(18, dtype=torch.bool), float("-inf"))
    target = torch.cat([torch.arange(9, 18), torch.arange(0, 9)])
    loss = torch.nn.functional.cross_entropy(s, target)
    loss.backward()
    ours, g1, g2 = nt_xent(z1, z2, 0.1)
    assert ours == pytest.approx(loss.item(), rel=1e-12)
    np.testing.assert_allclose(g1, a.grad.numpy(), rtol=1e-9, atol=1e-13)
    np.testing.assert_allclose(g2, b.grad.numpy(), rtol=1e-9, atol=1e-13)


@pytest.mark.parametrize("n", [67, 100])
def test_large_batch_matches_reference(n, rng):
    # 2N >= 128 takes the blocked symmetric Gram path (three GEMMs + a transposed copy)
    z1, z2 = rng.standard_normal((2, n, 6))
    assert nt_xent(z1, z2, 0.2)[0] == pytest.approx(reference_nt_xent(z1, z2, 0.2), rel=1e-11)
    small = nt_xent(z1[:20], z2[:20], 0.2)  # one-GEMM path, for the gradient formula
    assert small[0] == pytest.approx(reference_nt_xent(z1[:20], z2[:20], 0.2), rel=1e-11)


def test_large_batch_gradient_against_torch(rng):
    torch = pytest.importorskip("torch")
    z1, z2 = rng.standard_normal((2, 75, 5))
    a = torch.tensor(z1, requires_grad=True)
    b = torch.tensor(z2, requires_grad=True)
    z = torch.nn.functional.normalize(torch.cat([a, b]), dim=1)
    s = (z @ z.T / 0.1).masked_fill(torch.eye(150, dtype=torch.bool), float("-inf"))
    target = torch.cat([torch.arange(75, 150), torch.arange(0, 75)])
    torch.nn.functional.cross_entropy(s, target).backward()
    _, g1, g2 = nt_xent(z1, z2, 0.1)
    np.testing.assert_allclose(g1, a.grad.numpy(), rtol=1e-8, atol=1e-13)
    np.testing.assert_allclose(g2, b.grad.numpy(), rtol=1e-8, atol=1e-13)
