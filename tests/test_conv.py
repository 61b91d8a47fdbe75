import numpy as np
import pytest
from hypothesis import given, strategies as st

from pyssl.nn.conv import Conv1d, Conv2d, ConvEncoder1d, ConvEncoder2d, Flatten, GlobalAvgPool
from pyssl.testing import check_module_gradients


def conv2d_ref(x, w, b, stride, pad):
    """Direct definition: y[n,o,p,q] = b[o] + Σ_{c,i,j} w[o,c,i,j] x_pad[n,c,p·s+i,q·s+j]."""
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad[0], pad[0]), (pad[1], pad[1])))
    ho = (h + 2 * pad[0] - kh) // stride[0] + 1
    wo = (wd + 2 * pad[1] - kw) // stride[1] + 1
    y = np.zeros((n, o, ho, wo))
    for p in range(ho):
        for q in range(wo):
            patch = xp[:, :, p * stride[0]:p * stride[0] + kh, q * stride[1]:q * stride[1] + kw]
            y[:, :, p, q] = np.einsum("ncij,ocij->no", patch, w)
    return y + (b[None, :, None, None] if b is not None else 0)


@given(n=st.integers(1, 3), c=st.integers(1, 3), h=st.integers(3, 7), w=st.integers(3, 7), o=st.integers(1, 3),
       k=st.integers(1, 3), s=st.integers(1, 2), p=st.integers(0, 1), seed=st.integers(0, 1000))
def test_conv2d_forward_matches_definition(n, c, h, w, o, k, s, p, seed):
    rng = np.random.default_rng(seed)
    layer = Conv2d(c, o, k, stride=s, padding=p, dtype=np.float64, seed=seed)
    x = rng.standard_normal((n, c, h, w))
    np.testing.assert_allclose(layer(x), conv2d_ref(x, layer.weight.data, layer.bias.data, (s, s), (p, p)),
                               rtol=1e-10, atol=1e-12)


@given(n=st.integers(1, 2), c=st.integers(1, 2), h=st.integers(3, 5), w=st.integers(3, 5), o=st.integers(1, 2),
       k=st.integers(1, 3), s=st.integers(1, 2), p=st.integers(0, 1), seed=st.integers(0, 1000))
def test_conv2d_gradients_fd(n, c, h, w, o, k, s, p, seed):
    layer = Conv2d(c, o, k, stride=s, padding=p, dtype=np.float64, seed=seed)
    x = np.random.default_rng(seed).standard_normal((n, c, h, w))
    check_module_gradients(layer, x, seed=seed)


@given(n=st.integers(1, 3), c=st.integers(1, 3), t=st.integers(3, 12), k=st.integers(1, 4), seed=st.integers(0, 1000))
def test_conv1d_gradients_fd(n, c, t, k, seed):
    layer = Conv1d(c, 2, k, padding=k // 2, dtype=np.float64, seed=seed)
    x = np.random.default_rng(seed).standard_normal((n, c, t))
    check_module_gradients(layer, x, seed=seed)


def test_pool_and_flatten_gradients(rng):
    check_module_gradients(GlobalAvgPool(), rng.standard_normal((3, 4, 5)))
    check_module_gradients(Flatten(), rng.standard_normal((2, 3, 4)))
    np.testing.assert_allclose(GlobalAvgPool()(rng.standard_normal((2, 3, 4, 5))).shape, (2, 3))


def test_encoders_shapes_and_gradients(rng):
    e1 = ConvEncoder1d(2, channels=(3, 4), kernel_size=3, dtype=np.float64, seed=0)
    assert e1(rng.standard_normal((2, 2, 9))).shape == (2, 4)
    check_module_gradients(e1, rng.standard_normal((2, 2, 6)))
    e2 = ConvEncoder2d(1, channels=(2, 3), dtype=np.float64, seed=0)
    assert e2(rng.standard_normal((2, 1, 8, 8))).shape == (2, 3)
    check_module_gradients(e2, rng.standard_normal((2, 1, 5, 5)))


def test_conv_bad_inputs(rng):
    layer = Conv2d(3, 2, 3)
    with pytest.raises(ValueError, match="channels"):
        layer(rng.standard_normal((1, 2, 5, 5)).astype(np.float32))
    with pytest.raises(ValueError, match="larger than the padded input"):
        layer(rng.standard_normal((1, 3, 2, 2)).astype(np.float32))
    with pytest.raises(ValueError, match="4-D"):
        layer(rng.standard_normal((3, 5, 5)).astype(np.float32))
    with pytest.raises(ValueError):
        Conv2d(3, 2, 0)
    with pytest.raises(ValueError, match="Conv1d expects"):
        Conv1d(1, 1, 3)(np.zeros((2, 5), np.float32))


def test_l2_normalize_values_gradients_and_zero_rows(rng):
    from pyssl.nn import L2Normalize, l2_normalize

    z = rng.standard_normal((5, 4))
    np.testing.assert_allclose(l2_normalize(z), z / np.linalg.norm(z, axis=1, keepdims=True), rtol=1e-12)
    check_module_gradients(L2Normalize(), z)
    zero = np.zeros((2, 3), np.float32)
    out = l2_normalize(zero)
    assert np.all(out == 0) and np.all(np.isfinite(out))
