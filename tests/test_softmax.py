"""Softmax / LogSoftmax over the last dim: values vs numpy, finite-difference gradients,
stability for huge logits, bad inputs."""
import numpy as np
import pytest
from hypothesis import given

import pyssl
from pyssl import _core
from pyssl.nn import LogSoftmax, Softmax
from pyssl.testing import batches, check_module_gradients


def softmax_ref(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def log_softmax_ref(x):
    m = x.max(axis=-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=-1, keepdims=True))


@pytest.mark.parametrize("cls,ref", [(Softmax, softmax_ref), (LogSoftmax, log_softmax_ref)])
def test_values_match_numpy(cls, ref, rng):
    x = rng.standard_normal((6, 9)) * 4
    np.testing.assert_allclose(cls()(x), ref(x), rtol=1e-12, atol=1e-15)
    x3 = rng.standard_normal((2, 3, 5))
    np.testing.assert_allclose(cls()(x3), ref(x3), rtol=1e-12, atol=1e-15)


def test_softmax_rows_sum_to_one_and_log_consistent(rng):
    x = rng.standard_normal((7, 11)) * 10
    p = Softmax()(x)
    np.testing.assert_allclose(p.sum(1), 1, rtol=1e-12)
    np.testing.assert_allclose(np.exp(LogSoftmax()(x)), p, rtol=1e-12)
    np.testing.assert_allclose(Softmax()(x + 123.0), p, rtol=1e-10)  # shift invariance


def test_single_class_and_uniform_rows():
    np.testing.assert_array_equal(Softmax()(np.array([[3.0], [-2.0]])), [[1.0], [1.0]])
    np.testing.assert_allclose(LogSoftmax()(np.zeros((2, 4))), np.full((2, 4), -np.log(4)), rtol=1e-14)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_huge_logits_are_stable(dtype):
    x = np.array([[1e4, 0.0, -1e4], [-1e30, -1e30, -1e30]], dtype=dtype)
    p = Softmax()(x)
    lp = LogSoftmax()(x)
    assert np.all(np.isfinite(p)) and np.all(np.isfinite(lp))
    np.testing.assert_allclose(p, [[1, 0, 0], [1 / 3, 1 / 3, 1 / 3]], rtol=1e-6)
    np.testing.assert_allclose(lp[0], [0, -1e4, -2e4], rtol=1e-6)


@pytest.mark.parametrize("cls", [Softmax, LogSoftmax])
@given(x=batches(min_n=1, max_n=5, min_d=1, max_d=7))
def test_gradients_fd(cls, x):
    check_module_gradients(cls(), x * 2)


def test_backward_closed_form(rng):
    x, g = rng.standard_normal((4, 5)), rng.standard_normal((4, 5))
    s = softmax_ref(x)
    jac_vec = np.einsum("nk,nkj->nj", g, s[:, :, None] * (np.eye(5)[None] - s[:, None, :]))
    y, ctx = Softmax().forward(x)
    np.testing.assert_allclose(Softmax().backward(g, ctx), jac_vec, rtol=1e-10, atol=1e-14)
    y, ctx = LogSoftmax().forward(x)
    np.testing.assert_allclose(LogSoftmax().backward(g, ctx), g - s * g.sum(1, keepdims=True), rtol=1e-10)


def test_bad_inputs():
    with pytest.raises(TypeError, match="float32 or float64"):
        Softmax()(np.ones((2, 3), np.int64))
    with pytest.raises(ValueError, match="C-contiguous"):
        Softmax()(np.ones((3, 4))[:, ::2])
    with pytest.raises(ValueError, match="empty"):
        LogSoftmax()(np.ones((0, 3)))
    with pytest.raises(ValueError, match="empty"):
        Softmax()(np.ones((3, 0)))
    with pytest.raises(ValueError, match="at least 1 dimension"):
        Softmax()(np.array(1.0))
    y = Softmax()(np.ones((2, 3)))
    with pytest.raises(ValueError, match="grad_output must have shape"):
        _core.nn.softmax_backward(y, np.ones((3, 2)))
    with pytest.raises(TypeError, match="grad_output must have dtype float64"):
        _core.nn.softmax_backward(y, np.ones((2, 3), np.float32))


@pytest.mark.parametrize("dtype,lo,rtol", [(np.float64, -700.0, 3e-14), (np.float32, -80.0, 1e-5)])
def test_exp_accuracy_over_the_whole_range(dtype, lo, rtol):
    """The kernels' vectorised exp (csrc/core/fast_math.hpp) against numpy across the normal range."""
    x = np.linspace(lo, 0.0, 100_003).astype(dtype)
    x[-1] = 0.0
    ref = np.exp(x.astype(np.float64))  # max is 0, so softmax numerators are exp(x)
    y = _core.nn.softmax_forward(x[None], False)[0] * ref.sum()
    np.testing.assert_allclose(y, ref, rtol=rtol * 10, atol=0)  # includes the 1/Σ rounding
    # log_softmax backward with dy = e_0 gives dx = e_0 − exp(y), exp evaluated elementwise.
    ls = _core.nn.softmax_forward(x[None], True)
    dy = np.zeros_like(ls)
    dx = _core.nn.softmax_backward(ls, dy + (np.arange(x.size) == 0), True)[0]
    sm = np.exp(ls[0].astype(np.float64))
    tiny = np.finfo(dtype).tiny * 1e3  # below ~1e3 × the smallest normal, exp may flush to 0
    ok = sm > tiny
    ok[0] = False
    np.testing.assert_allclose(-dx[ok], sm[ok], rtol=rtol, atol=0)
    assert np.all(np.abs(dx[1:][~ok[1:]]) <= tiny)
    # Far below the range the result is exactly 0, never NaN.
    far = np.array([[0.0, -1e4, -np.finfo(dtype).max]], dtype=dtype)
    np.testing.assert_array_equal(_core.nn.softmax_forward(far, False), [[1, 0, 0]])
