"""LayerNorm and BatchNorm1d: values vs numpy references written from the papers' formulas,
finite-difference gradients (float64), running statistics, modes, determinism, bad inputs."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import pyssl
from pyssl import _core
from pyssl.nn import BatchNorm1d, LayerNorm
from pyssl.testing import batches, check_module_gradients


# -- independent numpy references -----------------------------------------------------------------

def ln_ref(x, g, b, eps=1e-5):
    """Ba et al. 2016, eq. 4: per-row mean and biased variance over the features."""
    mu = x.mean(axis=-1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * g + b


def bn_train_ref(x, g, b, rm, rv, momentum=0.1, eps=1e-5):
    """Ioffe & Szegedy 2015, Alg. 1, with PyTorch's running-stat convention (unbiased var)."""
    n = x.shape[0]
    mu = x.sum(axis=0) / n
    var = ((x - mu) ** 2).sum(axis=0) / n
    y = (x - mu) / np.sqrt(var + eps) * g + b
    rm_new = (1 - momentum) * rm + momentum * mu
    rv_new = (1 - momentum) * rv + momentum * var * n / (n - 1)
    return y, rm_new, rv_new


def bn_train_grad_ref(x, g, dy, eps=1e-5):
    """Closed-form backward through the batch statistics (Ioffe & Szegedy 2015, §3)."""
    n = x.shape[0]
    mu = x.mean(0)
    var = ((x - mu) ** 2).mean(0)
    xh = (x - mu) / np.sqrt(var + eps)
    dxh = dy * g
    dvar = np.sum(dxh * (x - mu), 0) * -0.5 * (var + eps) ** -1.5
    dmu = np.sum(-dxh / np.sqrt(var + eps), 0) + dvar * np.sum(-2 * (x - mu), 0) / n
    dx = dxh / np.sqrt(var + eps) + dvar * 2 * (x - mu) / n + dmu / n
    return dx, np.sum(dy * xh, 0), dy.sum(0)


def spread(x):
    """Push every entry 0.5 away from its column mean: BatchNorm is then well conditioned
    (no near-constant column), so central differences are accurate."""
    return x + 0.5 * np.sign(x - x.mean(axis=0))


def randomize_affine(layer, rng):
    if layer.weight is not None:
        layer.weight.data[...] = rng.uniform(0.5, 1.5, layer.weight.shape)
        layer.bias.data[...] = rng.standard_normal(layer.bias.shape)


# -- LayerNorm ---------------------------------------------------------------------------------------

def test_layer_norm_matches_numpy(rng):
    ln = LayerNorm(7, dtype=np.float64)
    randomize_affine(ln, rng)
    x = rng.standard_normal((6, 7)) * 3 + 2
    y, (_, mean, rstd) = ln.forward(x)
    np.testing.assert_allclose(y, ln_ref(x, ln.weight.data, ln.bias.data), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(mean, x.mean(1), rtol=1e-12)
    np.testing.assert_allclose(rstd, 1 / np.sqrt(x.var(1) + 1e-5), rtol=1e-12)


def test_layer_norm_any_leading_shape(rng):
    ln = LayerNorm(4, dtype=np.float64)
    randomize_affine(ln, rng)
    x = rng.standard_normal((2, 3, 4))
    y = ln(x)
    assert y.shape == x.shape
    np.testing.assert_allclose(y, ln_ref(x, ln.weight.data, ln.bias.data), rtol=1e-12, atol=1e-12)
    check_module_gradients(ln, x)


def test_layer_norm_output_is_normalised(rng):
    x = rng.standard_normal((5, 64)) * 10 - 3
    y = LayerNorm(64, dtype=np.float64)(x)
    np.testing.assert_allclose(y.mean(1), 0, atol=1e-12)
    np.testing.assert_allclose(y.var(1), 1 / (1 + 1e-5 / x.var(1)), rtol=1e-10)


@given(x=batches(min_n=1, max_n=5, min_d=1, max_d=6), seed=st.integers(0, 2**31))
def test_layer_norm_gradients_fd(x, seed):
    ln = LayerNorm(x.shape[1], dtype=np.float64)
    randomize_affine(ln, np.random.default_rng(seed))
    check_module_gradients(ln, x, seed=seed)


@given(x=batches(min_n=1, max_n=4, min_d=2, max_d=6))
def test_layer_norm_no_affine_gradients_fd(x):
    ln = LayerNorm(x.shape[1], elementwise_affine=False, dtype=np.float64)
    assert ln.parameters() == []
    np.testing.assert_allclose(ln(x), ln_ref(x, 1.0, 0.0), rtol=1e-12, atol=1e-12)
    check_module_gradients(ln, x)


def test_layer_norm_accumulates_and_skips_dx(rng):
    ln = LayerNorm(5, dtype=np.float64)
    randomize_affine(ln, rng)
    x, g = rng.standard_normal((4, 5)), rng.standard_normal((4, 5))
    y, ctx = ln.forward(x)
    assert ln.backward(g, ctx, need_input_grad=False) is None
    once = ln.weight.grad.copy(), ln.bias.grad.copy()
    ln.backward(g, ctx)
    np.testing.assert_allclose(ln.weight.grad, 2 * once[0], rtol=1e-12)
    np.testing.assert_allclose(ln.bias.grad, 2 * once[1], rtol=1e-12)
    xh = (x - x.mean(1, keepdims=True)) / np.sqrt(x.var(1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(once[0], (g * xh).sum(0), rtol=1e-10)
    np.testing.assert_allclose(once[1], g.sum(0), rtol=1e-12)


def test_layer_norm_float32_matches_float64(rng):
    x = rng.standard_normal((16, 33)) * 5 + 100  # large offset: needs a careful variance
    l32, l64 = LayerNorm(33, dtype=np.float32), LayerNorm(33, dtype=np.float64)
    y32, c32 = l32.forward(x.astype(np.float32))
    y64, c64 = l64.forward(x)
    assert y32.dtype == np.float32
    np.testing.assert_allclose(y32, y64, atol=2e-4)
    g = rng.standard_normal(x.shape)
    np.testing.assert_allclose(l32.backward(g.astype(np.float32), c32), l64.backward(g, c64), atol=2e-3)
    np.testing.assert_allclose(l32.weight.grad, l64.weight.grad, rtol=1e-4, atol=1e-3)


# -- BatchNorm1d ---------------------------------------------------------------------------------------

def test_batch_norm_train_matches_numpy(rng):
    bn = BatchNorm1d(6, dtype=np.float64)
    randomize_affine(bn, rng)
    bn.running_mean[...] = rng.standard_normal(6)
    bn.running_var[...] = rng.uniform(0.5, 2, 6)
    rm, rv = bn.running_mean.copy(), bn.running_var.copy()
    x = rng.standard_normal((9, 6)) * 2 + 1
    y, ctx = bn.forward(x)
    y_ref, rm_ref, rv_ref = bn_train_ref(x, bn.weight.data, bn.bias.data, rm, rv)
    np.testing.assert_allclose(y, y_ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(bn.running_mean, rm_ref, rtol=1e-12)
    np.testing.assert_allclose(bn.running_var, rv_ref, rtol=1e-12)
    dy = rng.standard_normal(x.shape)
    bn.zero_grad()
    dx = bn.backward(dy, ctx)
    dx_ref, dg_ref, db_ref = bn_train_grad_ref(x, bn.weight.data, dy)
    np.testing.assert_allclose(dx, dx_ref, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(bn.weight.grad, dg_ref, rtol=1e-10)
    np.testing.assert_allclose(bn.bias.grad, db_ref, rtol=1e-12)


@pytest.mark.parametrize("momentum", [0.1, 0.3, 1.0, 0.0])
def test_batch_norm_running_stats_over_steps(momentum, rng):
    bn = BatchNorm1d(4, momentum=momentum, dtype=np.float64)
    rm, rv = np.zeros(4), np.ones(4)
    for step in range(5):
        x = rng.standard_normal((3 + step, 4)) * (step + 1) + step
        bn.forward(x)
        _, rm, rv = bn_train_ref(x, 1.0, 0.0, rm, rv, momentum=momentum)
        np.testing.assert_allclose(bn.running_mean, rm, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(bn.running_var, rv, rtol=1e-12)


def test_batch_norm_eval_uses_running_stats(rng):
    bn = BatchNorm1d(5, dtype=np.float64)
    randomize_affine(bn, rng)
    for _ in range(3):
        bn.forward(rng.standard_normal((8, 5)) * 2 + 3)
    rm, rv = bn.running_mean.copy(), bn.running_var.copy()
    x = rng.standard_normal((1, 5))  # batch of one is fine in eval mode
    bn.eval()
    y = bn(x)
    np.testing.assert_allclose(y, (x - rm) / np.sqrt(rv + 1e-5) * bn.weight.data + bn.bias.data, rtol=1e-12)
    np.testing.assert_array_equal(bn.running_mean, rm)  # eval does not update
    np.testing.assert_array_equal(bn.running_var, rv)
    x8 = rng.standard_normal((8, 5))
    y_eval = bn(x8)
    bn.train()
    y_train = bn(x8)
    assert not np.allclose(y_eval, y_train)  # the two modes really differ
    # Training output does not depend on the running statistics.
    bn.running_mean[...] = 100.0
    np.testing.assert_allclose(bn(x8), y_train, rtol=1e-12)


@given(x=batches(min_n=2, max_n=6, min_d=1, max_d=5), seed=st.integers(0, 2**31))
def test_batch_norm_train_gradients_fd(x, seed):
    bn = BatchNorm1d(x.shape[1], dtype=np.float64)
    randomize_affine(bn, np.random.default_rng(seed))
    check_module_gradients(bn, spread(x), seed=seed)


@given(x=batches(min_n=1, max_n=5, min_d=1, max_d=5), seed=st.integers(0, 2**31))
def test_batch_norm_eval_gradients_fd(x, seed):
    r = np.random.default_rng(seed)
    bn = BatchNorm1d(x.shape[1], dtype=np.float64)
    randomize_affine(bn, r)
    bn.running_mean[...] = r.standard_normal(x.shape[1])
    bn.running_var[...] = r.uniform(0.5, 2.0, x.shape[1])
    bn.eval()
    check_module_gradients(bn, x, seed=seed)


@given(x=batches(min_n=2, max_n=5, min_d=1, max_d=5))
def test_batch_norm_no_affine_gradients_fd(x):
    bn = BatchNorm1d(x.shape[1], affine=False, dtype=np.float64)
    assert bn.parameters() == []
    x = spread(x)
    np.testing.assert_allclose(bn(x), bn_train_ref(x, 1.0, 0.0, 0, 1)[0], rtol=1e-10, atol=1e-12)
    check_module_gradients(bn, x)


def test_batch_norm_eval_backward_without_param_grads(rng):
    bn = BatchNorm1d(3, affine=False, dtype=np.float64)
    bn.running_var[...] = [0.5, 1.0, 4.0]
    bn.eval()
    x, dy = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    y, ctx = bn.forward(x)
    np.testing.assert_allclose(bn.backward(dy, ctx), dy / np.sqrt(bn.running_var + 1e-5), rtol=1e-12)


def test_batch_norm_two_forwards_in_flight(rng):
    bn = BatchNorm1d(4, dtype=np.float64)
    x1, x2, g = rng.standard_normal((5, 4)), rng.standard_normal((5, 4)) * 3, rng.standard_normal((5, 4))
    _, c1 = bn.forward(x1)
    ref = bn.backward(g, c1)
    _, c1 = bn.forward(x1)
    bn.forward(x2)
    np.testing.assert_array_equal(bn.backward(g, c1), ref)


def test_batch_norm_float32_matches_float64(rng):
    x = rng.standard_normal((64, 40)) * 3 + 50
    b32, b64 = BatchNorm1d(40, dtype=np.float32), BatchNorm1d(40, dtype=np.float64)
    y32, c32 = b32.forward(x.astype(np.float32))
    y64, c64 = b64.forward(x)
    np.testing.assert_allclose(y32, y64, atol=1e-4)
    np.testing.assert_allclose(b32.running_var, b64.running_var, rtol=1e-5)
    g = rng.standard_normal(x.shape)
    np.testing.assert_allclose(b32.backward(g.astype(np.float32), c32), b64.backward(g, c64), atol=1e-4)


def test_buffers_in_state_dict():
    bn = BatchNorm1d(3)
    sd = bn.state_dict()
    assert set(sd) == {"weight", "bias", "running_mean", "running_var"}
    np.testing.assert_array_equal(sd["running_var"], np.ones(3, np.float32))
    assert bn.weight.decay is False and bn.bias.decay is False
    assert LayerNorm(3).weight.decay is False


# -- determinism ------------------------------------------------------------------------------------


# -- bad inputs -------------------------------------------------------------------------------------

def test_batch_norm_batch_of_one_in_training_raises():
    bn = BatchNorm1d(3)
    with pytest.raises(ValueError, match="at least 2 rows"):
        bn.forward(np.ones((1, 3), np.float32))
    with pytest.raises(ValueError, match="at least 2 rows"):
        _core.nn.batch_norm_forward(np.ones((1, 3), np.float32), training=True)


@pytest.mark.parametrize("cls", [LayerNorm, BatchNorm1d])
def test_norm_bad_inputs(cls, rng):
    layer = cls(4)
    with pytest.raises(TypeError, match="float32"):
        layer.forward(rng.standard_normal((3, 4)))  # float64 into a float32 layer
    rows = [[1.0, 2.0, 3.0, 4.0], [0.5, -1.0, 2.0, 0.0]]  # a list becomes an array of the layer's dtype
    np.testing.assert_array_equal(layer.forward(rows)[0], layer.forward(np.array(rows, np.float32))[0])
    with pytest.raises(ValueError, match=r"\(.*4\)"):
        layer.forward(np.zeros((3, 5), np.float32))
    with pytest.raises(ValueError, match="C-contiguous"):
        layer.forward(np.zeros((3, 8), np.float32)[:, ::2])
    with pytest.raises(ValueError, match="empty"):
        layer.forward(np.zeros((0, 4), np.float32))
    with pytest.raises(ValueError, match="num_features"):
        cls(0)
    with pytest.raises(ValueError, match="eps"):
        cls(3, eps=0.0)
    with pytest.raises(TypeError, match="dtype"):
        cls(3, dtype=np.int32)


def test_batch_norm_bad_parameters_and_kernel_args():
    with pytest.raises(ValueError, match="momentum"):
        BatchNorm1d(3, momentum=1.5)
    with pytest.raises(ValueError, match=r"shape \(N, 3\)"):
        BatchNorm1d(3).forward(np.zeros((2, 3, 1), np.float32))
    x = np.ones((4, 3), np.float32)
    with pytest.raises(ValueError, match="eval mode needs running_mean"):
        _core.nn.batch_norm_forward(x, training=False)
    with pytest.raises(ValueError, match="together"):
        _core.nn.batch_norm_forward(x, np.ones(3, np.float32), None)
    with pytest.raises(ValueError, match="running_var must have shape"):
        _core.nn.batch_norm_forward(x, None, None, np.zeros(3, np.float32), np.ones(4, np.float32))
    with pytest.raises(TypeError, match="running_mean must have dtype float32"):
        _core.nn.batch_norm_forward(x, None, None, np.zeros(3), np.ones(3))
    ro = np.zeros(3, np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="writeable"):
        _core.nn.batch_norm_forward(x, None, None, ro, np.ones(3, np.float32))
    with pytest.raises(ValueError, match="mean must have shape"):
        _core.nn.batch_norm_backward(x, np.zeros(4, np.float32), np.ones(3, np.float32), x)
    with pytest.raises(ValueError, match="grad_output must have shape"):
        _core.nn.layer_norm_backward(x, np.zeros(4, np.float32), np.ones(4, np.float32), x[:2])


# -- optional PyTorch oracle ----------------------------------------------------------------------------

def test_against_torch(rng):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((10, 6))
    dy = rng.standard_normal((10, 6))
    for ours, theirs in ((BatchNorm1d(6, dtype=np.float64), torch.nn.BatchNorm1d(6).double()),
                         (LayerNorm(6, dtype=np.float64), torch.nn.LayerNorm(6).double())):
        randomize_affine(ours, rng)
        with torch.no_grad():
            theirs.weight.copy_(torch.from_numpy(ours.weight.data))
            theirs.bias.copy_(torch.from_numpy(ours.bias.data))
        xt = torch.from_numpy(x.copy()).requires_grad_(True)
        yt = theirs(xt)
        yt.backward(torch.from_numpy(dy))
        y, ctx = ours.forward(x)
        dx = ours.backward(dy, ctx)
        np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(ours.weight.grad, theirs.weight.grad.numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(ours.bias.grad, theirs.bias.grad.numpy(), rtol=1e-10, atol=1e-12)
        for name, buf in ours.named_buffers():
            np.testing.assert_allclose(buf, getattr(theirs, name).numpy(), rtol=1e-12)
