"""DINO: official DINOLoss transcription, centre update, finite differences."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import pyssl
from pyssl.losses import DINOLoss, dino
from pyssl.testing import check_gradients


def softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def reference_dino(student, teacher, center, ts=0.1, tt=0.04):
    """facebookresearch/dino main_dino.py DINOLoss.forward (one process)."""
    total, n_terms = 0.0, 0
    for iq, t in enumerate(teacher):
        q = softmax((t - center) / tt)
        for v, s in enumerate(student):
            if v == iq:
                continue
            logp = np.log(softmax(s / ts))
            total += np.mean(np.sum(-q * logp, axis=-1))
            n_terms += 1
    return total / n_terms


def test_matches_reference(rng):
    s = rng.standard_normal((4, 5, 7))
    t = rng.standard_normal((2, 5, 7))
    c = rng.standard_normal(7) * 0.1
    for ts, tt in [(0.1, 0.04), (0.2, 0.07), (1.0, 1.0)]:
        assert dino(s, t, c, ts, tt)[0] == pytest.approx(reference_dino(s, t, c, ts, tt), rel=1e-12)
    # Vt = Vs: every view is a teacher view
    assert dino(s, s, c)[0] == pytest.approx(reference_dino(s, s, c), rel=1e-12)


@given(vs=st.integers(2, 4), vt=st.integers(1, 4), n=st.integers(1, 3), k=st.integers(1, 5),
       ts=st.sampled_from([0.05, 0.1, 1.0]), seed=st.integers(0, 1000))
def test_gradients_fd(vs, vt, n, k, ts, seed):
    vt = min(vt, vs)
    rng = np.random.default_rng(seed)
    s = rng.standard_normal((vs, n, k))
    t = rng.standard_normal((vt, n, k))
    c = rng.standard_normal(k)
    check_gradients(lambda a: dino(a, t, c, ts, 0.04), [s])


def test_center_update_after_loss(rng):
    s = rng.standard_normal((3, 6, 4)).astype(np.float32)
    t = rng.standard_normal((2, 6, 4)).astype(np.float32)
    loss = DINOLoss(4, center_momentum=0.9)
    l1, _ = loss(s, t)
    assert l1 == pytest.approx(dino(s, t, np.zeros(4, np.float32))[0], rel=1e-6)  # centre used before the update
    np.testing.assert_allclose(loss.center, 0.1 * t.reshape(-1, 4).mean(0), rtol=1e-6)
    c1 = loss.center.copy()
    loss(s, t)
    np.testing.assert_allclose(loss.center, 0.9 * c1 + 0.1 * t.reshape(-1, 4).mean(0), rtol=1e-6)
    assert loss.center.dtype == np.float32


def test_bad_inputs(rng):
    s = rng.standard_normal((2, 3, 4))
    c = np.zeros(4)
    with pytest.raises(ValueError, match="at least 2 views"):
        dino(s[:1], s[:1], c)
    with pytest.raises(ValueError, match="1 <= Vt <= 2"):
        dino(s, np.concatenate([s, s]), c)
    with pytest.raises(ValueError, match="teacher must have shape"):
        dino(s, s[:, :, :3], c)
    with pytest.raises(ValueError, match="center"):
        dino(s, s, np.zeros(3))
    with pytest.raises(ValueError, match="teacher_temp"):
        dino(s, s, c, teacher_temp=0)
    with pytest.raises(ValueError, match="out_dim"):
        DINOLoss(3)(s, s)
    with pytest.raises(ValueError, match="center_momentum"):
        DINOLoss(4, center_momentum=1.5)
