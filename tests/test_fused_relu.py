"""BatchNorm → ReLU run as one kernel inside a Sequential (BatchNorm1d, ChannelBatchNorm1d,
BatchNorm2d): the fused kernels against the unfused layers, bit for bit, finite-difference
gradients of the fused pair (float64), the context layout, and bad kernel arguments."""
import numpy as np
import pytest
from hypothesis import assume, given, strategies as st

from pyssl import _core
from pyssl.nn import MLP, BatchNorm1d, BatchNorm2d, ChannelBatchNorm1d, GELU, Linear, ReLU, Sequential
from pyssl.nn.module import FUSED
from pyssl.testing import batches, check_module_gradients


def _affine(layer, rng):
    layer.weight.data[...] = rng.uniform(0.5, 1.5, layer.weight.shape)
    layer.bias.data[...] = rng.standard_normal(layer.bias.shape)


def _unfused(seq, x):
    """The layers of seq one by one (no fusion): output and every layer's context."""
    ctxs = []
    for layer in seq.layers:
        x, c = layer.forward(x)
        ctxs.append(c)
    return x, ctxs


def _unfused_backward(seq, g, ctxs):
    for i in range(len(seq.layers) - 1, -1, -1):
        g = seq.layers[i].backward(g, ctxs[i], need_input_grad=True)
    return g


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_relu_kernel_is_relu_of_batch_norm(dtype, training, rng):
    x = rng.standard_normal((37, 11)).astype(dtype)
    w, b = rng.uniform(0.5, 1.5, 11).astype(dtype), rng.standard_normal(11).astype(dtype)
    rm, rv = rng.standard_normal(11).astype(dtype), rng.uniform(0.5, 2, 11).astype(dtype)
    rm2, rv2 = rm.copy(), rv.copy()
    u, m, r = _core.nn.batch_norm_forward(x, w, b, rm, rv, training=training)
    y, m2, r2 = _core.nn.batch_norm_forward(x, w, b, rm2, rv2, relu=True, training=training)
    np.testing.assert_array_equal(y, np.maximum(u, 0))
    np.testing.assert_array_equal(m, m2)
    np.testing.assert_array_equal(rm, rm2)
    dy = rng.standard_normal(x.shape).astype(dtype)
    gw, gb, gw2, gb2 = (np.zeros(11, dtype) for _ in range(4))
    dx = _core.nn.batch_norm_backward(x, m, r, dy * (u > 0), w, gw, gb, training=training)
    dx2 = _core.nn.batch_norm_backward(x, m, r, dy, w, gw2, gb2, training=training, y=y, relu=True)
    np.testing.assert_array_equal(dx, dx2)
    np.testing.assert_array_equal(gw, gw2)
    np.testing.assert_array_equal(gb, gb2)
    # eval mode without parameter gradients takes the elementwise path
    if not training:
        dx3 = _core.nn.batch_norm_backward(x, m, r, dy, w, training=False, y=y, relu=True)
        np.testing.assert_array_equal(_core.nn.batch_norm_backward(x, m, r, dy * (u > 0), w, training=False), dx3)


def test_batch_norm_relu_kernel_bad_arguments(rng):
    x = rng.standard_normal((4, 3)).astype(np.float32)
    y, m, r = _core.nn.batch_norm_forward(x, relu=True)
    with pytest.raises(ValueError, match="relu=True needs the forward output y"):
        _core.nn.batch_norm_backward(x, m, r, x, relu=True)
    with pytest.raises(ValueError, match="y"):
        _core.nn.batch_norm_backward(x, m, r, x, y=y[:2], relu=True)


@pytest.mark.parametrize("make", [
    lambda: (MLP([5, 9, 8, 3], norm="batch", seed=0), (16, 5)),
    lambda: (Sequential(ChannelBatchNorm1d(3), ReLU(), ChannelBatchNorm1d(3, relu=True), ReLU()), (4, 3, 7)),
    lambda: (Sequential(BatchNorm2d(2), ReLU()), (3, 2, 4, 5)),
])
def test_sequential_fusion_matches_layer_by_layer(make, rng):
    seq, shape = make()
    x = rng.standard_normal(shape).astype(np.float32)
    y, ctx = seq.forward(x)
    assert any(c is FUSED for c in ctx)  # the ReLU after each norm ran inside it
    y_ref, ctx_ref = _unfused(seq, x)
    np.testing.assert_array_equal(y, y_ref)
    g = rng.standard_normal(y.shape).astype(np.float32)
    seq.zero_grad()
    dx = seq.backward(g, ctx)
    grads = [p.grad.copy() for p in seq.parameters()]
    seq.zero_grad()
    dx_ref = _unfused_backward(seq, g, ctx_ref)
    np.testing.assert_array_equal(dx, dx_ref)
    for a, p in zip(grads, seq.parameters()):
        np.testing.assert_array_equal(a, p.grad)


def test_only_a_relu_after_a_norm_is_fused(rng):
    seq = Sequential(Linear(4, 6, seed=0), BatchNorm1d(6), GELU(), Linear(6, 6, seed=1), ReLU(), BatchNorm1d(6))
    _, ctx = seq.forward(rng.standard_normal((8, 4)).astype(np.float32))
    assert not any(c is FUSED for c in ctx)
    _, ctx = Sequential(BatchNorm1d(6), ReLU(), ReLU()).forward(rng.standard_normal((8, 6)).astype(np.float32))
    assert [c is FUSED for c in ctx] == [False, True, False]


@given(x=batches(min_n=2, max_n=7, min_d=1, max_d=5), seed=st.integers(0, 2**31), training=st.booleans())
def test_fused_batch_norm_relu_gradients_fd(x, seed, training):
    r = np.random.default_rng(seed)
    d = x.shape[1]
    bn = BatchNorm1d(d, dtype=np.float64)
    _affine(bn, r)
    bn.running_mean[...] = r.standard_normal(d)
    bn.running_var[...] = r.uniform(0.5, 2.0, d)
    seq = Sequential(Linear(d, d, dtype=np.float64, seed=seed % 1000), bn, ReLU())
    seq.train(training)
    x = x + 0.5 * np.sign(x - x.mean(axis=0))  # no near-constant column
    u = _unfused(Sequential(*seq.layers[:2]), x)[0]
    assume(np.min(np.abs(u)) > 1e-3)  # no entry at the ReLU's kink, where the derivative jumps
    assert any(c is FUSED for c in seq.forward(x)[1])
    check_module_gradients(seq, x, seed=seed)
