"""Dropout: keep rate, inverted scaling, counter-based reproducibility (seed, step), thread
independence, modes, gradients, bad inputs."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import pyssl
from pyssl import _core
from pyssl.nn import Dropout, MLP
from pyssl.testing import batches, check_gradients


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_drop_rate_within_binomial_bounds(p):
    n = 200_000
    x = np.ones(n, np.float32)
    y, mask = Dropout(p, seed=7).forward(x)
    dropped = int(n - mask.sum())
    sd = np.sqrt(n * p * (1 - p))
    assert abs(dropped - n * p) < 5 * sd, (dropped, n * p, sd)
    # Survivors are scaled by 1/(1-p), the rest are exactly 0.
    np.testing.assert_allclose(y[mask == 1], np.float32(1 / (1 - p)), rtol=1e-6)
    assert np.all(y[mask == 0] == 0)
    # Inverted dropout keeps the expectation.
    assert abs(y.mean() - 1.0) < 5 * np.sqrt(p / (1 - p) / n)


def test_mask_words_are_roughly_independent():
    # Neighbouring elements share a Philox block: their keep decisions must still be independent.
    _, m = _core.nn.dropout_forward(np.ones(400_000), 0.5, 3, 0)
    m = m.reshape(-1, 4).astype(float)
    c = np.corrcoef(m.T)
    assert np.all(np.abs(c[np.triu_indices(4, 1)]) < 0.02)


def test_seed_reproduces_and_steps_differ(rng):
    x = rng.standard_normal((32, 16))
    a, b = Dropout(0.5, seed=11), Dropout(0.5, seed=11)
    ya1, yb1 = a(x), b(x)
    ya2, yb2 = a(x), b(x)
    np.testing.assert_array_equal(ya1, yb1)
    np.testing.assert_array_equal(ya2, yb2)
    assert not np.array_equal(ya1, ya2)  # step advanced: a fresh mask
    assert a.step == 2
    assert not np.array_equal(Dropout(0.5, seed=12)(x), ya1)  # another seed, another mask


def test_mask_is_indexed_by_element_and_dtype_independent(rng):
    x = rng.standard_normal(1000)
    _, m_long = _core.nn.dropout_forward(x, 0.3, 5, 9)
    _, m_short = _core.nn.dropout_forward(x[:333].copy(), 0.3, 5, 9)
    _, m_f32 = _core.nn.dropout_forward(x.astype(np.float32), 0.3, 5, 9)
    np.testing.assert_array_equal(m_long[:333], m_short)
    np.testing.assert_array_equal(m_long, m_f32)
    _, m2 = _core.nn.dropout_forward(x.reshape(10, 100), 0.3, 5, 9)
    np.testing.assert_array_equal(m2.ravel(), m_long)


def test_global_seed_when_none():
    pyssl.nn.manual_seed(3)
    a = Dropout(0.5)
    pyssl.nn.manual_seed(3)
    b = Dropout(0.5)
    assert a.seed == b.seed
    assert Dropout(0.5).seed != b.seed


def test_eval_and_p0_are_identity(rng):
    x = rng.standard_normal((4, 5))
    d = Dropout(0.5, seed=0).eval()
    y, ctx = d.forward(x)
    assert y is x and ctx is None
    assert d.backward(x, ctx) is x
    assert d.step == 0  # eval does not consume a step
    y, ctx = Dropout(0.0, seed=0).forward(x)
    assert y is x


@given(x=batches(min_n=1, max_n=5, min_d=1, max_d=6), p=st.sampled_from([0.2, 0.5, 0.8]),
       seed=st.integers(0, 2**64 - 1), step=st.integers(0, 2**40))
def test_gradients_fd(x, p, seed, step):
    # With (seed, step) fixed the mask is fixed and dropout is linear in x.
    r = np.random.default_rng(0).standard_normal(x.shape)

    def f(v):
        y, m = _core.nn.dropout_forward(v, p, seed, step)
        return float(np.sum(y * r)), _core.nn.dropout_backward(r, m, p)

    check_gradients(f, [x])


def test_module_backward_uses_forward_mask(rng):
    d = Dropout(0.4, seed=1)
    x, g = rng.standard_normal((6, 7)), rng.standard_normal((6, 7))
    y, ctx = d.forward(x)
    d.forward(x)  # a second forward in flight must not change the first's backward
    dx = d.backward(g, ctx)
    np.testing.assert_allclose(dx, g * ctx / 0.6, rtol=1e-15)
    np.testing.assert_allclose(y, x * ctx / 0.6, rtol=1e-15)


def test_mlp_dropout_views_differ_and_seed_reproduces(rng):
    x = rng.standard_normal((8, 5)).astype(np.float32)
    a = MLP([5, 16, 3], norm=None, dropout=0.5, seed=4)
    b = MLP([5, 16, 3], norm=None, dropout=0.5, seed=4)
    ya1, ya2 = a(x), a(x)
    assert not np.array_equal(ya1, ya2)
    np.testing.assert_array_equal(b(x), ya1)
    np.testing.assert_array_equal(b(x), ya2)
    a.eval()
    np.testing.assert_array_equal(a(x), a(x))


def test_bad_inputs():
    for p in (1.0, -0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match="'p'"):
            Dropout(p)
    with pytest.raises(TypeError, match="'p'"):
        Dropout("0.5")
    with pytest.raises(ValueError, match="seed"):
        Dropout(0.5, seed=-1)
    with pytest.raises(TypeError, match="seed"):
        Dropout(0.5, seed=1.5)
    x = np.ones((3, 4), np.float32)
    with pytest.raises(ValueError, match=r"p must be in \[0, 1\)"):
        _core.nn.dropout_forward(x, 1.0, 0, 0)
    with pytest.raises(TypeError, match="float32 or float64"):
        Dropout(0.5, seed=0).forward(np.ones((3, 4), np.int32))
    with pytest.raises(ValueError, match="C-contiguous"):
        Dropout(0.5, seed=0).forward(np.ones((3, 8), np.float32)[:, ::2])
    with pytest.raises(ValueError, match="empty"):
        Dropout(0.5, seed=0).forward(np.ones((0, 4), np.float32))
    _, m = _core.nn.dropout_forward(x, 0.5, 0, 0)
    with pytest.raises(ValueError, match="mask must have shape"):
        _core.nn.dropout_backward(np.ones((4, 3), np.float32), m, 0.5)
    with pytest.raises(TypeError, match="mask must have dtype uint8"):
        _core.nn.dropout_backward(x, m.astype(np.float32), 0.5)


def philox4x32_10(counter_lo, counter_hi, key):
    """Philox4x32-10 (Salmon et al., SC'11, §4) in numpy, vectorised over counter_lo."""
    m = np.uint64(0xFFFFFFFF)
    c0 = (counter_lo & m).astype(np.uint64)
    c1 = (counter_lo >> np.uint64(32)).astype(np.uint64)
    c2 = np.full_like(c0, counter_hi & 0xFFFFFFFF)
    c3 = np.full_like(c0, counter_hi >> 32)
    k0, k1 = np.uint64(key & 0xFFFFFFFF), np.uint64(key >> 32)
    for _ in range(10):
        p0 = np.uint64(0xD2511F53) * c0
        p1 = np.uint64(0xCD9E8D57) * c2
        c0, c1, c2, c3 = ((p1 >> np.uint64(32)) ^ c1 ^ k0, p1 & m, (p0 >> np.uint64(32)) ^ c3 ^ k1, p0 & m)
        k0 = (k0 + np.uint64(0x9E3779B9)) & m
        k1 = (k1 + np.uint64(0xBB67AE85)) & m
    return np.stack([c0, c1, c2, c3], axis=1)  # (blocks, 4)


@pytest.mark.parametrize("n,p,seed,step", [(1, 0.5, 0, 0), (203, 0.3, 2**63 + 5, 7), (1000, 0.9, 42, 2**40)])
def test_mask_matches_philox_reference(n, p, seed, step):
    """Element i is kept iff word i%4 of Philox block i//4 of stream (seed, step) is >= floor(p 2^32)."""
    with np.errstate(over="ignore"):
        words = philox4x32_10(np.arange((n + 3) // 4, dtype=np.uint64), step, seed).reshape(-1)[:n]
    expected = (words >= np.uint64(int(p * 2**32))).astype(np.uint8)
    _, mask = _core.nn.dropout_forward(np.ones(n), p, seed, step)
    np.testing.assert_array_equal(mask, expected)


def test_dropout_state_resumes_mask_sequence():
    """The (seed, step) pair is saved in state_dict: a restored layer continues the mask stream."""
    import numpy as np
    from pyssl.nn import Dropout

    x = np.ones((4, 16), np.float32)
    a = Dropout(0.5, seed=3)
    a(x)
    b = Dropout(0.5, seed=99)
    b.load_state_dict(a.state_dict())
    np.testing.assert_array_equal(a(x), b(x))
    assert a.step == b.step == 2 and b.seed == 3
