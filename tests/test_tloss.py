"""T-Loss: the triplet loss against a numpy reference from the paper's formula, gradients by finite
differences, the causal encoder (causality, NaN padding, prefixes) and the method."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from pyssl.losses import time_triplet
from pyssl.methods import TLoss
from pyssl.nn import CausalCNNEncoder, CausalConvBlock, LeakyReLU
from pyssl.testing import assert_seeded_and_thread_invariant, check_gradients, check_module_gradients


def reference_loss(z, p, n):
    """Franceschi et al. (NeurIPS 2019), eq. (1): −log σ(z·p) − (1/K) Σ_k log σ(−z·n_k), mean over anchors."""
    log_sig = lambda x: -np.logaddexp(0.0, -x)  # noqa: E731
    pos = log_sig(np.sum(z * p, axis=1))
    neg = log_sig(-np.einsum("bd,kbd->kb", z, n))
    return float(-(pos.mean() + neg.mean(axis=1).mean()))


@settings(deadline=None, max_examples=40)
@given(b=st.integers(1, 6), k=st.integers(1, 5), d=st.integers(1, 7), scale=st.sampled_from([0.1, 1.0, 10.0]),
       seed=st.integers(0, 10_000))
def test_loss_matches_reference_and_fd(b, k, d, scale, seed):
    rng = np.random.default_rng(seed)
    z, p = scale * rng.standard_normal((2, b, d))
    n = scale * rng.standard_normal((k, b, d))
    loss, dz, dp, dn = time_triplet(z, p, n)
    assert loss == pytest.approx(reference_loss(z, p, n), rel=1e-12, abs=1e-12)
    l32 = time_triplet(z.astype(np.float32), p.astype(np.float32), n.astype(np.float32))
    assert l32[1].dtype == np.float32 and l32[0] == pytest.approx(loss, rel=1e-4, abs=1e-5)
    if scale < 10:
        check_gradients(lambda a, b_, c: (lambda r: (r[0], list(r[1:])))(time_triplet(a, b_, c)), [z, p, n])


def test_loss_extremes_and_bad_inputs():
    z = np.full((2, 3), 30.0)
    loss, dz, _, _ = time_triplet(z, z, -z[None])  # every pair far on the right side: loss ≈ 0, finite
    assert 0 <= loss < 1e-12 and np.isfinite(dz).all()
    loss, *_ = time_triplet(z, -z, z[None])  # far on the wrong side: ≈ 2 · 2700, no overflow
    assert loss == pytest.approx(2 * 2700.0, rel=1e-9)
    with pytest.raises(ValueError, match="negatives must have shape"):
        time_triplet(np.zeros((2, 3)), np.zeros((2, 3)), np.zeros((4, 3, 3)))
    with pytest.raises(ValueError, match="3-D"):
        time_triplet(np.zeros((2, 3)), np.zeros((2, 3)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="NaN"):
        time_triplet(np.full((2, 3), np.nan), np.zeros((2, 3)), np.zeros((1, 2, 3)))


def test_loss_thread_invariant(rng):
    z, p = rng.standard_normal((2, 64, 32)).astype(np.float32)
    n = rng.standard_normal((10, 64, 32)).astype(np.float32)
    assert_seeded_and_thread_invariant(lambda x, s: time_triplet(x * np.float32(1 + s % 5), p, n)[1:], z)


def test_causal_block_and_encoder_gradients(rng):
    check_module_gradients(LeakyReLU(), rng.standard_normal((3, 4)))
    check_module_gradients(CausalConvBlock(2, 3, 3, dilation=2, dtype=np.float64, seed=0), rng.standard_normal((2, 2, 7)))
    enc = CausalCNNEncoder(2, channels=3, depth=2, reduced_size=4, out_features=5, dtype=np.float64, seed=0)
    check_module_gradients(enc, rng.standard_normal((2, 2, 9)))


def test_encoder_is_causal_handles_nan_padding_and_prefixes(rng):
    enc = CausalCNNEncoder(1, channels=8, depth=3, reduced_size=6, out_features=5, seed=0)
    x = rng.standard_normal((3, 1, 20)).astype(np.float32)
    z = enc.transform(x)
    assert z.shape == (3, 5)
    # NaN padding == the unpadded series
    xp = x.copy()
    xp[0, :, 12:] = np.nan
    np.testing.assert_allclose(enc.transform(xp)[0], enc.transform(x[:1, :, :12])[0], rtol=1e-5, atol=1e-6)
    # prefixes: row t of pool=None is the representation of x[:, :, :t+1]
    per = enc.transform(x, pool=None)
    assert per.shape == (3, 20, 5)
    np.testing.assert_allclose(per[:, -1], z, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(per[:, 6], enc.transform(x[:, :, :7]), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="all NaN"):
        enc.transform(np.full((1, 1, 5), np.nan, np.float32))
    assert len(CausalCNNEncoder(1).network) == 11 and CausalCNNEncoder(1).out_features == 320


def _toy(rng, n=30, t=40):
    y = np.arange(n) % 2
    tt = np.arange(t)
    x = np.sin(2 * np.pi * (1 + 3 * y[:, None]) * tt[None] / t + rng.uniform(0, 6.3, n)[:, None])
    return (x + 0.2 * rng.standard_normal((n, t)))[:, None, :].astype(np.float32), y


def test_tloss_trains_and_is_seeded(rng):
    X, _ = _toy(rng)
    def run():
        m = TLoss(CausalCNNEncoder(1, channels=8, depth=3, reduced_size=16, out_features=16, seed=0), n_negatives=3)
        return m, m.fit(X, n_iters=40, batch_size=6, seed=2)
    m, h = run()
    assert len(h["loss"]) == 40
    assert np.mean(h["loss"][-10:]) < np.mean(h["loss"][:10])
    m2, h2 = run()
    np.testing.assert_array_equal(h["loss"], h2["loss"])
    np.testing.assert_array_equal(m.transform(X), m2.transform(X))


def test_tloss_windows_and_variable_length(rng):
    X, _ = _toy(rng, n=12, t=30)
    m = TLoss(CausalCNNEncoder(1, channels=4, depth=1, reduced_size=4, out_features=4, seed=0), n_negatives=2)
    m.setup(X)
    ref, pn = m.draw(X[:4], seed=5)
    assert ref.shape[:2] == (4, 1) and pn.shape[0] == 3 * 4 and pn.shape[2] <= ref.shape[2]
    # variable length: windows stay inside each series' own length
    Xv = X.copy()
    Xv[::2, :, 15:] = np.nan
    mv = TLoss(CausalCNNEncoder(1, channels=4, depth=1, reduced_size=4, out_features=4, seed=0), n_negatives=2)
    h = mv.fit(Xv, n_iters=5, batch_size=4)
    assert np.isfinite(h["loss"]).all()
    ref, pn = mv.draw(Xv[:4], seed=1)
    assert (~np.isnan(ref)).any(axis=(1, 2)).all() and (~np.isnan(pn)).any(axis=(1, 2)).all()
    with pytest.raises(ValueError, match="in_channels"):
        TLoss()
    with pytest.raises(RuntimeError, match="setup"):
        TLoss(in_channels=1).training_step(X[:4], 0)


def test_time_series_methods_run_under_pretrain(rng):
    import pyssl
    from pyssl.nn import DilatedConvEncoder

    X, _ = _toy(rng, n=16, t=24)
    for m in (TLoss(CausalCNNEncoder(1, channels=4, depth=1, reduced_size=4, out_features=4, seed=0), n_negatives=2),
              pyssl.methods.TS2Vec(DilatedConvEncoder(1, hidden_dim=4, output_dim=4, depth=1, seed=0))):
        h = pyssl.pretrain(m, X, epochs=2, batch_size=8, seed=0, progress=False)
        assert len(h["loss"]) == 2 and np.isfinite(h["loss"]).all()


def test_dilated_causal_conv_thread_invariant(rng):
    from pyssl.nn import Conv1d

    x = rng.standard_normal((4, 8, 300)).astype(np.float32)
    def fn(v, s):
        layer = Conv1d(8, 16, 3, padding="causal", dilation=4, seed=s)
        y, ctx = layer.forward(v)
        dx = layer.backward(np.ones_like(y), ctx)
        return y, dx, layer.weight.grad
    assert_seeded_and_thread_invariant(fn, x)
