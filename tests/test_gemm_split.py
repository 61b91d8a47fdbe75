"""Products large enough to be cut into per-thread slices (csrc/blas/gemm.cpp) against float64
numpy, for the three operand layouts the layers use, slicing by rows (m >= n) and by columns
(m < n), and repeated bit for bit at a fixed thread count."""
import numpy as np
import pytest
from hypothesis import example, given, settings, strategies as st

import pyssl
from pyssl import _core
from pyssl.nn import Linear


def _rel_err(got, ref):
    return np.abs(got - ref).max() / max(np.abs(ref).max(), 1e-30)


@pytest.mark.parametrize("n,d_in,d_out", [(700, 300, 130), (90, 260, 900), (1000, 37, 20)])
def test_linear_products_match_float64(n, d_in, d_out, threads, rng):
    # forward x @ W (no transpose), dx = dy @ W^T (B transposed), dW = x^T @ dy (A transposed)
    pyssl.set_num_threads(2)
    layer = Linear(d_in, d_out, seed=3)
    x = rng.standard_normal((n, d_in)).astype(np.float32)
    dy = rng.standard_normal((n, d_out)).astype(np.float32)
    y, ctx = layer.forward(x)
    dx = layer.backward(dy, ctx)
    w = layer.weight.data.astype(np.float64)
    x64, dy64 = x.astype(np.float64), dy.astype(np.float64)
    # fp32 products over K terms: relative error a few ulps times sqrt(K) at most
    assert _rel_err(y, x64 @ w + layer.bias.data) < 1e-5
    assert _rel_err(dx, dy64 @ w.T) < 1e-5
    assert _rel_err(layer.weight.grad, x64.T @ dy64) < 1e-5


@settings(max_examples=15, deadline=None)
@given(m=st.integers(1, 400), n=st.integers(1, 400), k=st.integers(0, 300), seed=st.integers(0, 2**31))
def test_matmul_any_shape_matches_float64_and_repeats(m, n, k, seed):
    r = np.random.default_rng(seed)
    a = r.standard_normal((m, k)).astype(np.float32)
    b = r.standard_normal((k, n)).astype(np.float32)
    before = pyssl.get_num_threads()
    try:
        pyssl.set_num_threads(2)
        c = _core.matmul(a, b)
        again = _core.matmul(a, b)
    finally:
        pyssl.set_num_threads(before)
    np.testing.assert_array_equal(c, again)
    ref = a.astype(np.float64) @ b
    np.testing.assert_allclose(c, ref, rtol=0, atol=1e-5 * max(1.0, np.abs(ref).max()) * max(1, k) ** 0.5)


@settings(max_examples=10, deadline=None)
@given(n=st.integers(1, 700), d_in=st.integers(1, 700), d_out=st.integers(1, 700), seed=st.integers(0, 2**31))
@example(n=76, d_in=130, d_out=425, seed=0)
def test_linear_bit_identical_on_one_and_two_threads(n, d_in, d_out, seed):
    """The slices of a product depend on its shape only (never on the thread count) and each is one
    single-threaded BLAS call over the whole K, so every entry of C is computed by the same
    instructions in the same order whatever the thread count. (Slices that followed the thread
    count failed here, e.g. n=76, d_in=130, d_out=425: OpenBLAS picks a different kernel for a
    2-column slice than for the whole product.)"""
    r = np.random.default_rng(seed)
    layer = Linear(d_in, d_out, seed=seed)
    x = r.standard_normal((n, d_in)).astype(np.float32)
    dy = r.standard_normal((n, d_out)).astype(np.float32)
    before = pyssl.get_num_threads()
    outs = []
    try:
        for t in (1, 2):
            pyssl.set_num_threads(t)
            layer.zero_grad()
            y, ctx = layer.forward(x)
            dx = layer.backward(dy, ctx)
            outs.append((y, dx, layer.weight.grad.copy(), layer.bias.grad.copy()))
    finally:
        pyssl.set_num_threads(before)
    for one, two in zip(*outs):
        np.testing.assert_array_equal(one, two)


def test_simclr_pretrain_bit_identical_on_one_and_two_threads(threads):
    from pyssl.methods import SimCLR
    from pyssl.nn import MLP

    X = np.random.default_rng(0).standard_normal((512, 784)).astype(np.float32)
    states = []
    for t in (1, 2):
        pyssl.set_num_threads(t)
        method = SimCLR(MLP([784, 1024, 1024], norm="batch", seed=0), projector=MLP([1024, 512, 128], norm="batch", seed=1))
        pyssl.pretrain(method, X, epochs=1, batch_size=256, progress=False)
        states.append(method.state_dict())
    assert states[0].keys() == states[1].keys()
    for k in states[0]:
        np.testing.assert_array_equal(states[0][k], states[1][k], err_msg=k)
