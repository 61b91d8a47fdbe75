"""Cross-entropy (with label smoothing) and MSE: values vs numpy references, analytic values,
finite-difference gradients, stability, thread independence, bad inputs."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import pyssl
from pyssl.nn import CrossEntropyLoss, MSELoss, cross_entropy, mse
from pyssl.testing import batches, check_gradients


def ce_ref(x, y, eps=0.0):
    """Σ_k −t_k log softmax(x)_k with t = (1−ε) onehot + ε/K (Szegedy et al. 2016; PyTorch)."""
    n, k = x.shape
    m = x.max(1, keepdims=True)
    logp = x - m - np.log(np.exp(x - m).sum(1, keepdims=True))
    t = (1 - eps) * np.eye(k)[y] + eps / k
    return float(-(t * logp).sum() / n), (np.exp(logp) - t) / n


@pytest.mark.parametrize("eps", [0.0, 0.1, 0.5, 1.0])
def test_cross_entropy_matches_numpy(eps, rng):
    x = rng.standard_normal((7, 5)) * 3
    y = rng.integers(0, 5, 7)
    loss, g = cross_entropy(x, y, label_smoothing=eps)
    loss_ref, g_ref = ce_ref(x, y, eps)
    assert isinstance(loss, float)
    assert loss == pytest.approx(loss_ref, rel=1e-12)
    np.testing.assert_allclose(g, g_ref, rtol=1e-10, atol=1e-15)


def test_cross_entropy_analytic_values():
    # Uniform logits: loss = log K whatever the labels and the smoothing.
    for eps in (0.0, 0.3):
        loss, g = cross_entropy(np.zeros((3, 8)), [0, 5, 7], label_smoothing=eps)
        assert loss == pytest.approx(np.log(8), rel=1e-14)
    # Confident correct prediction: loss → 0; with smoothing ε: → ε (K−1)/K · margin.
    x = np.array([[50.0, 0.0, 0.0]])
    assert cross_entropy(x, [0])[0] == pytest.approx(0, abs=1e-20)
    assert cross_entropy(x, [0], 0.3)[0] == pytest.approx(0.3 * 2 / 3 * 50, rel=1e-12)
    # Gradient rows sum to zero.
    _, g = cross_entropy(np.random.default_rng(0).standard_normal((4, 6)), [1, 2, 3, 0], 0.2)
    np.testing.assert_allclose(g.sum(1), 0, atol=1e-16)


@given(x=batches(min_n=1, max_n=6, min_d=1, max_d=6), seed=st.integers(0, 2**31),
       eps=st.sampled_from([0.0, 0.1, 0.7]))
def test_cross_entropy_gradients_fd(x, seed, eps):
    y = np.random.default_rng(seed).integers(0, x.shape[1], x.shape[0])
    check_gradients(lambda v: cross_entropy(v, y, eps), [x * 3])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_huge_logits_stable(dtype):
    x = np.array([[1e4, -1e4, 0.0], [0.0, 1e4, -1e4]], dtype=dtype)
    loss, g = cross_entropy(x, [1, 1], 0.1)
    assert np.isfinite(loss) and np.all(np.isfinite(g))
    assert g.dtype == dtype
    ref, g_ref = ce_ref(x.astype(np.float64), np.array([1, 1]), 0.1)
    assert loss == pytest.approx(ref, rel=1e-6)
    np.testing.assert_allclose(g, g_ref, atol=1e-6)


def test_cross_entropy_float32_matches_float64(rng):
    x = rng.standard_normal((32, 10)) * 4
    y = rng.integers(0, 10, 32)
    l32, g32 = cross_entropy(x.astype(np.float32), y, 0.1)
    l64, g64 = cross_entropy(x, y, 0.1)
    assert l32 == pytest.approx(l64, rel=1e-6)
    np.testing.assert_allclose(g32, g64, atol=1e-7)


def test_cross_entropy_accepts_integer_labels_of_any_width(rng):
    x = rng.standard_normal((4, 3))
    ref = cross_entropy(x, np.array([0, 1, 2, 1], np.int64))
    for dt in (np.int32, np.uint8, np.int16):
        loss, g = cross_entropy(x, np.array([0, 1, 2, 1], dt))
        assert loss == ref[0]
        np.testing.assert_array_equal(g, ref[1])
    assert cross_entropy(x, [0, 1, 2, 1])[0] == ref[0]


def test_loss_classes(rng):
    x, y = rng.standard_normal((5, 4)), rng.integers(0, 4, 5)
    loss, g = CrossEntropyLoss(label_smoothing=0.2)(x, y)
    assert loss == cross_entropy(x, y, 0.2)[0]
    p, t = rng.standard_normal((3, 2)), rng.standard_normal((3, 2))
    assert MSELoss()(p, t)[0] == mse(p, t)[0]
    assert "0.2" in repr(CrossEntropyLoss(0.2))


def test_cross_entropy_bad_inputs(rng):
    x = rng.standard_normal((3, 4))
    with pytest.raises(ValueError, match=r"labels\[2\] = 4 is out of range \[0, 4\)"):
        cross_entropy(x, [0, 1, 4])
    with pytest.raises(ValueError, match=r"labels\[0\] = -1"):
        cross_entropy(x, [-1, 1, 2])
    with pytest.raises(TypeError, match="integer class indices"):
        cross_entropy(x, np.array([0.0, 1.0, 2.0]))
    with pytest.raises(TypeError, match="integer class indices"):
        cross_entropy(x, np.array([True, False, True]))
    with pytest.raises(ValueError, match=r"labels must have shape \(3,\)"):
        cross_entropy(x, [0, 1])
    with pytest.raises(ValueError, match="2-D"):
        cross_entropy(x[0], [0])
    with pytest.raises(ValueError, match="NaN"):
        cross_entropy(np.where(np.eye(3, 4) > 0, np.nan, x), [0, 1, 2])
    with pytest.raises(ValueError, match="empty"):
        cross_entropy(np.zeros((0, 4)), np.zeros(0, np.int64))
    with pytest.raises(ValueError, match="label_smoothing"):
        cross_entropy(x, [0, 1, 2], label_smoothing=1.5)
    with pytest.raises(ValueError, match="label_smoothing"):
        CrossEntropyLoss(-0.1)
    # The raw kernel checks too.
    with pytest.raises(TypeError, match="labels must have dtype int64"):
        pyssl._core.nn.cross_entropy(x, np.array([0, 1, 2], np.int32))
    with pytest.raises(ValueError, match="C-contiguous"):
        pyssl._core.nn.cross_entropy(np.ones((3, 8))[:, ::2], np.array([0, 1, 2]))
    with pytest.raises(ValueError, match=r"labels\[1\] = 9"):
        pyssl._core.nn.cross_entropy(x, np.array([0, 9, 2]))


# -- MSE ------------------------------------------------------------------------------------------

def test_mse_matches_numpy(rng):
    p, t = rng.standard_normal((6, 3, 2)), rng.standard_normal((6, 3, 2))
    loss, g = mse(p, t)
    assert loss == pytest.approx(np.mean((p - t) ** 2), rel=1e-13)
    np.testing.assert_allclose(g, 2 * (p - t) / p.size, rtol=1e-14)
    assert mse(t, t)[0] == 0.0
    assert mse(np.zeros(4), np.full(4, 3.0))[0] == 9.0


@given(p=batches(min_n=1, max_n=5, min_d=1, max_d=6), seed=st.integers(0, 2**31))
def test_mse_gradients_fd(p, seed):
    t = np.random.default_rng(seed).standard_normal(p.shape)
    check_gradients(lambda v: mse(v, t), [p])


def test_mse_casts_target_and_checks_shapes(rng):
    p = rng.standard_normal((4, 3)).astype(np.float32)
    loss, g = mse(p, np.ones((4, 3), np.int64))
    assert g.dtype == np.float32
    assert loss == pytest.approx(np.mean((p.astype(np.float64) - 1) ** 2), rel=1e-6)
    with pytest.raises(ValueError, match=r"target must have pred's shape \(4, 3\)"):
        mse(p, np.ones((3, 4)))
    with pytest.raises(ValueError, match="NaN"):
        mse(p, np.full((4, 3), np.nan))
    with pytest.raises(ValueError, match="empty"):
        mse(np.zeros((0, 3)), np.zeros((0, 3)))
    with pytest.raises(ValueError, match="target must have shape"):
        pyssl._core.nn.mse(p, np.ones((4, 2), np.float32))
    with pytest.raises(TypeError, match="target must have dtype float32"):
        pyssl._core.nn.mse(p, np.ones((4, 3)))


def test_bit_identical_for_1_and_2_threads(rng, threads):
    x = rng.standard_normal((4096, 100)).astype(np.float32)
    y = rng.integers(0, 100, 4096)
    t = rng.standard_normal(x.shape).astype(np.float32)
    outs = []
    for n in (1, 2):
        pyssl.set_num_threads(n)
        outs.append(cross_entropy(x, y, 0.1) + mse(x, t))
    l1, g1, m1, d1 = outs[0]
    l2, g2, m2, d2 = outs[1]
    assert l1 == l2 and m1 == m2
    np.testing.assert_array_equal(g1, g2)
    np.testing.assert_array_equal(d1, d2)


def test_cross_entropy_against_torch(rng):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((9, 6)) * 2
    y = rng.integers(0, 6, 9)
    for eps in (0.0, 0.25):
        xt = torch.from_numpy(x.copy()).requires_grad_(True)
        lt = torch.nn.functional.cross_entropy(xt, torch.from_numpy(y), label_smoothing=eps)
        lt.backward()
        loss, g = cross_entropy(x, y, eps)
        assert loss == pytest.approx(lt.item(), rel=1e-12)
        np.testing.assert_allclose(g, xt.grad.numpy(), rtol=1e-10, atol=1e-15)
