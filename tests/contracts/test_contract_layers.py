"""Contract every registered layer (``pyssl.nn.LAYERS``) must pass, parametrized over the registry:
float64 finite-difference gradients (input and parameters), float32 ≈ float64, bit-identical
forward and backward for any thread count and input alignment, a checkpoint round trip, and bad
inputs refused with TypeError. A newly registered layer is checked with no change here."""
import numpy as np
import pytest

from pyssl import nn
from pyssl.testing import check_module_gradients

from ._helpers import assert_alignment_independent, assert_every_public_class_registered, assert_thread_identical

NAMES = nn.LAYERS.names()
FD_NAMES = [e.name for e in nn.LAYERS.entries(lambda e: e.fd is not False)]


def _layer(name, dtype):
    return nn.LAYERS.entry(name).example(dtype)


def _x(name, dtype, seed=0, scale=1.0, batch=None):
    entry = nn.LAYERS.entry(name)
    shape = entry.input
    if batch:
        shape = (batch,) + shape[1:]
    rng = np.random.default_rng(seed)
    if entry.sample is not None:  # integer codes, missing flags: a valid input of the layer
        return np.asarray(entry.sample(rng, shape)).astype(dtype)
    return (scale * rng.standard_normal(shape)).astype(dtype)


def _forward_backward(layer, x, seed=1):
    y, ctx = layer.forward(x)
    r = np.random.default_rng(seed).standard_normal(y.shape).astype(y.dtype)
    layer.zero_grad()
    dx = layer.backward(r, ctx)
    return [y, dx] + [p.grad.copy() for p in layer.parameters()]


def test_every_public_layer_class_is_registered():
    assert_every_public_class_registered(nn, nn.Module, nn.LAYERS)


@pytest.mark.parametrize("name", FD_NAMES)
def test_gradients_match_finite_differences(name):
    check_module_gradients(_layer(name, np.float64), _x(name, np.float64), rtol=1e-4, atol=1e-6,
                           input_grad=nn.LAYERS.entry(name).fd != "parameters")


@pytest.mark.parametrize("name", NAMES)
def test_float32_matches_float64(name):
    l64, l32 = _layer(name, np.float64), _layer(name, np.float32)
    x = _x(name, np.float64)
    for a, b in zip(_forward_backward(l32, x.astype(np.float32)), _forward_backward(l64, x)):
        assert a.dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4 * max(np.abs(b).max(), 1e-12))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", NAMES)
def test_bit_identical_for_any_thread_count(name, dtype):
    x = _x(name, dtype, batch=4099)  # enough rows for every parallel loop to split, an odd count
    # a fresh layer each run: Dropout's random stream restarts
    assert_thread_identical(lambda: _forward_backward(_layer(name, dtype), x), name)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", NAMES)
def test_bit_identical_for_any_input_alignment(name, dtype):
    assert_alignment_independent(lambda x: _forward_backward(_layer(name, dtype), x), [_x(name, dtype)],
                                 f"{name} {np.dtype(dtype).name}")


@pytest.mark.parametrize("name", NAMES)
def test_checkpoint_round_trip(name, tmp_path):
    layer = _layer(name, np.float64)
    x = _x(name, np.float64)
    for p in layer.parameters():  # move away from the initialisation
        p.data[...] += 0.1 * np.random.default_rng(5).standard_normal(p.data.shape)
    layer.train()
    layer.forward(x)  # BatchNorm updates its running statistics
    layer.eval()
    want = layer.forward(x)[0]
    nn.save(layer, tmp_path / "layer.pyssl")
    other = _layer(name, np.float64)
    nn.load(other, tmp_path / "layer.pyssl")
    other.eval()
    np.testing.assert_array_equal(other.forward(x)[0], want)
    assert sorted(other.state_dict()) == sorted(layer.state_dict())


@pytest.mark.parametrize("name", NAMES)
def test_bad_inputs_are_refused(name):
    layer = _layer(name, np.float64)
    with pytest.raises(TypeError):
        layer.forward(None)
    with pytest.raises(TypeError):
        layer.forward(np.full(nn.LAYERS.entry(name).input, "a"))


@pytest.mark.parametrize("name", NAMES)
def test_nested_lists_are_taken_like_arrays(name):
    x = _x(name, np.float32)
    np.testing.assert_array_equal(_layer(name, np.float32)(x.tolist()), _layer(name, np.float32)(x))
