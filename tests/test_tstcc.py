"""TS-TCC: the temporal contrasting loss against a numpy reference from the paper's formula,
gradients by finite differences, the encoder, the views and the whole method (gradient of a
training step by finite differences included)."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from pyssl.losses import temporal_contrastive
from pyssl.methods import TSTCC
from pyssl.nn import DilatedConvEncoder, TSTCCEncoder
from pyssl.testing import assert_seeded_and_thread_invariant, check_gradients, check_module_gradients


def reference_loss(z, p):
    """Eldele et al. (IJCAI 2021), eq. (3): −1/(K B) Σ_k Σ_i log softmax_j(z_ki · p_kj)[i]."""
    s = np.einsum("kid,kjd->kij", z, p)
    m = s.max(axis=2, keepdims=True)
    lse = (m + np.log(np.exp(s - m).sum(axis=2, keepdims=True)))[..., 0]
    diag = np.einsum("kii->ki", s)
    return float((lse - diag).mean())


@settings(deadline=None, max_examples=40)
@given(k=st.integers(1, 4), b=st.integers(1, 6), d=st.integers(1, 7), scale=st.sampled_from([0.1, 1.0, 5.0]),
       seed=st.integers(0, 10_000))
def test_loss_matches_reference_and_fd(k, b, d, scale, seed):
    rng = np.random.default_rng(seed)
    z, p = scale * rng.standard_normal((2, k, b, d))
    loss, dz, dp = temporal_contrastive(z, p)
    assert loss == pytest.approx(reference_loss(z, p), rel=1e-12, abs=1e-12)
    l32 = temporal_contrastive(z.astype(np.float32), p.astype(np.float32))
    assert l32[1].dtype == np.float32 and l32[0] == pytest.approx(loss, rel=1e-4, abs=1e-5)
    check_gradients(lambda a, c: (lambda r: (r[0], list(r[1:])))(temporal_contrastive(a, c)), [z, p])


def test_loss_extremes_and_bad_inputs():
    z = np.zeros((2, 3, 4))
    assert temporal_contrastive(z, z)[0] == pytest.approx(np.log(3))  # uniform over the batch
    big = np.eye(3)[None] * 60.0  # huge aligned scores: loss ≈ 0, no overflow
    loss, dz, _ = temporal_contrastive(big, big)
    assert 0 <= loss < 1e-12 and np.isfinite(dz).all()
    with pytest.raises(ValueError, match="predictions"):
        temporal_contrastive(np.zeros((2, 3, 4)), np.zeros((2, 3, 5)))
    with pytest.raises(ValueError, match="3-D"):
        temporal_contrastive(np.zeros((3, 4)), np.zeros((3, 4)))
    with pytest.raises(ValueError, match="NaN"):
        temporal_contrastive(np.full((1, 2, 3), np.nan), np.zeros((1, 2, 3)))


def test_loss_thread_invariant(rng):
    z, p = rng.standard_normal((2, 6, 64, 32)).astype(np.float32)
    assert_seeded_and_thread_invariant(lambda x, s: temporal_contrastive(x * np.float32(1 + s % 5), p)[1:], z)


def test_encoder_shapes_gradients_and_pooling(rng):
    enc = TSTCCEncoder(2, channels=(3, 4, 5), kernel_size=3, dropout=0.0, dtype=np.float64, seed=0)
    check_module_gradients(enc, rng.standard_normal((3, 2, 12)))
    full = TSTCCEncoder(1, seed=0)
    z = full(rng.standard_normal((2, 1, 150)).astype(np.float32))
    # three blocks of conv (k 8, padding 4: T + 1) and max-pool (2, 2, padding 1: ⌊(T + 2)/2⌋)
    t = 150
    for _ in range(3):
        t = (t + 1 + 2) // 2
    assert z.shape == (2, 128, t)
    X = rng.standard_normal((5, 1, 40)).astype(np.float32)
    per_step = full.transform(X, pool=None)
    np.testing.assert_allclose(full.transform(X), per_step.mean(axis=1), rtol=1e-6)
    np.testing.assert_allclose(full.transform(X, pool="max"), per_step.max(axis=1))
    with pytest.raises(ValueError, match="pool"):
        full.transform(X, pool="sum")


def _toy(rng, n=24, t=48):
    y = rng.integers(0, 2, n)
    tt = np.arange(t)
    x = np.sin(2 * np.pi * (1 + 3 * y[:, None]) * tt[None] / t + rng.uniform(0, 6.3, n)[:, None])
    return (x + 0.2 * rng.standard_normal((n, t)))[:, None, :].astype(np.float32), y


def test_views_follow_the_reference_augmentations(rng):
    X, _ = _toy(rng, n=6, t=40)
    m = TSTCC(in_channels=1, jitter_sigma=0.0, seed=0)
    weak, strong = m.views_of(X, seed=3)
    ratio = weak / X  # one factor per (series, channel), centred at 2
    np.testing.assert_allclose(ratio, ratio[:, :, :1] * np.ones_like(ratio), rtol=1e-5)
    for i in range(X.shape[0]):  # without jitter the strong view only reorders time steps
        np.testing.assert_array_equal(np.sort(strong[i].ravel()), np.sort(X[i].ravel()))
    factors = m.views_of(np.ones((4000, 1, 2), np.float32), seed=1)[0][:, 0, 0]
    assert abs(factors.mean() - 2.0) < 0.1 and abs(factors.std() - 1.1) < 0.1


def test_training_step_gradient_matches_finite_differences(rng):
    """The whole step (views fixed by the seed; dropout off) against finite differences of its loss
    in float64: encoder, token embedding, context Transformer, predictors and projector."""
    X, _ = _toy(rng, n=4, t=24)
    X = X.astype(np.float64)
    enc = TSTCCEncoder(1, channels=(3, 4, 5), kernel_size=3, dropout=0.0, dtype=np.float64, seed=0)
    m = TSTCC(enc, timesteps=2, hidden_dim=4, depth=1, heads=2, mlp_dim=4, seed=0)
    m.setup(X)
    params = m.parameters()
    m.zero_grad()
    m.training_step(X, seed=7)
    analytic = [p.grad.copy() for p in params]
    eps = 1e-6
    for p, g in zip(params, analytic):
        flat = p.data.reshape(-1)
        for idx in rng.choice(flat.size, size=min(3, flat.size), replace=False):
            old = flat[idx]
            flat[idx] = old + eps
            m.zero_grad()
            up = m.training_step(X, seed=7)
            flat[idx] = old - eps
            m.zero_grad()
            down = m.training_step(X, seed=7)
            flat[idx] = old
            assert (up - down) / (2 * eps) == pytest.approx(g.reshape(-1)[idx], rel=1e-4, abs=1e-7)


def test_tstcc_trains_is_seeded_and_shortens_k(rng):
    X, _ = _toy(rng)

    def run():
        m = TSTCC(TSTCCEncoder(1, channels=(8, 8, 16), seed=0), timesteps=3, hidden_dim=16, depth=1, heads=2,
                  mlp_dim=16, seed=0)
        return m, m.fit(X, epochs=20, batch_size=8, lr=1e-3, seed=2)

    m, h = run()
    assert len(h["loss"]) == 20 * 3
    assert np.mean(h["loss"][-10:]) < np.mean(h["loss"][:10])
    m2, h2 = run()
    np.testing.assert_array_equal(h["loss"], h2["loss"])
    np.testing.assert_array_equal(m.transform(X), m2.transform(X))
    short = TSTCC(TSTCCEncoder(1, seed=0), timesteps=6, seed=0)
    short.setup(X[:, :, :24])  # T = 24 → T' = 5 latent steps: K lowered to 4
    assert short.k_steps == 4
    other = TSTCC(DilatedConvEncoder(1, hidden_dim=4, output_dim=6, depth=2, seed=0), timesteps=2, hidden_dim=8,
                  depth=1, heads=2, mlp_dim=8, seed=0)
    assert np.isfinite(other.fit(X, epochs=1, batch_size=8)["loss"]).all()


def test_bad_arguments_are_refused_by_name():
    with pytest.raises(ValueError, match="in_channels"):
        TSTCC()
    with pytest.raises(ValueError, match="heads"):
        TSTCC(in_channels=1, hidden_dim=10, heads=4)
    with pytest.raises(ValueError, match="max_segments"):
        TSTCC(in_channels=1, max_segments=1)
    with pytest.raises(ValueError, match=r"\(N, C, T\)"):
        TSTCC(in_channels=1).setup(np.zeros((4, 10), np.float32))
    with pytest.raises(ValueError, match="NaN"):
        X = np.zeros((4, 1, 30), np.float32)
        X[0, 0, 3] = np.nan
        TSTCC(in_channels=1).fit(X)
