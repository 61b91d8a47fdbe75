"""Embedding (C++ gather / deterministic scatter-add) and MixedInput: forward against numpy,
finite-difference gradients on the parameters, thread-count invariance, clear errors."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import pyssl
from pyssl.nn import Embedding, MixedInput
from pyssl.testing import numerical_gradient


def _param_fd(module, x, grad_seed=0, rtol=1e-6, atol=1e-8):
    """FD check of every parameter gradient of L = Σ r ⊙ module(x) (x is not perturbed)."""
    y, ctx = module.forward(x)
    r = np.random.default_rng(grad_seed).standard_normal(y.shape)
    module.zero_grad()
    dx = module.backward(r, ctx, need_input_grad=True)

    def loss():
        return float(np.sum(module.forward(x)[0] * r))

    for name, p in module.named_parameters():
        num = numerical_gradient(loss, p.data)
        np.testing.assert_allclose(p.grad, num, rtol=rtol, atol=atol, err_msg=f"gradient of {name}")
    return dx, r


@given(num=st.integers(1, 7), dim=st.integers(1, 5), shape=st.sampled_from([(1,), (6,), (4, 3), (2, 3, 2)]),
       seed=st.integers(0, 10_000))
@settings(max_examples=25, deadline=None)
def test_embedding_forward_is_a_lookup_and_weight_gradient_matches_fd(num, dim, shape, seed):
    rng = np.random.default_rng(seed)
    emb = Embedding(num, dim, dtype=np.float64, seed=seed)
    idx = rng.integers(0, num, size=shape)
    np.testing.assert_array_equal(emb(idx), emb.weight.data[idx])
    dx, r = _param_fd(emb, idx, grad_seed=seed)
    assert dx.shape == idx.shape and not dx.any()  # codes are not differentiable
    ref = np.zeros_like(emb.weight.data)
    np.add.at(ref, idx.reshape(-1), r.reshape(-1, dim))
    np.testing.assert_allclose(emb.weight.grad, ref, rtol=1e-12, atol=1e-12)


def test_embedding_backward_accumulates_and_overwrites():
    emb = Embedding(4, 3, dtype=np.float64, seed=0)
    idx = np.array([0, 2, 2])
    g = np.ones((3, 3))
    emb.zero_grad()
    emb.backward(g, emb.forward(idx)[1])
    np.testing.assert_array_equal(emb.weight.grad, [[1] * 3, [0] * 3, [2] * 3, [0] * 3])
    emb.backward(g, emb.forward(idx)[1])  # no zero_grad: accumulates
    np.testing.assert_array_equal(emb.weight.grad[2], [4] * 3)


def test_embedding_scatter_add_is_thread_invariant():
    rng = np.random.default_rng(3)
    emb = Embedding(50, 16, seed=1)
    idx = rng.integers(0, 50, size=(4000, 3))  # many repeats per row: summation order matters in float32
    g = rng.standard_normal((4000, 3, 16)).astype(np.float32)
    before = pyssl.get_num_threads()
    outs = []
    try:
        for t in (1, 2, 3):
            pyssl.set_num_threads(t)
            emb.zero_grad()
            emb.backward(g, emb.forward(idx)[1])
            outs.append(emb.weight.grad.copy())
    finally:
        pyssl.set_num_threads(before)
    assert outs[0].tobytes() == outs[1].tobytes() == outs[2].tobytes()
    ref = np.zeros((50, 16))
    np.add.at(ref, idx.reshape(-1), g.reshape(-1, 16).astype(np.float64))
    np.testing.assert_allclose(outs[0], ref, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("bad, exc, words", [
    (np.array([0, 4]), ValueError, "[0, 4)"),
    (np.array([-1]), ValueError, "[0, 4)"),
    (np.array([0.5]), ValueError, "whole numbers"),
    (np.array([True]), TypeError, "integer codes"),
    (np.array(["a"]), TypeError, "integer codes"),
])
def test_embedding_rejects_bad_indices(bad, exc, words):
    with pytest.raises(exc, match=None) as info:
        Embedding(4, 2)(bad)
    assert words in str(info.value)


def test_embedding_kernel_checks_indices_itself():
    from pyssl import _core

    w = np.zeros((3, 2), np.float32)
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        _core.nn.embedding_forward(w, np.array([5], dtype=np.int64))
    with pytest.raises(TypeError, match="int64"):
        _core.nn.embedding_forward(w, np.array([1], dtype=np.int32))


def _packed(rng, n, a, card):
    v = rng.standard_normal((n, a))
    m = (rng.random((n, a)) < 0.3).astype(np.float64)
    v[m > 0] = 0
    codes = np.stack([rng.integers(0, k, n) for k in card], axis=1) if card else np.zeros((n, 0))
    return np.concatenate([v, m, codes], axis=1)


@given(n=st.integers(1, 6), a=st.integers(0, 3), card=st.lists(st.integers(2, 5), max_size=3),
       e=st.integers(1, 4), seed=st.integers(0, 10_000))
@settings(max_examples=25, deadline=None)
def test_mixed_input_forward_and_gradients(n, a, card, e, seed):
    if a == 0 and not card:
        card = [3]
    rng = np.random.default_rng(seed)
    layer = MixedInput(a, card, e, dtype=np.float64, seed=seed)
    layer.missing_value.data[...] = rng.standard_normal(a)
    x = _packed(rng, n, a, card)
    y = layer(x)
    v, m = x[:, :a], x[:, a:2 * a]
    np.testing.assert_allclose(y[:, :a], np.where(m > 0, layer.missing_value.data, v))
    np.testing.assert_array_equal(y[:, a:2 * a], m)
    offs = np.concatenate([[0], np.cumsum(card)[:-1]]).astype(int) if card else []
    for j in range(len(card)):
        np.testing.assert_array_equal(y[:, 2 * a + j * e:2 * a + (j + 1) * e],
                                      layer.embedding.weight.data[x[:, 2 * a + j].astype(int) + offs[j]])
    dx, r = _param_fd(layer, x, grad_seed=seed)
    # input gradient: only the observed values are differentiable
    np.testing.assert_allclose(dx[:, :a], (1 - m) * r[:, :a])
    assert not dx[:, a:].any()


def test_mixed_input_rejects_codes_out_of_range_and_bad_width():
    layer = MixedInput(1, [3], 2)
    with pytest.raises(ValueError, match="whole numbers in"):
        layer(np.array([[0.0, 0.0, 3.0]], np.float32))
    with pytest.raises(ValueError, match="3 packed columns"):
        layer(np.zeros((2, 4), np.float32))
    with pytest.raises(ValueError, match="at least one"):
        MixedInput(0, [])
