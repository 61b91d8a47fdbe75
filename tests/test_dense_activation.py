import numpy as np
import pytest
from hypothesis import given, strategies as st

from pyssl import _core
from pyssl.nn import Linear, ReLU, GELU, Tanh, Sigmoid, Sequential
from pyssl.testing import batches, check_module_gradients
from math import erf


@given(x=batches(min_n=1, max_n=5, min_d=1, max_d=6), out=st.integers(1, 5), seed=st.integers(0, 10**6))
def test_linear_gradients_fd(x, out, seed):
    layer = Linear(x.shape[1], out, dtype=np.float64, seed=seed)
    check_module_gradients(layer, x, seed=seed)


def test_linear_forward_matches_numpy(rng):
    layer = Linear(6, 4, dtype=np.float64, seed=1)
    x = rng.standard_normal((5, 6))
    np.testing.assert_allclose(layer(x), x @ layer.weight.data + layer.bias.data, rtol=1e-12)


def test_linear_accumulates_gradients(rng):
    layer = Linear(3, 2, dtype=np.float64, seed=0)
    x = rng.standard_normal((4, 3))
    g = rng.standard_normal((4, 2))
    y, ctx = layer.forward(x)
    layer.backward(g, ctx)
    once = layer.weight.grad.copy()
    layer.backward(g, ctx)
    np.testing.assert_allclose(layer.weight.grad, 2 * once)
    np.testing.assert_allclose(once, x.T @ g, rtol=1e-12)


def _gelu(v):
    return v * 0.5 * (1 + np.vectorize(erf)(v / np.sqrt(2)))


@pytest.mark.parametrize("cls,ref", [(ReLU, lambda v: np.maximum(v, 0)), (GELU, _gelu), (Tanh, np.tanh),
                                     (Sigmoid, lambda v: 1 / (1 + np.exp(-v)))])
def test_activation_values(cls, ref, rng):
    x = rng.standard_normal((7, 5)) * 3
    np.testing.assert_allclose(cls()(x), ref(x), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("cls", [GELU, Tanh, Sigmoid, ReLU])
@given(x=batches(min_n=1, max_n=4, min_d=1, max_d=5))
def test_activation_gradients_fd(cls, x):
    x = np.where(np.abs(x) < 1e-3, 0.5, x)  # ReLU is not differentiable at 0
    check_module_gradients(cls(), x)


def test_sigmoid_stable_for_huge_inputs():
    x = np.array([[-1e4, 1e4, 0.0]], dtype=np.float32)
    y = Sigmoid()(x)
    assert np.all(np.isfinite(y))
    np.testing.assert_allclose(y, [[0, 1, 0.5]])


def test_sequential_gradients_fd(rng):
    net = Sequential(Linear(4, 6, dtype=np.float64, seed=0), Tanh(), Linear(6, 3, dtype=np.float64, seed=1))
    check_module_gradients(net, rng.standard_normal((5, 4)))


def test_two_forwards_in_flight(rng):
    """Backward of view 1 after forward of view 2 must use view 1's saved input."""
    net = Sequential(Linear(3, 4, dtype=np.float64, seed=0), Tanh(), Linear(4, 2, dtype=np.float64, seed=1))
    x1, x2 = rng.standard_normal((5, 3)), rng.standard_normal((5, 3))
    g1, g2 = rng.standard_normal((5, 2)), rng.standard_normal((5, 2))
    net.zero_grad()
    _, c1 = net.forward(x1)
    net.backward(g1, c1)
    ref = [p.grad.copy() for p in net.parameters()]
    net.zero_grad()
    _, c2 = net.forward(x2)
    net.backward(g2, c2)
    ref2 = [p.grad.copy() for p in net.parameters()]
    net.zero_grad()
    _, c1 = net.forward(x1)
    _, c2 = net.forward(x2)
    net.backward(g1, c1)
    for p, r in zip(net.parameters(), ref):
        np.testing.assert_allclose(p.grad, r, rtol=1e-12)
    net.backward(g2, c2)  # the second view's gradients add to the first's
    for p, r, r2 in zip(net.parameters(), ref, ref2):
        np.testing.assert_allclose(p.grad, r + r2, rtol=1e-12)


def test_dense_bad_inputs(rng):
    layer = Linear(3, 2)
    with pytest.raises(ValueError, match="features"):
        layer.forward(rng.standard_normal((4, 5)).astype(np.float32))
    with pytest.raises(TypeError, match="float32"):
        layer.forward(rng.standard_normal((4, 3)))  # float64 into a float32 layer
    with pytest.raises(ValueError, match="2-D"):
        layer.forward(np.zeros((4, 3, 1), np.float32))
    with pytest.raises(ValueError, match="in_features"):
        Linear(0, 2)
    with pytest.raises(ValueError, match="weight_grad"):
        _core.nn.dense_backward(np.zeros((2, 3), np.float32), np.zeros((3, 2), np.float32),
                                np.zeros((2, 2), np.float32), np.zeros((2, 3), np.float32))
