"""TS2Vec: hierarchical contrastive loss against a numpy reference from the paper's formulas,
gradients by finite differences, the dilated encoder, the method and the SVM protocol."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import pyssl
from pyssl.losses import hierarchical_contrastive
from pyssl.methods import TS2Vec
from pyssl.nn import DilatedConvBlock, DilatedConvEncoder, TimestampMask
from pyssl.testing import assert_seeded_and_thread_invariant, check_gradients, check_module_gradients


def _neg_log_softmax_at(s, a, pos):
    """−log softmax over the row s[a, b≠a] at b = pos."""
    row = np.delete(s[a], a)
    col = pos if pos < a else pos - 1
    m = row.max()
    return m + np.log(np.exp(row - m).sum()) - row[col]


def reference_loss(z1, z2, alpha=0.5, temporal_unit=0):
    """Yue et al. (AAAI 2022), eqs. (1)-(3) and Algorithm 1, written out loop by loop."""
    z1, z2 = np.asarray(z1, np.float64), np.asarray(z2, np.float64)
    total, levels, d = 0.0, 0, 0
    while True:
        B, T, _ = z1.shape
        inst = 0.0
        if B > 1:
            for t in range(T):
                r = np.concatenate([z1[:, t], z2[:, t]])  # 2B anchors
                s = r @ r.T
                inst += sum(_neg_log_softmax_at(s, a, (a + B) % (2 * B)) for a in range(2 * B))
            inst /= 2 * B * T
        level = alpha * inst
        if T > 1 and d >= temporal_unit:
            temp = 0.0
            for i in range(B):
                r = np.concatenate([z1[i], z2[i]])  # 2T anchors
                s = r @ r.T
                temp += sum(_neg_log_softmax_at(s, a, (a + T) % (2 * T)) for a in range(2 * T))
            level += (1 - alpha) * temp / (B * 2 * T)
        total += level
        levels += 1
        d += 1
        if T == 1:
            break
        n = T // 2
        z1 = np.maximum(z1[:, 0:2 * n:2], z1[:, 1:2 * n:2])
        z2 = np.maximum(z2[:, 0:2 * n:2], z2[:, 1:2 * n:2])
    return total / levels


@settings(deadline=None, max_examples=30)
@given(b=st.integers(1, 4), t=st.integers(1, 11), c=st.integers(1, 5), alpha=st.sampled_from([0.0, 0.3, 0.5, 1.0]),
       unit=st.integers(0, 2), seed=st.integers(0, 10_000))
def test_loss_matches_reference(b, t, c, alpha, unit, seed):
    rng = np.random.default_rng(seed)
    z1, z2 = rng.standard_normal((2, b, t, c))
    loss, dz1, dz2 = hierarchical_contrastive(z1, z2, alpha=alpha, temporal_unit=unit)
    assert loss == pytest.approx(reference_loss(z1, z2, alpha, unit), rel=1e-10, abs=1e-12)
    assert dz1.shape == z1.shape and dz2.shape == z2.shape
    l32, g1, g2 = hierarchical_contrastive(z1.astype(np.float32), z2.astype(np.float32), alpha, unit)
    assert g1.dtype == np.float32
    assert l32 == pytest.approx(loss, rel=1e-4, abs=1e-5)
    np.testing.assert_allclose(g1, dz1, rtol=1e-3, atol=1e-5)


@settings(deadline=None, max_examples=25)
@given(b=st.integers(1, 3), t=st.integers(1, 9), c=st.integers(1, 4), alpha=st.sampled_from([0.0, 0.5, 0.8, 1.0]),
       seed=st.integers(0, 10_000))
def test_loss_gradients_fd(b, t, c, alpha, seed):
    rng = np.random.default_rng(seed)
    z1, z2 = rng.standard_normal((2, b, t, c))
    check_gradients(lambda a, b_: (lambda r: (r[0], [r[1], r[2]]))(hierarchical_contrastive(a, b_, alpha)), [z1, z2])


def test_loss_known_values_and_bad_inputs(rng):
    # B = 1, T = 1: no negatives at all, the loss is 0
    assert hierarchical_contrastive(np.ones((1, 1, 3)), np.ones((1, 1, 3)))[0] == 0.0
    # identical rows everywhere: every softmax is uniform over 2N − 1 entries
    z = np.ones((3, 1, 2))
    assert hierarchical_contrastive(z, z, alpha=1.0)[0] == pytest.approx(np.log(5))
    with pytest.raises(ValueError, match="same shape"):
        hierarchical_contrastive(np.zeros((2, 3, 4)), np.zeros((2, 4, 4)))
    with pytest.raises(ValueError, match="3-D"):
        hierarchical_contrastive(np.zeros((2, 3)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="alpha"):
        hierarchical_contrastive(np.zeros((2, 3, 4)), np.zeros((2, 3, 4)), alpha=1.5)
    with pytest.raises(ValueError, match="NaN"):
        hierarchical_contrastive(np.full((2, 3, 4), np.nan), np.zeros((2, 3, 4)))


def test_loss_thread_invariant(rng):
    z1, z2 = rng.standard_normal((2, 4, 37, 16)).astype(np.float32)
    assert_seeded_and_thread_invariant(lambda x, s: hierarchical_contrastive(x + np.float32(s % 7), z2)[1:], z1)


def test_timestamp_mask(rng):
    m = TimestampMask(0.5, seed=3)
    x = rng.standard_normal((4, 3, 200))
    y, keep = m.forward(x)
    assert set(np.unique(keep)) <= {0.0, 1.0}
    assert 0.35 < keep.mean() < 0.65  # Bernoulli(0.5) over 800 draws
    np.testing.assert_array_equal(y, x * keep)  # whole time steps, all channels
    y2, keep2 = m.forward(x)
    assert not np.array_equal(keep, keep2)  # the stream advances
    np.testing.assert_array_equal(TimestampMask(0.5, seed=3).forward(x)[1], keep)  # and replays
    m.eval()
    np.testing.assert_array_equal(m(x), x)


def test_dilated_block_and_encoder_gradients(rng):
    check_module_gradients(DilatedConvBlock(2, 3, 3, dilation=2, dtype=np.float64, seed=0), rng.standard_normal((2, 2, 7)))
    check_module_gradients(DilatedConvBlock(3, 3, 3, dilation=4, dtype=np.float64, seed=1), rng.standard_normal((1, 3, 6)))
    enc = DilatedConvEncoder(2, hidden_dim=4, output_dim=5, depth=2, dtype=np.float64, seed=0).eval()
    check_module_gradients(enc, rng.standard_normal((2, 2, 9)))


def test_encoder_shapes_masking_and_transform(rng):
    enc = DilatedConvEncoder(3, hidden_dim=8, output_dim=6, depth=3, seed=0)
    assert len(enc.blocks) == 4 and enc.out_features == 6
    x = rng.standard_normal((5, 3, 20)).astype(np.float32)
    y, _ = enc.forward(x)
    assert y.shape == (5, 6, 20)
    per_step = enc.transform(x, pool=None)
    whole = enc.transform(x)
    assert per_step.shape == (5, 20, 6) and whole.shape == (5, 6)
    np.testing.assert_allclose(whole, per_step.max(axis=1))
    assert enc.training  # mode restored
    # eval mode is deterministic; training mode masks and drops out
    np.testing.assert_array_equal(enc.transform(x), whole)
    # a missing step does not change the other series
    xn = x.copy()
    xn[0, 1, 4] = np.nan
    out = enc.transform(xn)
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out[1:], whole[1:], rtol=1e-6)
    with pytest.raises(ValueError, match=r"\(N, 3, T\)"):
        enc.forward(np.zeros((2, 2, 10), np.float32))
    with pytest.raises(ValueError, match="pool"):
        enc.transform(x, pool="mean")


def test_paper_default_encoder():
    enc = DilatedConvEncoder(1)
    assert len(enc.blocks) == 11 and enc.out_features == 320
    assert [b.body[1].dilation[1] for b in enc.blocks] == [2**i for i in range(11)]
    assert enc.blocks[10].shortcut is not None and enc.blocks[0].shortcut is None


def _toy_series(rng, n=40, t=32):
    """Two classes: a sine at two frequencies with random phase, plus noise."""
    y = np.arange(n) % 2
    tt = np.arange(t)
    phase = rng.uniform(0, 2 * np.pi, n)
    x = np.sin(2 * np.pi * (1 + 2 * y[:, None]) * tt[None] / t + phase[:, None]) + 0.3 * rng.standard_normal((n, t))
    return x[:, None, :].astype(np.float32), y


def test_ts2vec_trains_lowers_loss_and_is_seeded(rng):
    X, _ = _toy_series(rng)
    def run():
        enc = DilatedConvEncoder(1, hidden_dim=16, output_dim=32, depth=3, seed=0)
        m = TS2Vec(enc, seed=0)
        h = m.fit(X, n_iters=60, seed=1)
        return m, h
    m, h = run()
    losses = h["loss"]
    assert np.mean(losses[-10:]) < np.mean(losses[:10])
    assert len(losses) == 60 and int(m.n_averaged[0]) == 61  # the initial weights and 60 steps
    m2, h2 = run()
    np.testing.assert_array_equal(h["loss"], h2["loss"])
    np.testing.assert_array_equal(m.transform(X), m2.transform(X))
    # the weight average differs from the last iterate
    assert not np.allclose(m.transform(X), m.encoder.transform(X))


def test_ts2vec_weight_average_includes_the_initial_weights(rng):
    """As torch.optim.swa_utils.AveragedModel in the reference (one update at construction): after
    K steps the averaged weights are the mean of the initial weights and the K iterates."""
    X, _ = _toy_series(rng, n=16, t=12)
    enc = DilatedConvEncoder(1, hidden_dim=4, output_dim=6, depth=1, seed=3)
    m = TS2Vec(enc, seed=0)
    iterates = [[p.data.astype(np.float64).copy() for p in enc.parameters()]]

    def record(step, total, _end=m.on_step_end):
        _end(step, total)
        iterates.append([p.data.astype(np.float64).copy() for p in m.encoder.parameters()])

    m.on_step_end = record
    m.fit(X, n_iters=3, seed=2)
    assert len(iterates) == 4 and int(m.n_averaged[0]) == 4
    for i, pa in enumerate(m.averaged_encoder.parameters()):
        expected = np.mean([it[i] for it in iterates], axis=0)
        np.testing.assert_allclose(pa.data, expected, rtol=1e-5, atol=1e-6)
    # and not the mean of the iterates alone
    first = next(iter(m.averaged_encoder.parameters())).data
    assert not np.allclose(first, np.mean([it[0] for it in iterates[1:]], axis=0), rtol=1e-5, atol=1e-6)


def test_ts2vec_state_roundtrip_and_bad_inputs(rng):
    X, _ = _toy_series(rng, n=16, t=12)
    m = TS2Vec(in_channels=1, seed=0)
    assert isinstance(m.encoder, DilatedConvEncoder)
    with pytest.raises(ValueError, match="in_channels"):
        TS2Vec()
    small = TS2Vec(DilatedConvEncoder(1, hidden_dim=4, output_dim=4, depth=1, seed=0))
    small.fit(X, n_iters=2)
    other = TS2Vec(DilatedConvEncoder(1, hidden_dim=4, output_dim=4, depth=1, seed=5))
    other.setup(X)
    other.load_state_dict(small.state_dict())
    np.testing.assert_array_equal(other.transform(X), small.transform(X))
    with pytest.raises(ValueError, match=r"\(N, C, T\)"):
        TS2Vec(DilatedConvEncoder(1, hidden_dim=4, output_dim=4, depth=1)).setup(np.zeros((4, 5), np.float32))
    with pytest.raises(ValueError, match="at least 2 steps"):
        TS2Vec(DilatedConvEncoder(1, hidden_dim=4, output_dim=4, depth=1)).setup(np.zeros((4, 1, 1), np.float32))
    assert TS2Vec.default_iterations(np.zeros((100, 1, 1000))) == 200
    assert TS2Vec.default_iterations(np.zeros((101, 1, 1000))) == 600


def test_svm_probe_protocol(rng):
    pytest.importorskip("sklearn")
    from pyssl.transfer import SVMProbe

    X, y = _toy_series(rng, n=60, t=32)
    probe = SVMProbe().fit(X[:40], y[:40])  # raw series, 20 per class: < 50 in all, no search
    assert not probe.searched_ and probe.C_ == np.inf
    big = SVMProbe().fit(np.concatenate([X, X]), np.concatenate([y, y]))
    assert big.searched_ and big.C_ in SVMProbe().c_grid
    enc = DilatedConvEncoder(1, hidden_dim=8, output_dim=16, depth=2, seed=0)
    p = SVMProbe(enc).fit(X[:40], y[:40])
    assert 0.0 <= p.score(X[40:], y[40:]) <= 1.0
    with pytest.raises(TypeError, match="transform"):
        SVMProbe(object()).fit(X[:40], y[:40])
    with pytest.raises(ValueError, match="cv"):
        SVMProbe(cv=1).fit(X[:40], y[:40])
    with pytest.raises(ValueError, match="c_grid"):
        SVMProbe(c_grid=(1.0, -1.0)).fit(X[:40], y[:40])
    probe = SVMProbe(cv=3)
    assert probe.set_params(cv=4).get_params()["cv"] == 4 and probe.cv == 4
    with pytest.raises(ValueError, match="2 classes"):
        SVMProbe().fit(X[:10], np.zeros(10))
    with pytest.raises(RuntimeError, match="not fitted"):
        SVMProbe().predict(X)
    with pytest.raises(ValueError, match="whole-series"):
        SVMProbe(pyssl.nn.Conv1d(1, 2, 3)).fit(X[:40], y[:40])


def test_svm_probe_without_sklearn_names_the_extra(monkeypatch, rng):
    import builtins

    from pyssl.transfer import SVMProbe

    real_import = builtins.__import__

    def blocked(name, *args, **kw):
        if name == "sklearn" or name.startswith("sklearn."):
            raise ImportError("No module named 'sklearn'")
        return real_import(name, *args, **kw)

    monkeypatch.setattr(builtins, "__import__", blocked)
    X, y = _toy_series(rng, n=10, t=8)
    with pytest.raises(ImportError, match=r'pyssl\[data\]'):
        SVMProbe().fit(X, y)


def test_svm_probe_recovers_c_grid_choice(rng):
    pytest.importorskip("sklearn")
    from sklearn.model_selection import GridSearchCV
    from sklearn.svm import SVC

    from pyssl.transfer import SVMProbe

    X, y = _toy_series(rng, n=80, t=16)
    probe = SVMProbe().fit(X, y)
    ref = GridSearchCV(SVC(kernel="rbf", gamma="scale"), {"C": [1e-4, 1e-3, 1e-2, 0.1, 1, 10, 100, 1e3, 1e4, 1e10]},
                       cv=5).fit(X.reshape(80, -1), y)
    assert probe.searched_
    assert probe.C_ == (np.inf if ref.best_params_["C"] == 1e10 else ref.best_params_["C"])
    np.testing.assert_array_equal(probe.predict(X), ref.predict(X.reshape(80, -1)))


def test_centerize_and_nan_padded_training(rng):
    from pyssl.methods.timeseries import centerize

    X = np.full((2, 1, 8), np.nan)
    X[0, 0, :4] = [1, 2, 3, 4]       # padding after: moved right by 2
    X[1, 0, 1:7] = np.arange(6)      # centred already
    C = centerize(X)
    np.testing.assert_array_equal(C[0, 0, 2:6], [1, 2, 3, 4])
    assert np.isnan(C[0, 0, [0, 1, 6, 7]]).all()
    np.testing.assert_array_equal(C[1], X[1])
    Xs, _ = _toy_series(rng, n=12, t=20)
    Xs[::3, :, 14:] = np.nan
    m = TS2Vec(DilatedConvEncoder(1, hidden_dim=4, output_dim=4, depth=1, seed=0))
    h = m.fit(Xs, n_iters=6)
    assert np.isfinite(h["loss"]).all() and np.isfinite(m.transform(Xs)).all()
    with pytest.raises(ValueError, match="Inf"):
        m.fit(np.full((4, 1, 5), np.inf, np.float32))
