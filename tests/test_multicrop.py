"""Multi-crop views (Caron et al. 2020) and SwAV / DINO trained with them: crop shapes and seeding,
the multi-crop SwAV loss against the two-view kernel and a numpy reference of the official
formula, and training steps of both methods."""
import numpy as np
import pytest

import pyssl
from pyssl import losses
from pyssl.methods import DINO, MultiCrop, SwAV
from pyssl.methods.multicrop import swav_multi_crop
from pyssl.nn import ResNet
from pyssl.testing import check_gradients


def images(n=16, seed=0):
    return np.random.default_rng(seed).uniform(0, 1, (n, 1, 16, 16)).astype(np.float32)


def test_crops_shapes_seeding_and_defaults():
    X = images()
    mc = MultiCrop(n_global=2, n_local=3)
    gl, lo = mc.crops(X, seed=5)
    assert [g.shape for g in gl] == [(16, 1, 16, 16)] * 2
    assert [v.shape for v in lo] == [(16, 1, 7, 7)] * 3  # ⌈16·96/224⌉
    gl2, lo2 = mc.crops(X, seed=5)
    assert all(a.tobytes() == b.tobytes() for a, b in zip(gl + lo, gl2 + lo2))
    assert gl[0].tobytes() != gl[1].tobytes()
    assert mc.crops(X, seed=6)[0][0].tobytes() != gl[0].tobytes()
    g, l = MultiCrop(1, 2, global_size=12, local_size=(5, 6)).crops(X, 0)
    assert g[0].shape == (16, 1, 12, 12) and l[1].shape == (16, 1, 5, 6)


def test_crops_bad_arguments():
    with pytest.raises(ValueError, match="at least 2 crops"):
        MultiCrop(1, 0)
    with pytest.raises(ValueError, match="global_scale"):
        MultiCrop(global_scale=(0.5, 0.2))
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        MultiCrop().crops(np.zeros((4, 16), np.float32), 0)
    with pytest.raises(TypeError, match="MultiCrop"):
        SwAV(ResNet(18, 1, width=2), multi_crop="yes")


def test_swav_multi_crop_with_two_crops_is_swav(rng):
    s1, s2 = rng.standard_normal((6, 5)), rng.standard_normal((6, 5))
    ref = losses.swav(s1, s2, temperature=0.1)
    got = swav_multi_crop([s1, s2], 2, 0.1)
    assert got[0] == pytest.approx(ref[0], rel=1e-10)
    np.testing.assert_allclose(got[1], ref[1], rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(got[2], ref[2], rtol=1e-8, atol=1e-12)


def swav_multi_ref(scores, n_assign, tau):
    """Official main_swav.py: for each assigned crop i, q = sinkhorn(s_i) and subloss =
    Σ_{v≠i} −mean_n Σ_k q log softmax(s_v/τ), divided by (V − 1); the mean over assigned crops."""
    V = len(scores)
    total = 0.0
    for i in range(n_assign):
        q = losses.sinkhorn(scores[i])
        sub = 0.0
        for v in range(V):
            if v == i:
                continue
            x = scores[v] / tau
            logp = x - x.max(1, keepdims=True)
            logp = logp - np.log(np.exp(logp).sum(1, keepdims=True))
            sub -= np.mean(np.sum(q * logp, axis=1))
        total += sub / (V - 1)
    return total / n_assign


@pytest.mark.parametrize("V,A", [(3, 2), (5, 2), (4, 1)])
def test_swav_multi_crop_matches_official_formula_and_gradients(V, A, rng):
    scores = [rng.standard_normal((5, 4)) for _ in range(V)]
    out = swav_multi_crop(scores, A, 0.2)
    assert out[0] == pytest.approx(swav_multi_ref(scores, A, 0.2), rel=1e-10)
    # gradients of the non-assigned crops (codes depend on the assigned ones, held constant)
    rest = list(range(A, V))

    def fun(*xs):
        s = list(scores[:A]) + list(xs)
        r = swav_multi_crop(s, A, 0.2)
        return r[0], [r[1 + v] for v in rest]

    check_gradients(fun, [scores[v] for v in rest])


@pytest.mark.parametrize("cls", ["swav", "dino"])
def test_methods_train_with_multi_crop(cls):
    X = images(24)
    enc = ResNet(18, in_channels=1, width=2, seed=0)
    mc = MultiCrop(2, 2, global_scale=(0.4, 1.0), local_scale=(0.1, 0.4))
    m = SwAV(enc, n_prototypes=8, projection_dim=8, multi_crop=mc) if cls == "swav" else \
        DINO(enc, out_dim=16, hidden_dim=16, multi_crop=mc)
    before = [p.data.copy() for p in enc.parameters()]
    hist = pyssl.pretrain(m, X, epochs=2, batch_size=12, seed=0, lr=1e-3, progress=False)
    assert np.all(np.isfinite(hist["loss"]))
    assert any(not np.array_equal(a, p.data) for a, p in zip(before, enc.parameters()))
    # bit-for-bit reproducible
    enc2 = ResNet(18, in_channels=1, width=2, seed=0)
    m2 = SwAV(enc2, n_prototypes=8, projection_dim=8, multi_crop=mc) if cls == "swav" else \
        DINO(enc2, out_dim=16, hidden_dim=16, multi_crop=mc)
    hist2 = pyssl.pretrain(m2, X, epochs=2, batch_size=12, seed=0, lr=1e-3, progress=False)
    assert hist2["loss"] == hist["loss"]


def test_multi_crop_step_gradient_reaches_every_crop_group():
    """The encoder's parameter gradient is the sum over the global and local groups: a step with
    local crops gives a different gradient than one without."""
    X = images(8)
    grads = []
    for n_local in (0, 2):
        enc = ResNet(18, in_channels=1, width=2, seed=0)
        m = SwAV(enc, n_prototypes=4, projection_dim=4, multi_crop=MultiCrop(2, n_local))
        m.setup(X)
        m.zero_grad()
        m.training_step(X, seed=1)
        grads.append(np.concatenate([p.grad.ravel() for p in enc.parameters()]))
    assert np.all(np.isfinite(grads[1])) and not np.allclose(grads[0], grads[1])
