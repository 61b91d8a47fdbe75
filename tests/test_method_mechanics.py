"""Mechanics the methods rely on: stop-gradients, EMA targets, the MoCo queue, and what each
transfer mode is allowed to change."""
import copy

import numpy as np
import pytest

from pyssl import methods as M, pretext
from pyssl.methods.momentum import _l2_rows
from pyssl.nn import MLP
from pyssl.optim import SGD
from pyssl.testing import numerical_gradient
from pyssl.transfer import KNN, FineTune, LinearProbe


def neg_cos(p, z):
    pn = p / np.linalg.norm(p, axis=1, keepdims=True)
    zn = z / np.linalg.norm(z, axis=1, keepdims=True)
    return -np.mean(np.sum(pn * zn, axis=1))


def simsiam64(seed=0):
    enc = MLP([4, 5, 3], norm=None, dtype=np.float64, seed=seed)
    proj = MLP([3, 4, 3], norm=None, dtype=np.float64, seed=seed + 1)
    pred = MLP([3, 4, 3], norm=None, dtype=np.float64, seed=seed + 2)
    return M.SimSiam(enc, projector=proj, predictor=pred, views=pretext.Identity())


def test_simsiam_gradient_stops_at_the_target_branch(rng):
    """Analytic gradients equal finite differences of L(θ) = ½D(p₁(θ), z₂(θ₀)) + ½D(p₂(θ), z₁(θ₀)),
    the objective with the target held at θ₀ — and differ from the full gradient."""
    X = rng.standard_normal((6, 4))
    m = simsiam64()
    m.setup(X)
    m.zero_grad()
    m.training_step(X, seed=0)
    W = m.encoder.layers[0].weight
    analytic = W.grad.copy()
    xx = np.concatenate([X, X])
    n = X.shape[0]
    z0 = m.projector(m.encoder(xx))  # target, frozen at θ₀

    def stopped():
        p = m.predictor(m.projector(m.encoder(xx)))
        return 0.5 * (neg_cos(p[:n], z0[n:]) + neg_cos(p[n:], z0[:n]))

    def full():
        z = m.projector(m.encoder(xx))
        p = m.predictor(z)
        return 0.5 * (neg_cos(p[:n], z[n:]) + neg_cos(p[n:], z[:n]))

    np.testing.assert_allclose(analytic, numerical_gradient(stopped, W.data), rtol=1e-5, atol=1e-8)
    assert not np.allclose(analytic, numerical_gradient(full, W.data), rtol=1e-3, atol=1e-6)


def test_byol_target_gets_no_gradient_and_follows_ema(rng):
    X = rng.standard_normal((16, 6)).astype(np.float32)
    m = M.BYOL(MLP([6, 8, 4], seed=0), projection_dim=4, momentum=0.9, final_momentum=0.9)
    m.setup(X)
    opt = SGD(m.parameters(), lr=0.1)
    before = [p.data.copy() for p in m.target_encoder.parameters() + m.target_projector.parameters()]
    m.zero_grad()
    m.training_step(X, seed=1)
    for p in m.target_encoder.parameters() + m.target_projector.parameters():
        assert not np.any(p.grad), "the target network must receive no gradient"
    opt.step()
    m.on_step_end(0, 10)
    online = [p.data for p in m.encoder.parameters() + m.projector.parameters()]
    target = [p.data for p in m.target_encoder.parameters() + m.target_projector.parameters()]
    for t, t0, o in zip(target, before, online):
        np.testing.assert_allclose(t, 0.9 * t0 + 0.1 * o, rtol=1e-6, atol=1e-7)


def test_byol_momentum_schedule_is_cosine():
    m = M.BYOL(MLP([2, 2]), momentum=0.996, final_momentum=1.0)
    assert m.momentum_at(0, 100) == pytest.approx(0.996)
    assert m.momentum_at(50, 100) == pytest.approx(0.998)
    assert m.momentum_at(100, 100) == pytest.approx(1.0)


def test_moco_queue_is_a_ring_buffer_of_normalised_keys(rng):
    X = rng.standard_normal((12, 5)).astype(np.float32)
    m = M.MoCo(MLP([5, 8, 4], seed=0), queue_size=20, projection_dim=4)
    with pytest.warns(UserWarning, match="queue_size=20 is larger than the 12 training samples"):
        m.setup(X)  # a queue longer than the data, on purpose: it must wrap around
    ptrs = []
    for step in range(3):  # 12 + 12 + 12 keys into 20 slots: the third batch wraps around
        ptr = int(m.queue_ptr[0])
        m.zero_grad()
        m.training_step(X, seed=step)
        keys = m._keys.copy()
        m.on_step_end(step, 3)
        idx = (ptr + np.arange(len(keys))) % 20
        np.testing.assert_array_equal(m.queue[idx], keys)
        np.testing.assert_allclose(np.linalg.norm(keys, axis=1), 1.0, rtol=1e-5)
        ptrs.append(int(m.queue_ptr[0]))
    assert ptrs == [12, 4, 16]
    np.testing.assert_allclose(_l2_rows(m.queue), m.queue, rtol=1e-5)


def test_transfer_modes_change_only_what_they_should(rng):
    X = rng.standard_normal((60, 5)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    enc = MLP([5, 8, 4], seed=0)
    snapshot = copy.deepcopy(enc.state_dict())

    def unchanged(a, b):
        return all(np.array_equal(a[k], b[k]) for k in a)

    LinearProbe(enc).fit(X, y)
    KNN(enc, k=3).fit(X, y).predict(X)
    ft = FineTune(enc, epochs=3, seed=0).fit(X, y)
    assert unchanged(snapshot, enc.state_dict()), "adapters must not modify the encoder they were given"
    assert not unchanged(snapshot, ft.encoder_.state_dict()), "fine-tuning trains its copy of the encoder"
    frozen = FineTune(enc, epochs=3, seed=0, freeze_encoder=True).fit(X, y)
    assert unchanged(snapshot, frozen.encoder_.state_dict()), "freeze_encoder must leave the encoder as it was"
