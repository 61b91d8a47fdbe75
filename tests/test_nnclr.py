"""NNCLR: the loss against a numpy reference written from Dwibedi et al. 2021 (eq. 1 and
Algorithm 1), nearest-neighbour retrieval, the support-queue update, the default queue-size rule,
training, reproducibility and bit-exact resume."""
import numpy as np
import pytest

import pyssl
from pyssl.methods import NNCLR
from pyssl.methods.nnclr import default_queue_size, nearest_neighbours, nnclr_loss
from pyssl.nn import MLP
from pyssl.testing import check_gradients


def _unit(a):
    return a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)


def ref_nn(z, queue):
    return queue[np.argmax(_unit(z) @ queue.T, axis=1)]


def ref_loss(nn1, nn2, p1, p2, tau):
    """Algorithm 1: logits = normalize(nn) @ normalize(p).T / τ, cross-entropy with labels
    arange(N); ½ L(NN(z1), p2) + ½ L(NN(z2), p1)."""
    def one(nn, p):
        logits = _unit(nn) @ _unit(p).T / tau
        logits = logits - logits.max(axis=1, keepdims=True)
        logp = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
        return -np.mean(np.diag(logp))

    return 0.5 * one(nn1, p2) + 0.5 * one(nn2, p1)


@pytest.mark.parametrize("n,d,k,tau", [(2, 3, 5, 0.1), (7, 4, 16, 0.5), (5, 6, 3, 0.05)])
def test_loss_and_retrieval_match_numpy_reference(n, d, k, tau, rng):
    queue = _unit(rng.standard_normal((k, d)))
    z1, z2 = rng.standard_normal((n, d)), rng.standard_normal((n, d))
    p1, p2 = rng.standard_normal((n, d)), rng.standard_normal((n, d))
    nn1, idx = nearest_neighbours(z1, queue)
    np.testing.assert_array_equal(nn1, ref_nn(z1, queue))
    np.testing.assert_array_equal(idx, np.argmax(_unit(z1) @ queue.T, axis=1))
    nn2, _ = nearest_neighbours(z2, queue)
    loss, dp1, dp2 = nnclr_loss(nn1, nn2, p1, p2, tau)
    assert loss == pytest.approx(ref_loss(nn1, nn2, p1, p2, tau), rel=1e-10)
    # gradients of the predictions against finite differences (the neighbours are constants)
    check_gradients(lambda a, b: (lambda r: (r[0], [r[1], r[2]]))(nnclr_loss(nn1, nn2, a, b, tau)), [p1, p2])
    # float32 agrees with float64
    l32, _, _ = nnclr_loss(*(a.astype(np.float32) for a in (nn1, nn2, p1, p2)), tau)
    assert l32 == pytest.approx(loss, rel=1e-4)


def test_positive_neighbour_lowers_loss(rng):
    """If NN(z₁) points at p₂'s own row, the loss is lower than with shuffled neighbours."""
    p = rng.standard_normal((8, 5))
    good = nnclr_loss(_unit(p), _unit(p), p, p, 0.1)[0]
    bad = nnclr_loss(_unit(p[::-1].copy()), _unit(p[::-1].copy()), p, p, 0.1)[0]
    assert good < bad


def test_loss_bad_inputs(rng):
    a = rng.standard_normal((4, 3))
    with pytest.raises(ValueError, match="one shape"):
        nnclr_loss(a, a, a, a[:, :2], 0.1)
    with pytest.raises(ValueError, match="N >= 2"):
        nnclr_loss(a[:1], a[:1], a[:1], a[:1], 0.1)
    with pytest.raises(ValueError, match="temperature"):
        nnclr_loss(a, a, a, a, 0.0)
    with pytest.raises(ValueError, match="temperature"):
        NNCLR(MLP([3, 4]), temperature=-1)
    with pytest.raises(ValueError, match="queue_size"):
        NNCLR(MLP([3, 4]), queue_size=0)


def test_default_queue_size_rule():
    assert default_queue_size(1_281_167) == 98304  # the paper's setting on ImageNet
    assert default_queue_size(10_000_000) == 98304  # capped
    assert default_queue_size(60_000) == round(60_000 * 98304 / 1_281_167)  # 7.7 % of the data
    assert default_queue_size(1000) == 256  # at least 256 ...
    assert default_queue_size(100) == 100  # ... but never more than the data set


def clustered(n=128, d=10, k=4, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((k, d)) * 2.5
    y = rng.integers(0, k, size=n)
    X = centers[y] + rng.standard_normal((n, d))
    return ((X - X.mean(0)) / X.std(0)).astype(np.float32), y


def test_support_queue_update_is_a_ring_of_view1_projections():
    X, _ = clustered(n=64)
    m = NNCLR(MLP([10, 16, 8], seed=0), queue_size=48, projection_dim=8, hidden_dim=16)
    m.setup(X)
    assert m.queue.shape == (48, 8)
    np.testing.assert_allclose(np.linalg.norm(m.queue, axis=1), 1, rtol=1e-5)
    before = m.queue.copy()
    m.training_step(X[:32], seed=3)
    pending = m._pending.copy()
    m.on_step_end(0, 10)
    np.testing.assert_array_equal(m.queue[:32], pending)
    np.testing.assert_array_equal(m.queue[32:], before[32:])
    assert int(m.queue_ptr[0]) == 32
    # pending rows are the normalised projections of view 1
    x1, _ = m.make_views(X[:32], 3)
    m.encoder.train()
    z1 = m.projector(m.encoder(np.concatenate([x1, m.make_views(X[:32], 3)[1]])))[:32]
    np.testing.assert_allclose(pending, _unit(z1), rtol=1e-4, atol=1e-6)
    m.enqueue(np.full((40, 8), 0.5, np.float32))  # wraps around: slots 32..47 then 0..23
    assert int(m.queue_ptr[0]) == (32 + 40) % 48
    assert np.all(m.queue[32:] == 0.5) and np.all(m.queue[:24] == 0.5)
    np.testing.assert_array_equal(m.queue[24:32], pending[24:32])


def test_queue_larger_than_data_warns():
    X, _ = clustered(n=40)
    with pytest.warns(UserWarning, match="queue_size=100 is larger"):
        NNCLR(MLP([10, 8], seed=0), queue_size=100, projection_dim=8).setup(X)


def test_nnclr_trains_and_transfers():
    from pyssl.transfer import LinearProbe

    X, y = clustered(n=192)
    enc = MLP([10, 32, 16], seed=1)
    m = NNCLR(enc, queue_size=128, projection_dim=16, temperature=0.1)
    hist = pyssl.pretrain(m, X, epochs=8, batch_size=64, seed=0, lr=3e-3, progress=False)
    assert np.all(np.isfinite(hist["loss"]))
    acc = LinearProbe(enc).fit(X[:128], y[:128]).score(X[128:], y[128:])
    assert acc > 0.4, f"probe accuracy {acc} not above chance (0.25)"


def test_reproducible_and_resume_bit_exact(tmp_path):
    X, _ = clustered(n=96)
    ck = tmp_path / "ck.npz"

    def make(seed_enc):
        return NNCLR(MLP([10, 16, 8], seed=seed_enc), queue_size=64, projection_dim=8, hidden_dim=16)

    full = make(3)
    pyssl.pretrain(full, X, epochs=4, batch_size=32, seed=5, progress=False)
    again = make(3)
    pyssl.pretrain(again, X, epochs=4, batch_size=32, seed=5, progress=False)
    for a, b in zip(full.encoder.parameters(), again.encoder.parameters()):
        assert np.array_equal(a.data, b.data)

    class StopAt:
        def __call__(self, epoch, history, method):
            return "stop" if epoch == 1 else None

    part = make(3)
    pyssl.pretrain(part, X, epochs=4, batch_size=32, seed=5, progress=False, checkpoint=ck, callbacks=[StopAt()])
    resumed = make(99)
    hist = pyssl.pretrain(resumed, X, epochs=4, batch_size=32, seed=5, progress=False, resume=ck)
    assert len(hist["loss"]) == 4
    for a, b in zip(full.encoder.parameters(), resumed.encoder.parameters()):
        assert np.array_equal(a.data, b.data)
    assert np.array_equal(full.queue, resumed.queue)
