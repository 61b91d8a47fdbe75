import numpy as np
import pytest
from hypothesis import given, strategies as st

from pyssl import _core
from pyssl.nn.conv import Conv1d, Conv2d, ConvEncoder1d, ConvEncoder2d, Flatten, GlobalAvgPool
from pyssl.testing import check_module_gradients


def conv2d_ref(x, w, b, stride, pad, dilation=(1, 1), pad_end=None):
    """Direct definition: y[n,o,p,q] = b[o] + Σ_{c,i,j} w[o,c,i,j] x_pad[n,c,p·s+i·d,q·s+j·d]."""
    pad_end = pad if pad_end is None else pad_end
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad[0], pad_end[0]), (pad[1], pad_end[1])))
    sh, sw = dilation[0] * (kh - 1) + 1, dilation[1] * (kw - 1) + 1
    ho = (xp.shape[2] - sh) // stride[0] + 1
    wo = (xp.shape[3] - sw) // stride[1] + 1
    y = np.zeros((n, o, ho, wo))
    for p in range(ho):
        for q in range(wo):
            patch = xp[:, :, p * stride[0]:p * stride[0] + sh:dilation[0], q * stride[1]:q * stride[1] + sw:dilation[1]]
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


@given(n=st.integers(1, 2), c=st.integers(1, 3), h=st.integers(3, 9), w=st.integers(3, 9), o=st.integers(1, 3),
       k=st.integers(1, 3), s=st.integers(1, 2), p=st.integers(0, 2), d=st.integers(1, 3), seed=st.integers(0, 1000))
def test_dilated_conv2d_forward_matches_definition(n, c, h, w, o, k, s, p, d, seed):
    if h + 2 * p < d * (k - 1) + 1 or w + 2 * p < d * (k - 1) + 1:
        return
    rng = np.random.default_rng(seed)
    layer = Conv2d(c, o, k, stride=s, padding=p, dilation=d, dtype=np.float64, seed=seed)
    x = rng.standard_normal((n, c, h, w))
    np.testing.assert_allclose(layer(x), conv2d_ref(x, layer.weight.data, layer.bias.data, (s, s), (p, p), (d, d)),
                               rtol=1e-10, atol=1e-12)


@given(n=st.integers(1, 2), c=st.integers(1, 2), h=st.integers(3, 6), w=st.integers(3, 6), o=st.integers(1, 2),
       k=st.integers(1, 3), s=st.integers(1, 2), d=st.integers(1, 2), seed=st.integers(0, 1000))
def test_dilated_conv2d_gradients_fd(n, c, h, w, o, k, s, d, seed):
    p = d * (k - 1) // 2
    layer = Conv2d(c, o, k, stride=s, padding=p, dilation=(d, 1), dtype=np.float64, seed=seed)
    x = np.random.default_rng(seed).standard_normal((n, c, h, w))
    check_module_gradients(layer, x, seed=seed)


@given(n=st.integers(1, 3), c=st.integers(1, 3), t=st.integers(1, 14), k=st.integers(1, 4), d=st.integers(1, 4),
       mode=st.sampled_from(["same", "causal"]), seed=st.integers(0, 1000))
def test_conv1d_same_and_causal_match_definition_and_fd(n, c, t, k, d, mode, seed):
    rng = np.random.default_rng(seed)
    layer = Conv1d(c, 2, k, padding=mode, dilation=d, dtype=np.float64, seed=seed)
    x = rng.standard_normal((n, c, t))
    total = d * (k - 1)
    left = total if mode == "causal" else total // 2
    ref = conv2d_ref(x[:, :, None, :], layer.weight.data, layer.bias.data, (1, 1), (0, left), (1, d),
                     (0, total - left))[:, :, 0, :]
    y = layer(x)
    assert y.shape == (n, 2, t)
    np.testing.assert_allclose(y, ref, rtol=1e-10, atol=1e-12)
    check_module_gradients(layer, x, seed=seed)


def test_causal_conv1d_output_depends_only_on_the_past(rng):
    layer = Conv1d(2, 3, 3, padding="causal", dilation=2, dtype=np.float64, seed=0)
    x = rng.standard_normal((1, 2, 12))
    y = layer(x)
    x2 = x.copy()
    x2[:, :, 7:] += 5.0
    y2 = layer(x2)
    np.testing.assert_array_equal(y[:, :, :7], y2[:, :, :7])
    assert not np.allclose(y[:, :, 7:], y2[:, :, 7:])


@given(n=st.integers(1, 2), c=st.integers(1, 2), t=st.integers(4, 12), k=st.integers(1, 3), s=st.integers(1, 3),
       p=st.integers(0, 3), d=st.integers(1, 3), seed=st.integers(0, 1000))
def test_conv1d_dilated_strided_fd(n, c, t, k, s, p, d, seed):
    if t + 2 * p < d * (k - 1) + 1:
        return
    layer = Conv1d(c, 2, k, stride=s, padding=p, dilation=d, dtype=np.float64, seed=seed)
    x = np.random.default_rng(seed).standard_normal((n, c, t))
    ref = conv2d_ref(x[:, :, None, :], layer.weight.data, layer.bias.data, (1, s), (0, p), (1, d))[:, :, 0, :]
    np.testing.assert_allclose(layer(x), ref, rtol=1e-10, atol=1e-12)
    check_module_gradients(layer, x, seed=seed)


def test_conv_dilation_and_padding_bad_values(rng):
    with pytest.raises(ValueError, match="dilation"):
        Conv2d(1, 1, 3, dilation=0)
    with pytest.raises(ValueError, match="dilation"):
        Conv1d(1, 1, 3, dilation=0)
    with pytest.raises(ValueError, match="padding"):
        Conv1d(1, 1, 3, padding="left")
    with pytest.raises(ValueError, match="stride 1"):
        Conv2d(1, 1, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match="spans"):
        Conv1d(1, 1, 3, dilation=4)(np.zeros((1, 1, 5), np.float32))


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


@pytest.mark.parametrize("t,d,k,pad,s", [(5, 8, 3, "same", 1), (3, 16, 2, "causal", 1), (9, 4, 3, 6, 2), (1, 2, 3, 2, 1)])
def test_conv1d_taps_reading_only_padding(rng, t, d, k, pad, s):
    """Taps whose reads all fall in the padding are skipped by the kernel: same values and gradients."""
    layer = Conv1d(2, 3, k, stride=s, padding=pad, dilation=d, dtype=np.float64, seed=1)
    x = rng.standard_normal((2, 2, t))
    left = d * (k - 1) if pad == "causal" else (d * (k - 1)) // 2 if pad == "same" else pad
    right = 0 if pad == "causal" else d * (k - 1) - left if pad == "same" else pad
    ref = conv2d_ref(x[:, :, None, :], layer.weight.data, layer.bias.data, (1, s), (0, left), (1, d), (0, right))
    np.testing.assert_allclose(layer(x), ref[:, :, 0, :], rtol=1e-10, atol=1e-12)
    check_module_gradients(layer, x)
    # the skipped taps get a zero weight gradient, also when accumulating onto an old one
    y, ctx = layer.forward(x)
    layer.zero_grad()
    layer.backward(np.ones_like(y), ctx)
    g1 = layer.weight.grad.copy()
    layer.backward(np.ones_like(y), ctx)
    np.testing.assert_allclose(layer.weight.grad, 2 * g1)


def test_conv_with_no_live_tap_is_the_bias(rng):
    layer = Conv2d(1, 2, 1, stride=4, padding=3, dtype=np.float64, seed=0)
    x = rng.standard_normal((1, 1, 1, 1))
    y = layer(x)
    np.testing.assert_allclose(y, np.broadcast_to(layer.bias.data[None, :, None, None], y.shape))
    check_module_gradients(layer, x)


@pytest.mark.parametrize("h, w, k, s, p", [(1, 1, 3, 1, 1), (2, 1, 3, 2, 2), (1, 3, 3, 1, 2), (4, 4, 3, 1, 1)])
def test_im2col_rebuilds_the_forward_columns_with_dead_taps(h, w, k, s, p):
    # taps that read only padding (3×3, padding 1 on a 1×1 input) are left out of the forward's
    # columns (their rows zero); im2col (ResNet's rebuilt columns) must give the same bits, and
    # conv2d_backward on them the same weight gradient (0 for the dead taps)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, h, w))
    wt = rng.standard_normal((4, 3, k, k))
    y, cols = _core.nn.conv2d_forward(x, wt, None, (s, s), (p, p))
    rebuilt = _core.nn.im2col(x, (k, k), (s, s), (p, p))
    assert rebuilt.tobytes() == cols.tobytes()
    dy = rng.standard_normal(y.shape)
    grads = []
    for c in (cols, rebuilt):
        dw = np.zeros_like(wt)
        _core.nn.conv2d_backward(c, wt, dy, list(x.shape), dw, None, (s, s), (p, p), False, False)
        grads.append(dw)
    np.testing.assert_array_equal(grads[0], grads[1])
    # oracle: the weight gradient by direct correlation over the zero-padded input
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    ref = np.zeros_like(wt)
    for i in range(k):
        for j in range(k):
            patch = xp[:, :, i:i + s * y.shape[2]:s, j:j + s * y.shape[3]:s][:, :, :y.shape[2], :y.shape[3]]
            ref[:, :, i, j] = np.einsum("nopq,ncpq->oc", dy, patch)
    np.testing.assert_allclose(grads[0], ref, rtol=1e-10, atol=1e-12)
