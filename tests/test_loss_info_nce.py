"""InfoNCE with a bank of negatives (MoCo)."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import pyssl
from pyssl.losses import InfoNCELoss, info_nce
from pyssl.testing import check_gradients, embeddings


def reference_info_nce(q, k, queue, t):
    """MoCo eq. (1) / Algorithm 1: logits [q·k, q·queue] / τ, cross-entropy with label 0."""
    nq = q / np.linalg.norm(q, axis=1, keepdims=True)
    nk = k / np.linalg.norm(k, axis=1, keepdims=True)
    nb = queue / np.linalg.norm(queue, axis=1, keepdims=True)
    logits = np.concatenate([np.sum(nq * nk, axis=1, keepdims=True), nq @ nb.T], axis=1) / t
    m = logits.max(axis=1, keepdims=True)
    lse = m[:, 0] + np.log(np.exp(logits - m).sum(axis=1))
    return float(np.mean(lse - logits[:, 0]))


def test_matches_reference(rng):
    q, k = rng.standard_normal((2, 6, 5))
    queue = rng.standard_normal((11, 5))
    for t in (0.07, 0.2, 1.0):
        assert info_nce(q, k, queue, t)[0] == pytest.approx(reference_info_nce(q, k, queue, t), rel=1e-12)


@given(z=embeddings(min_n=2, max_n=10, min_d=1, max_d=4), m=st.integers(1, 6), t=st.sampled_from([0.05, 0.2, 1.0]),
       seed=st.integers(0, 1000))
def test_gradients_fd(z, m, t, seed):
    n = z.shape[0] // 2
    queue = np.random.default_rng(seed).standard_normal((m, z.shape[1])) + 0.1

    def f(a, b):
        loss, dq, dk = info_nce(a, b, queue, t)
        return loss, (dq, dk)

    check_gradients(f, [z[:n], z[n:2 * n]])


@pytest.mark.parametrize("m", [1, 4, 100])
def test_bank_of_positives_is_log_m_plus_1(m, rng):
    q = rng.standard_normal((5, 3))
    k = 2.5 * q
    queue = np.repeat(q[:1], m, axis=0)
    q = np.repeat(q[:1], 5, axis=0)
    k = np.repeat(k[:1], 5, axis=0)
    assert info_nce(q, k, queue, 0.2)[0] == pytest.approx(np.log(m + 1), rel=1e-12)


def test_queue_is_constant_and_dk_is_returned(rng):
    q, k = rng.standard_normal((2, 4, 3))
    queue = rng.standard_normal((7, 3))
    before = queue.copy()
    loss, dq, dk = info_nce(q, k, queue)
    np.testing.assert_array_equal(queue, before)
    assert dq.shape == q.shape and dk.shape == k.shape


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_stability(dtype, rng):
    q = (rng.standard_normal((8, 4)) * 1e4).astype(dtype)
    k = (rng.standard_normal((8, 4)) * 1e4).astype(dtype)
    queue = (rng.standard_normal((20, 4)) * 1e4).astype(dtype)
    q[0] = 0
    k[1] = 0
    queue[2] = 0
    loss, dq, dk = info_nce(q, k, queue, 0.01)
    assert np.isfinite(loss) and np.isfinite(dq).all() and np.isfinite(dk).all() and dq.dtype == dtype


def test_class_and_bad_inputs(rng):
    q, k = rng.standard_normal((2, 4, 3))
    queue = rng.standard_normal((5, 3))
    assert InfoNCELoss(0.2)(q, k, queue)[0] == info_nce(q, k, queue)[0]
    with pytest.raises(ValueError, match="queue must have 3 features"):
        info_nce(q, k, queue[:, :2])
    with pytest.raises(ValueError, match="k must have the same shape as q"):
        info_nce(q, k[:2], queue)
    with pytest.raises(ValueError, match="queue must not be empty"):
        info_nce(q, k, np.zeros((0, 3)))
    with pytest.raises(ValueError, match="temperature"):
        info_nce(q, k, queue, 0)


def test_torch_oracle(rng):
    torch = pytest.importorskip("torch")
    q, k = rng.standard_normal((2, 5, 4))
    queue = rng.standard_normal((9, 4))
    tq = torch.tensor(q, requires_grad=True)
    tk = torch.tensor(k, requires_grad=True)
    F = torch.nn.functional
    nq, nk, nb = F.normalize(tq, dim=1), F.normalize(tk, dim=1), F.normalize(torch.tensor(queue), dim=1)
    logits = torch.cat([(nq * nk).sum(1, keepdim=True), nq @ nb.T], dim=1) / 0.2
    loss = F.cross_entropy(logits, torch.zeros(5, dtype=torch.long))
    loss.backward()
    ours, dq, dk = info_nce(q, k, queue, 0.2)
    assert ours == pytest.approx(loss.item(), rel=1e-12)
    np.testing.assert_allclose(dq, tq.grad.numpy(), rtol=1e-9, atol=1e-13)
    np.testing.assert_allclose(dk, tk.grad.numpy(), rtol=1e-9, atol=1e-13)
