"""The oneDNN convolution engine (csrc/nn/conv_dnnl.*) against the float64 im2col path: float32
within the float32 rounding bound of a K-term sum, bf16-mixed exactly the convolution of the
bfloat16-rounded operands up to float32 sums (and within bf16's 8-bit-significand bound of the
float32 result), bit-identical results at 1, 2 and 3 threads, the engine switch, and the errors of
a build without oneDNN."""
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import pyssl
from pyssl import _core
from pyssl.nn import Conv1d, Conv2d, ResNet, precision
from pyssl.nn.conv import _DnnlContext

HAVE = bool(_core.nn.conv_engine_config()["available"])
needs_dnnl = pytest.mark.skipif(not HAVE, reason="pyssl built without oneDNN")
U32 = 2.0 ** -24  # float32 unit roundoff
U16 = 2.0 ** -8   # bfloat16 unit roundoff (8-bit significand)


def bf16_round(x):
    """float32 → bfloat16 (round to nearest even) → float32, from the bit patterns."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    u = x.view(np.uint32).astype(np.uint64)
    lower, upper = u & 0xFFFF, u >> 16
    up = (lower > 0x8000) | ((lower == 0x8000) & (upper & 1 == 1))
    return ((upper + up) << 16).astype(np.uint32).view(np.float32)


@st.composite
def conv_cases(draw):
    one_d = draw(st.booleans())
    n, c, o = draw(st.integers(1, 5)), draw(st.integers(1, 6)), draw(st.integers(1, 7))
    kh = 1 if one_d else draw(st.integers(1, 3))
    kw = draw(st.integers(1, 4))
    sh = 1 if one_d else draw(st.integers(1, 2))
    sw = draw(st.integers(1, 3))
    dh = 1 if one_d else draw(st.integers(1, 2))
    dw = draw(st.integers(1, 3))
    ph, pw = (0 if one_d else draw(st.integers(0, 2))), draw(st.integers(0, 3))
    phe, pwe = (0 if one_d else draw(st.integers(0, 2))), draw(st.integers(0, 3))
    h = 1 if one_d else draw(st.integers(max(1, dh * (kh - 1) + 1 - ph - phe), 9))
    w = draw(st.integers(max(1, dw * (kw - 1) + 1 - pw - pwe), 12))
    return (n, c, h, w), (o, c, kh, kw), (sh, sw), (ph, pw), (phe, pwe), (dh, dw)


def reference(x, w, b, dy, stride, pad, pad_end, dil):
    """float64 im2col path: y, dx, dw, db."""
    y, cols = _core.nn.conv2d_forward(x, w, b, stride, pad, dil, pad_end)
    dw = np.zeros_like(w)
    db = None if b is None else np.zeros_like(b)
    dx = _core.nn.conv2d_backward(cols, w, dy, list(x.shape), dw, db, stride, pad, False, True, dil, pad_end)
    return y, dx, dw, db


class wgrad_path:
    """bf16 backward-weights on oneDNN's primitive (-1) or on the im2col GEMMs of
    csrc/nn/conv_wgrad_gemm.cpp (1), for the body of a with-block."""

    def __init__(self, mode):
        self.mode = mode

    def __enter__(self):
        self.saved = _core.nn.conv_engine_config()["wgrad_gemm"] if HAVE else 0
        if HAVE:
            _core.nn.conv_engine_config(wgrad_gemm=self.mode)

    def __exit__(self, *exc):
        if HAVE:
            _core.nn.conv_engine_config(wgrad_gemm=self.saved)


def dnnl(x, w, b, dy, stride, pad, pad_end, dil, bf16=False):
    y = _core.nn.conv2d_dnnl_forward(x, w, b, stride, pad, dil, pad_end, bf16)
    dw = np.full(w.shape, np.nan, np.float32)
    db = None if b is None else np.full(b.shape, np.nan, np.float32)
    dx = _core.nn.conv2d_dnnl_backward(x, w, dy, dw, db, stride, pad, False, True, dil, pad_end, bf16)
    return y, dx, dw, db


def operands(case, seed, bias):
    xs, ws, *_ = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(xs).astype(np.float32)
    w = rng.standard_normal(ws).astype(np.float32)
    b = rng.standard_normal(ws[0]).astype(np.float32) if bias else None
    y = _core.nn.conv2d_forward(x.astype(np.float64), w.astype(np.float64), None, *case[2:4], case[5], case[4])[0]
    dy = rng.standard_normal(y.shape).astype(np.float32)
    return x, w, b, dy


def assert_within_sum_bound(got, want, abs_sum, k, unit, what):
    """|got − want| <= (unit + 2·k·u32)·Σ|terms| + tiny: the rounding bound of a k-term float32 sum
    of products whose operands carry a relative error `unit` (0 for float32 inputs)."""
    bound = (unit + 2 * k * U32) * abs_sum + 1e-30
    err = np.abs(got.astype(np.float64) - want)
    worst = float((err - bound).max())
    assert worst <= 0, f"{what}: error exceeds the bound by {worst:.3g} (max error {err.max():.3g})"


def abs_sums(x, w, dy, case):
    """Σ|terms| of each output of the three passes (the same convolutions on |x|, |w|, |dy|)."""
    stride, pad, pad_end, dil = case[2], case[3], case[4], case[5]
    return reference(np.abs(x).astype(np.float64), np.abs(w).astype(np.float64), None,
                     np.abs(dy).astype(np.float64), stride, pad, pad_end, dil)[:3]


def pass_lengths(case, dy_shape):
    (n, c, h, w), (o, _, kh, kw) = case[0], case[1]
    return c * kh * kw, o * kh * kw, n * dy_shape[2] * dy_shape[3]


@needs_dnnl
@settings(max_examples=60, deadline=None)
@given(case=conv_cases(), bias=st.booleans(), seed=st.integers(0, 10_000))
def test_fp32_passes_match_float64_im2col_within_the_k_term_bound(case, bias, seed):
    x, w, b, dy = operands(case, seed, bias)
    stride, pad, pad_end, dil = case[2], case[3], case[4], case[5]
    f64 = [None if a is None else a.astype(np.float64) for a in (x, w, b, dy)]
    want = reference(*f64, stride, pad, pad_end, dil)
    got = dnnl(x, w, b, dy, stride, pad, pad_end, dil)
    sums = abs_sums(x, w, dy, case)
    ks = pass_lengths(case, dy.shape)
    bias_sum = 0 if b is None else np.abs(b)[None, :, None, None]
    assert_within_sum_bound(got[0], want[0], sums[0] + bias_sum, ks[0] + 1, 0.0, "y")
    assert_within_sum_bound(got[1], want[1], sums[1], ks[1], 0.0, "dx")
    assert_within_sum_bound(got[2], want[2], sums[2], ks[2], 0.0, "dw")
    if b is not None:
        np.testing.assert_allclose(got[3], want[3], rtol=0, atol=2 * ks[2] * U32 * np.abs(dy).sum((0, 2, 3)).max())


@needs_dnnl
@pytest.mark.parametrize("wgrad_gemm", [-1, 1])
@settings(max_examples=40, deadline=None)
@given(case=conv_cases(), bias=st.booleans(), seed=st.integers(0, 10_000))
def test_bf16_passes_are_the_convolutions_of_the_rounded_operands(wgrad_gemm, case, bias, seed):
    """bf16-mixed: y = b + bf16(x) * bf16(w), dx = bf16(dy) *ᵀ bf16(w), dw = corr(bf16(x), bf16(dy))
    with float32 sums: within the float32 k-term bound of the float64 convolution of the rounded
    operands; and within bf16's bound (2·2⁻⁸ per product) of the float32 result. Both weight-gradient
    paths: oneDNN's backward-weights primitive and the im2col GEMMs."""
    x, w, b, dy = operands(case, seed, bias)
    stride, pad, pad_end, dil = case[2], case[3], case[4], case[5]
    with wgrad_path(wgrad_gemm):
        got = dnnl(x, w, b, dy, stride, pad, pad_end, dil, bf16=True)
    rounded = [bf16_round(a).astype(np.float64) for a in (x, w, dy)]
    want = reference(rounded[0], rounded[1], None if b is None else b.astype(np.float64), rounded[2],
                     stride, pad, pad_end, dil)
    sums = abs_sums(*rounded, case)
    ks = pass_lengths(case, dy.shape)
    bias_sum = 0 if b is None else np.abs(b)[None, :, None, None]
    for i, name in enumerate(("y", "dx", "dw")):
        assert_within_sum_bound(got[i], want[i], sums[i] + (bias_sum if i == 0 else 0), ks[i] + 1, 0.0, name)
    exact = reference(*[None if a is None else a.astype(np.float64) for a in (x, w, b, dy)], stride, pad, pad_end, dil)
    sums = abs_sums(x, w, dy, case)
    for i, name in enumerate(("y", "dx", "dw")):
        assert_within_sum_bound(got[i], exact[i], sums[i] + (bias_sum if i == 0 else 0), ks[i] + 1,
                                2 * U16 + U16 ** 2, name + " against float32")


@needs_dnnl
@pytest.mark.parametrize("bf16", [False, True])
@pytest.mark.parametrize("shape", [((7, 5, 9, 8), (6, 5, 3, 3), (2, 1), (1, 0), (0, 2), (2, 1)),
                                   ((35, 3, 1, 40), (4, 3, 1, 5), (1, 2), (0, 4), (0, 0), (1, 3)),
                                   ((1, 4, 6, 6), (3, 4, 3, 3), (1, 1), (1, 1), (1, 1), (1, 1)),
                                   # weights > 4 MiB: backward-weights in chunks of 64 output channels
                                   ((3, 512, 3, 3), (256, 512, 3, 3), (1, 1), (1, 1), (1, 1), (1, 1))])
def test_passes_are_bit_identical_at_1_2_and_3_threads(shape, bf16):
    x, w, b, dy = operands(shape, 3, True)
    before = pyssl.get_num_threads()
    for mode in ((-1, 1) if bf16 else (0,)):  # bf16: both weight-gradient paths
        runs = []
        try:
            with wgrad_path(mode):
                for t in (1, 2, 3):
                    pyssl.set_num_threads(t)
                    runs.append(dnnl(x, w, b, dy, *shape[2:5], shape[5], bf16=bf16))
        finally:
            pyssl.set_num_threads(before)
        for t, run in zip((2, 3), runs[1:]):
            for name, a, r in zip(("y", "dx", "dw", "db"), runs[0], run):
                assert a.tobytes() == r.tobytes(), f"{name} differs between 1 and {t} threads (wgrad_gemm={mode})"


@needs_dnnl
@pytest.mark.parametrize("case", [((4, 3, 6, 5), (2, 3, 3, 3), (1, 1), (1, 1), (1, 1), (1, 1)),
                                  ((2, 512, 3, 3), (256, 512, 3, 3), (1, 1), (1, 1), (1, 1), (1, 1))])
@pytest.mark.parametrize("bf16, wgrad_gemm", [(False, 0), (True, -1), (True, 1)])
def test_accumulate_adds_to_the_gradients_and_need_dx_false_returns_none(case, bf16, wgrad_gemm):
    x, w, b, dy = operands(case, 1, True)
    with wgrad_path(wgrad_gemm):
        _, _, dw, db = dnnl(x, w, b, dy, *case[2:5], case[5], bf16=bf16)
        dw2, db2 = np.ones_like(dw), np.ones_like(db)
        got = _core.nn.conv2d_dnnl_backward(x, w, dy, dw2, db2, case[2], case[3], True, False, case[5], case[4], bf16)
    assert got is None
    np.testing.assert_array_equal(dw2, (dw + 1).astype(np.float32))
    np.testing.assert_array_equal(db2, (db + 1).astype(np.float32))
    if bf16:
        return
    f64 = [a.astype(np.float64) for a in (x, w, b, dy)]
    want = reference(*f64, *case[2:5], case[5])
    sums = abs_sums(x, w, dy, case)
    assert_within_sum_bound(dw, want[2], sums[2], pass_lengths(case, dy.shape)[2], 0.0, "dw")
    dx = _core.nn.conv2d_dnnl_backward(x, w, dy, None, None, case[2], case[3], False, True, case[5], case[4])
    assert dx.shape == x.shape


@needs_dnnl
def test_layers_use_the_engine_and_the_im2col_switch():
    x = np.random.default_rng(0).standard_normal((3, 2, 7, 6)).astype(np.float32)
    layer = Conv2d(2, 4, 3, padding=1, seed=0)
    assert _core.nn.conv_engine() == "onednn"
    y, ctx = layer.forward(x)
    assert type(ctx) is _DnnlContext and not ctx.bf16
    try:
        assert _core.nn.conv_engine_config(engine="im2col")["engine"] == "im2col"
        y2, ctx2 = layer.forward(x)
        assert type(ctx2) is not _DnnlContext
    finally:
        _core.nn.conv_engine_config(engine="onednn")
    k = 2 * 3 * 3
    np.testing.assert_allclose(y, y2, rtol=0, atol=4 * k * U32 * np.abs(y2).max() + 1e-6)
    # float64 never leaves the exact path
    _, ctx64 = Conv2d(2, 4, 3, padding=1, dtype=np.float64, seed=0).forward(x.astype(np.float64))
    assert type(ctx64) is not _DnnlContext
    with precision.autocast("bf16-mixed"):
        _, ctxb = layer.forward(x)
        _, ctx64b = Conv2d(2, 4, 3, dtype=np.float64, seed=0).forward(x.astype(np.float64))
    assert type(ctxb) is _DnnlContext and ctxb.bf16
    assert type(ctx64b) is not _DnnlContext


@needs_dnnl
def test_conv1d_layer_backward_matches_im2col_layer():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((4, 3, 17)).astype(np.float32)
    g = rng.standard_normal((4, 5, 17)).astype(np.float32)
    outs = []
    for engine in ("onednn", "im2col"):
        _core.nn.conv_engine_config(engine=engine)
        try:
            layer = Conv1d(3, 5, 3, padding="causal", dilation=3, seed=1)
            y, ctx = layer.forward(x)
            layer.zero_grad()
            dx = layer.backward(g, ctx)
            outs.append((y, dx, layer.weight.grad.copy(), layer.bias.grad.copy()))
        finally:
            _core.nn.conv_engine_config(engine="onednn")
    for a, b_ in zip(*outs):
        np.testing.assert_allclose(a, b_, rtol=1e-5, atol=1e-4)


@needs_dnnl
def test_resnet_bf16_forward_backward_close_to_fp32():
    """A small ResNet-18 under bf16-mixed against float32: features within bf16's rounding of the
    float32 ones relative to their scale (errors compound over 17 convolutions and batch norms),
    and the same weight-gradient direction. (This tiny network's gradients are ill-conditioned: a
    float32 perturbation of every weight by 2⁻⁹ moves the stem's gradient by ~20%, so only the
    direction of the last convolution's gradient is compared.)"""
    x = np.random.default_rng(2).standard_normal((8, 3, 16, 16)).astype(np.float32)
    net = ResNet(18, 3, width=4, seed=0)
    y32, ctx32 = net.forward(x)
    with precision.autocast("bf16-mixed"):
        yb, ctxb = net.forward(x)
    rel = np.abs(yb - y32).max() / np.abs(y32).max()
    assert 0 < rel < 40 * U16, rel
    g = np.random.default_rng(3).standard_normal(y32.shape).astype(np.float32)
    grads = []
    for ctx in (ctx32, ctxb):
        net.zero_grad()
        net.backward(g, ctx)
        grads.append(net.parameters()[-3].grad.ravel().astype(np.float64))
    assert not np.array_equal(grads[0], grads[1])
    cos = grads[0] @ grads[1] / np.linalg.norm(grads[0]) / np.linalg.norm(grads[1])
    assert cos > 0.98, cos


def test_bad_inputs_name_the_argument():
    x = np.zeros((2, 3, 5, 5), np.float32)
    w = np.zeros((4, 3, 3, 3), np.float32)
    if not HAVE:
        with pytest.raises(ValueError, match="oneDNN"):
            _core.nn.conv2d_dnnl_forward(x, w)
        with pytest.raises(ValueError, match="oneDNN"):
            _core.nn.conv_engine_config(engine="onednn")
        with pytest.raises(RuntimeError, match="oneDNN"):
            precision.check_precision("bf16-mixed")
        return
    with pytest.raises(TypeError, match="x"):
        _core.nn.conv2d_dnnl_forward(x.astype(np.float64), w)
    with pytest.raises(ValueError, match="channels"):
        _core.nn.conv2d_dnnl_forward(x, np.ascontiguousarray(w[:, :2]))
    with pytest.raises(ValueError, match="grad_output"):
        _core.nn.conv2d_dnnl_backward(x, w, np.zeros((2, 4, 2, 2), np.float32), np.zeros_like(w))
    with pytest.raises(ValueError, match="larger than the padded input"):
        _core.nn.conv2d_dnnl_forward(np.zeros((1, 3, 2, 2), np.float32), w)
    with pytest.raises(ValueError, match="'im2col' or 'onednn'"):
        _core.nn.conv_engine_config(engine="cudnn")


def test_environment_switch_is_read_and_checked():
    code = "from pyssl import _core; print(_core.nn.conv_engine())"
    env = dict(os.environ, PYSSL_CONV_ENGINE="im2col")
    # run from outside the checkout, so that the installed package is imported, not the source folder
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True, cwd="/")
    assert out.stdout.strip() == "im2col"
    env["PYSSL_CONV_ENGINE"] = "fast"
    bad = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd="/")
    assert bad.returncode != 0 and "PYSSL_CONV_ENGINE must be 'im2col' or 'onednn'" in bad.stderr


@needs_dnnl
def test_engine_options_reject_values_outside_their_range():
    with pytest.raises(ValueError, match="wgrad_gemm must be -1"):
        _core.nn.conv_engine_config(wgrad_gemm=2)
    with pytest.raises(ValueError, match="wgrad_oc_chunk must be -1"):
        _core.nn.conv_engine_config(wgrad_oc_chunk=-3)
    cfg = _core.nn.conv_engine_config()
    assert cfg["wgrad_gemm"] == 0 and cfg["wgrad_oc_chunk"] == 0


@needs_dnnl
@pytest.mark.parametrize("wgrad_gemm", [-1, 0, 1])
def test_bf16_weight_gradient_of_a_tap_that_reads_only_padding_is_zero(wgrad_gemm):
    # Width 2, kernel 1×3, stride 3, padding (0, 3) after: the one output reads columns 0..2, and
    # column 2 is padding, so tap j = 2 has a zero gradient (oneDNN's AMX primitive left garbage).
    case = ((2, 1, 1, 2), (2, 1, 1, 3), (1, 3), (0, 0), (0, 3), (1, 1))
    x, w, b, dy = operands(case, 0, False)
    with wgrad_path(wgrad_gemm):
        for _ in range(3):
            dw = dnnl(x, w, b, dy, *case[2:5], case[5], bf16=True)[2]
            assert np.all(dw[:, :, :, 2] == 0)
            assert np.all(dw[:, :, :, :2] != 0)
