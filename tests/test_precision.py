"""Mixed precision (pyssl.nn.precision): bfloat16 rounding, the bf16 Linear kernels against their
definition on rounded operands, and pretrain(precision="bf16-mixed")."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import pyssl
from pyssl import _core
from pyssl.nn import MLP, Linear, precision

needs_bf16 = pytest.mark.skipif(not precision.available(), reason="pyssl built without oneDNN")


def bf16_round(x):
    """Round-to-nearest-even float32 → bfloat16 → float32, from the bit patterns (numpy only)."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    u = x.view(np.uint32).astype(np.uint64)
    lower = u & 0xFFFF
    upper = u >> 16
    round_up = (lower > 0x8000) | ((lower == 0x8000) & (upper & 1 == 1))
    r = ((upper + round_up) << 16).astype(np.uint32).view(np.float32)
    return np.where(np.isnan(x), np.float32(np.nan), r)


def test_to_bf16_rounds_to_nearest_even_on_every_class_of_value():
    rng = np.random.default_rng(0)
    special = np.array([0.0, -0.0, 1.0, -1.0, np.inf, -np.inf, np.nan, 1e-40, -1e-45, 3.4e38, 1.17549435e-38],
                       dtype=np.float32)
    ties = (np.array([0x3F808000, 0x3F818000, 0x3F80C000, 0x3F807FFF], dtype=np.uint32)).view(np.float32)
    x = np.concatenate([special, ties, rng.standard_normal(10_000).astype(np.float32) * 10.0 ** rng.integers(-30, 30, 10_000)]).astype(np.float32)
    got = _core.nn.from_bf16(_core.nn.to_bf16(x))
    want = bf16_round(x)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    ok = ~np.isnan(want)
    np.testing.assert_array_equal(got[ok].view(np.uint32), want[ok].view(np.uint32))
    # bf16 → float32 is exact, so a second round trip changes nothing
    np.testing.assert_array_equal(_core.nn.from_bf16(_core.nn.to_bf16(got[ok])).view(np.uint32), got[ok].view(np.uint32))


@needs_bf16
@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 40), i=st.integers(1, 70), o=st.integers(1, 50), bias=st.booleans(), seed=st.integers(0, 10_000))
def test_bf16_linear_matches_its_definition_on_rounded_operands(n, i, o, bias, seed):
    """Y = b + bf16(X)·bf16(W); dX = bf16(dY)·bf16(W)ᵀ; dW = bf16(X)ᵀ·bf16(dY); db = Σ dY — with
    float32 sums, so within a few float32 ulps of the float64 product of the rounded operands."""
    rng = np.random.default_rng(seed)
    layer = Linear(i, o, bias=bias, seed=seed)
    x = rng.standard_normal((n, i)).astype(np.float32)
    dy = rng.standard_normal((n, o)).astype(np.float32)
    with precision.autocast("bf16-mixed"):
        y, ctx = layer.forward(x)
    layer.zero_grad()
    dx = layer.backward(dy, ctx)
    xr, wr, dyr = (bf16_round(a).astype(np.float64) for a in (x, layer.weight.data, dy))
    want_y = xr @ wr + (layer.bias.data if bias else 0.0)
    tol = 1e-5 * np.sqrt(max(i, o, n))
    np.testing.assert_allclose(y, want_y, rtol=0, atol=tol * (np.abs(xr) @ np.abs(wr)).max() + 1e-6)
    np.testing.assert_allclose(dx, dyr @ wr.T, rtol=0, atol=tol * (np.abs(dyr) @ np.abs(wr.T)).max() + 1e-6)
    np.testing.assert_allclose(layer.weight.grad, xr.T @ dyr, rtol=0, atol=tol * (np.abs(xr.T) @ np.abs(dyr)).max() + 1e-6)
    if bias:
        np.testing.assert_allclose(layer.bias.grad, dy.astype(np.float64).sum(0), rtol=1e-5, atol=1e-5)


@needs_bf16
def test_bf16_weight_gradient_accumulates_over_two_backwards():
    rng = np.random.default_rng(1)
    layer = Linear(9, 5, seed=0)
    x1, x2 = (rng.standard_normal((6, 9)).astype(np.float32) for _ in range(2))
    d1, d2 = (rng.standard_normal((6, 5)).astype(np.float32) for _ in range(2))
    layer.zero_grad()
    with precision.autocast():
        _, c1 = layer.forward(x1)
        _, c2 = layer.forward(x2)
    layer.backward(d1, c1)
    layer.backward(d2, c2)
    want = sum(bf16_round(a).astype(np.float64).T @ bf16_round(d).astype(np.float64) for a, d in ((x1, d1), (x2, d2)))
    np.testing.assert_allclose(layer.weight.grad, want, rtol=0, atol=1e-4)


@needs_bf16
def test_autocast_leaves_float64_layers_and_code_outside_the_block_in_full_precision():
    rng = np.random.default_rng(2)
    layer64 = Linear(7, 3, dtype=np.float64, seed=0)
    x64 = rng.standard_normal((4, 7))
    with precision.autocast():
        inside = layer64(x64)
        assert precision.current() == "bf16-mixed"
    assert precision.current() == "32"
    np.testing.assert_array_equal(inside, layer64(x64))
    layer32 = Linear(7, 3, seed=0)
    x32 = x64.astype(np.float32)
    with precision.autocast():
        y_bf16 = layer32(x32)
    y32 = layer32(x32)
    assert not np.array_equal(y_bf16, y32)  # the block really changed the products
    np.testing.assert_allclose(y_bf16, y32, rtol=0, atol=0.05)


def test_precision_argument_is_validated():
    with pytest.raises(ValueError, match="precision must be one of"):
        precision.check_precision("fp16")
    with pytest.raises(ValueError, match="precision must be one of"):
        with precision.autocast(16):
            pass
    assert precision.check_precision("fp32") == "32"


def test_bf16_without_the_engine_names_the_install(monkeypatch):
    monkeypatch.setattr(precision, "available", lambda: False)
    with pytest.raises(RuntimeError, match="onednn-cpu-gomp"):
        precision.check_precision("bf16-mixed")


def _digits():
    from sklearn.datasets import load_digits

    return load_digits().data.astype(np.float32)[:512] / 16.0


def _simclr():
    return pyssl.methods.SimCLR(MLP([64, 128, 128], norm="batch", seed=0), projector=MLP([128, 128, 32], seed=1))


@needs_bf16
def test_pretrain_bf16_mixed_tracks_float32_and_repeats_bit_for_bit():
    pytest.importorskip("sklearn")
    X = _digits()
    h32 = pyssl.pretrain(_simclr(), X, epochs=4, batch_size=128, progress=False)
    runs = []
    for _ in range(2):
        m = _simclr()
        h = pyssl.pretrain(m, X, epochs=4, batch_size=128, progress=False, precision="bf16-mixed")
        runs.append((h["loss"], m.encoder.state_dict()))
    assert runs[0][0] == runs[1][0]
    for k, v in runs[0][1].items():
        np.testing.assert_array_equal(v, runs[1][1][k])
    assert runs[0][0][-1] < runs[0][0][0]  # it learns
    np.testing.assert_allclose(runs[0][0], h32["loss"], rtol=2e-2)
    assert runs[0][0] != h32["loss"]  # and the products really ran in bf16


@needs_bf16
def test_pretrain_bf16_mixed_refuses_float64_encoders():
    m = pyssl.methods.SimCLR(MLP([8, 16], seed=0).astype(np.float64), projector=MLP([16, 8], seed=1).astype(np.float64))
    with pytest.raises(ValueError, match="float32 encoders"):
        pyssl.pretrain(m, np.random.default_rng(0).standard_normal((32, 8)), epochs=1, batch_size=16,
                       progress=False, precision="bf16-mixed")


@pytest.mark.skipif(precision.available(), reason="this build has the bf16 engine")
def test_portable_build_refuses_bf16_mixed_with_the_install_command():
    m = pyssl.methods.SimCLR(MLP([8, 16], seed=0), projector=MLP([16, 8], seed=1))
    X = np.random.default_rng(0).standard_normal((32, 8)).astype(np.float32)
    with pytest.raises(RuntimeError, match="onednn-cpu-gomp"):
        pyssl.pretrain(m, X, epochs=1, batch_size=16, progress=False, precision="bf16-mixed")


@needs_bf16
def test_finetune_bf16_mixed_learns_like_float32():
    pytest.importorskip("sklearn")
    from sklearn.datasets import load_digits

    from pyssl.transfer import FineTune

    d = load_digits()
    X, y = (d.data / 16.0).astype(np.float32), d.target
    scores = {}
    for prec in ("32", "bf16-mixed"):
        ft = FineTune(MLP([64, 64], seed=0), epochs=3, seed=0, precision=prec).fit(X[:1200], y[:1200])
        assert ft.get_params()["precision"] == prec
        scores[prec] = (ft.score(X[1200:], y[1200:]), ft.loss_curve_)
    assert scores["bf16-mixed"][1] != scores["32"][1]  # the products really ran in bf16
    assert abs(scores["bf16-mixed"][0] - scores["32"][0]) < 0.03
    with pytest.raises(ValueError, match="precision"):
        FineTune(MLP([64, 8], seed=0), precision="fp16").fit(X[:50], y[:50])


@needs_bf16
def test_check_precision_warns_exactly_where_bf16_is_emulated():
    """On a CPU where oneDNN has no bf16 products (x86 without AVX-512) bf16-mixed is emulated and
    check_precision says so once per call site; where the products are native it stays silent."""
    import warnings
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        precision.check_precision("bf16-mixed")
        precision.check_precision("32")
    emulated = [w for w in rec if issubclass(w.category, precision.EmulatedBF16Warning)]
    assert len(emulated) == (0 if precision.native() else 1)
    if emulated:
        assert "precision='32'" in str(emulated[0].message)
    assert ("emulated" in _core.nn.bf16_gemm_impl()) == (not precision.native())


_EMULATED = r"""
import sys, numpy as np
from pyssl import _core
from pyssl.nn import Linear, precision
assert not precision.native() and "emulated" in _core.nn.bf16_gemm_impl()
rng = np.random.default_rng(3)
x = rng.standard_normal((37, 29)).astype(np.float32)
layer = Linear(29, 23, seed=1)
with precision.autocast("bf16-mixed"):
    y, ctx = layer.forward(x)
layer.zero_grad()
dx = layer.backward(rng.standard_normal((37, 23)).astype(np.float32), ctx)
xi = rng.standard_normal((3, 5, 9, 8)).astype(np.float32)
w = rng.standard_normal((7, 5, 3, 3)).astype(np.float32)
b = rng.standard_normal(7).astype(np.float32)
yc = _core.nn.conv2d_dnnl_forward(xi, w, b, stride=(2, 1), padding=(1, 1), bf16=True)
dyc = rng.standard_normal(yc.shape).astype(np.float32)
dw, db = np.zeros_like(w), np.zeros_like(b)
dxc = _core.nn.conv2d_dnnl_backward(xi, w, dyc, dw, db, stride=(2, 1), padding=(1, 1), bf16=True)
np.savez(sys.argv[1], x=x, w=layer.weight.data, bias=layer.bias.data, y=y, dx=dx, dwl=layer.weight.grad,
         xi=xi, wc=w, b=b, yc=yc, dyc=dyc, dxc=dxc, dw=dw, db=db)
"""


@needs_bf16
def test_emulated_bf16_is_the_float32_engine_on_rounded_operands(tmp_path):
    """PYSSL_BF16_EMULATE=1 takes the emulation on any CPU: bf16 Linear and Conv2d forwards are
    then bit for bit the float32 kernels on bf16-rounded operands, and the backwards agree with
    the rounded-operand definition (float32 sums) — the path every x86 CPU without AVX-512 runs."""
    import os
    import subprocess
    import sys
    out = tmp_path / "emulated.npz"
    env = dict(os.environ, PYSSL_BF16_EMULATE="1")
    # cwd away from the repository root: `python -c` puts the current folder first on sys.path
    done = subprocess.run([sys.executable, "-c", _EMULATED, str(out)], env=env, capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    r = np.load(out)
    xr, wr = bf16_round(r["x"]), bf16_round(r["w"])
    ref = Linear(29, 23, seed=1)
    ref.weight.data, ref.bias.data = wr, r["bias"]
    np.testing.assert_array_equal(r["y"], ref.forward(xr)[0])
    xcr, wcr, dycr = bf16_round(r["xi"]), bf16_round(r["wc"]), bf16_round(r["dyc"])
    want_y = _core.nn.conv2d_dnnl_forward(xcr, wcr, r["b"], stride=(2, 1), padding=(1, 1))
    np.testing.assert_array_equal(r["yc"], want_y)
    dw, db = np.zeros_like(wcr), np.zeros_like(r["b"])
    want_dx = _core.nn.conv2d_dnnl_backward(xcr, wcr, dycr, dw, db, stride=(2, 1), padding=(1, 1))
    np.testing.assert_allclose(r["dxc"], want_dx, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(r["dw"], dw, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(r["db"], db, rtol=1e-5, atol=1e-5)
    assert np.abs(r["dw"]).max() > 0 and np.abs(r["dxc"]).max() > 0
