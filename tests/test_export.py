"""pyssl.export: the torch module and the ONNX graph compute what the pyssl module computes (in
evaluation mode) to float32 rounding, layer by layer and for whole encoders."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import pyssl
from pyssl import export
from pyssl.nn import (GELU, MLP, BatchNorm1d, Conv1d, Conv2d, ConvEncoder1d, ConvEncoder2d, Dropout, Flatten,
                      GlobalAvgPool, Identity, L2Normalize, LayerNorm, Linear, LogSoftmax, Module, ReLU, Residual,
                      Sequential, Sigmoid, Softmax, Tanh)


def _bn_with_statistics(d, affine=True, seed=0):
    """A BatchNorm1d whose running statistics and affine parameters are not the defaults."""
    bn = BatchNorm1d(d, momentum=0.5, affine=affine)
    rng = np.random.default_rng(seed)
    for _ in range(3):
        bn.forward((rng.standard_normal((16, d)) * 3 + 1).astype(np.float32))
    if affine:
        bn.weight.data[...] = rng.uniform(0.5, 2, d)
        bn.bias.data[...] = rng.standard_normal(d)
    return bn


def _ln(d, affine=True, seed=0):
    ln = LayerNorm(d, eps=1e-3, elementwise_affine=affine)
    if affine:
        rng = np.random.default_rng(seed)
        ln.weight.data[...] = rng.uniform(0.5, 2, d)
        ln.bias.data[...] = rng.standard_normal(d)
    return ln


# (name, module factory, input shape)
CASES = [
    ("mlp-batch-relu", lambda: MLP([6, 16, 16, 4], norm="batch", seed=0), (7, 6)),
    ("mlp-layer-gelu-dropout", lambda: MLP([6, 12, 5], norm="layer", act="gelu", dropout=0.3, seed=1), (7, 6)),
    ("mlp-none-tanh", lambda: MLP([6, 8, 3], norm=None, act="tanh", seed=2), (7, 6)),
    ("mlp-residual-sigmoid", lambda: MLP([6, 8, 8, 3], act="sigmoid", residual=True, seed=3), (7, 6)),
    ("batchnorm-stats", lambda: Sequential(_bn_with_statistics(6), Linear(6, 3, bias=False, seed=0)), (7, 6)),
    ("batchnorm-no-affine", lambda: Sequential(_bn_with_statistics(6, affine=False)), (7, 6)),
    ("layernorm-no-affine", lambda: Sequential(Linear(6, 5, seed=1), _ln(5, affine=False)), (7, 6)),
    ("softmax-head", lambda: Sequential(Linear(6, 5, seed=1), Softmax()), (7, 6)),
    ("logsoftmax-head", lambda: Sequential(Linear(6, 5, seed=1), LogSoftmax()), (7, 6)),
    ("l2-normalize", lambda: Sequential(Linear(6, 5, seed=1), _ln(5), L2Normalize()), (7, 6)),
    ("identity-residual", lambda: Sequential(Residual(Sequential(Linear(6, 6, seed=4), ReLU())), Identity(),
                                             Dropout(0.5)), (7, 6)),
    ("conv1d-encoder", lambda: ConvEncoder1d(3, (8, 16), kernel_size=5, seed=0), (4, 3, 30)),
    ("conv1d-stride-nobias", lambda: Sequential(Conv1d(3, 5, 4, stride=2, padding=1, bias=False, seed=5), GELU(),
                                                Flatten()), (4, 3, 17)),
    ("conv2d-encoder", lambda: ConvEncoder2d(2, (8, 16), act="gelu", seed=0), (4, 2, 12, 10)),
    ("conv2d-flatten-mlp", lambda: Sequential(Conv2d(1, 4, (3, 2), stride=(2, 1), padding=(1, 0), seed=6), Tanh(),
                                              Flatten(), Linear(4 * 4 * 5, 3, seed=7), Sigmoid()), (4, 1, 8, 6)),
    ("conv2d-gap-mlp", lambda: Sequential(Conv2d(1, 4, 3, padding=1, seed=8), ReLU(), GlobalAvgPool(),
                                          MLP([4, 6, 2], seed=9)), (4, 1, 6, 6)),
]


def _data(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def _reference(module, x):
    module.eval()
    return module(x)


@pytest.mark.parametrize("name, make, shape", CASES, ids=[c[0] for c in CASES])
def test_to_torch_matches_pyssl(name, make, shape):
    torch = pytest.importorskip("torch")
    m = make()
    x = _data(shape)
    ref = _reference(m, x)
    t = export.to_torch(m)
    assert not t.training
    with torch.no_grad():
        out = t(torch.from_numpy(x)).numpy()
    assert out.dtype == np.float32 and out.shape == ref.shape
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5 * max(1.0, float(np.abs(ref).max())))
    # a copy, not a view: changing the pyssl weights leaves the torch module as it was
    for p in m.parameters():
        p.data += 1.0
    with torch.no_grad():
        np.testing.assert_array_equal(t(torch.from_numpy(x)).numpy(), out)


def test_to_torch_linear_weight_is_transposed_and_float64_is_kept():
    torch = pytest.importorskip("torch")
    lin = Linear(4, 3, seed=0).astype(np.float64)
    t = export.to_torch(lin)
    assert tuple(t.weight.shape) == (3, 4) and t.weight.dtype == torch.float64
    np.testing.assert_array_equal(t.weight.detach().numpy(), lin.weight.data.T)
    x = np.random.default_rng(0).standard_normal((5, 4))
    with torch.no_grad():
        np.testing.assert_allclose(t(torch.from_numpy(x)).numpy(), lin(x), rtol=1e-12, atol=1e-12)


def test_to_torch_batchnorm_keeps_training_semantics():
    """The exported BatchNorm1d is a real torch BatchNorm: in training mode it normalises by the
    batch and updates the running statistics with pyssl's momentum convention."""
    torch = pytest.importorskip("torch")
    bn = _bn_with_statistics(4)
    t = export.to_torch(Sequential(bn)).train()
    x = _data((16, 4), seed=3)
    with torch.no_grad():
        out = t(torch.from_numpy(x)).numpy()
    bn.train()
    ref = bn(x)
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(t[0].running_mean.numpy(), bn.running_mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(t[0].running_var.numpy(), bn.running_var, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name, make, shape", CASES, ids=[c[0] for c in CASES])
def test_to_onnx_matches_pyssl(name, make, shape, tmp_path):
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    m = make()
    path = tmp_path / "model.onnx"
    export.to_onnx(m, path)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    # the batch size (and a series' length, an image's height and width) stay symbolic
    for s, batch in enumerate((shape[0], 1)):
        x = _data((batch,) + shape[1:], seed=s)
        ref = _reference(m, x)
        (out,) = sess.run(["y"], {"x": x})
        assert out.shape == ref.shape
        np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5 * max(1.0, float(np.abs(ref).max())))


def test_to_onnx_pretrained_encoder_and_input_shape(tmp_path):
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    X = _data((64, 6))
    enc = MLP([6, 16, 8], seed=0)
    pyssl.pretrain(pyssl.methods.SimCLR(enc, projection_dim=8), X, epochs=2, batch_size=32, progress=False)
    model = export.to_onnx(enc, tmp_path / "enc.onnx")
    dims = model.graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_param or d.dim_value for d in dims] == ["N", 6]
    sess = ort.InferenceSession(str(tmp_path / "enc.onnx"), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(sess.run(None, {"x": X})[0], enc.transform(X), rtol=1e-5, atol=1e-5)
    # a network whose first layer does not fix the input layout needs input_shape
    net = Sequential(ReLU(), Linear(6, 2, seed=0))
    with pytest.raises(ValueError, match="pass input_shape"):
        export.to_onnx(net, tmp_path / "net.onnx")
    export.to_onnx(net, tmp_path / "net.onnx", input_shape=("batch", 6))
    sess = ort.InferenceSession(str(tmp_path / "net.onnx"), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(sess.run(None, {"x": X})[0], net(X), rtol=1e-5, atol=1e-5)


class _Custom(Module):
    def forward(self, x):
        return x * 2, None


class _ScaledLinear(Linear):
    def forward(self, x):
        y, ctx = super().forward(x)
        return y * 2, ctx


class _MyMLP(MLP):
    """Keeps Sequential's forward: exported as its layers."""


@pytest.mark.parametrize("fn", ["to_torch", "to_onnx"])
def test_unsupported_modules_are_named(fn, tmp_path):
    def call(m):
        return export.to_torch(m) if fn == "to_torch" else export.to_onnx(m, tmp_path / "m.onnx", input_shape=("N", 3))

    with pytest.raises(TypeError, match=r"cannot convert _Custom at the root.1: it defines its own forward; supported layers are Linear"):
        call(Sequential(Linear(3, 3, seed=0), _Custom()))
    with pytest.raises(TypeError, match=r"cannot convert _ScaledLinear at the root"):
        call(_ScaledLinear(3, 2, seed=0))
    with pytest.raises(TypeError, match=r"pass the method's encoder \(method.encoder\)"):
        call(pyssl.methods.SimCLR(MLP([3, 2])))


def test_subclass_keeping_forward_is_exported():
    torch = pytest.importorskip("torch")
    m = _MyMLP([3, 5, 2], seed=0).eval()
    x = _data((4, 3))
    with torch.no_grad():
        np.testing.assert_allclose(export.to_torch(m)(torch.from_numpy(x)).numpy(), m(x), rtol=1e-5, atol=1e-6)


def test_missing_packages_are_named(monkeypatch, tmp_path):
    import sys

    monkeypatch.setitem(sys.modules, "torch", None)
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(ImportError, match="to_torch needs PyTorch: pip install torch"):
        export.to_torch(Linear(2, 2))
    with pytest.raises(ImportError, match=r'to_onnx needs the onnx package: pip install "pyssl\[export\]"'):
        export.to_onnx(Linear(2, 2), tmp_path / "m.onnx")


def test_to_onnx_float64_module_served_in_either_dtype(tmp_path):
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    m = MLP([4, 8, 3], norm="layer", act="tanh", seed=0).astype(np.float64).eval()
    x = np.random.default_rng(0).standard_normal((5, 4))
    export.to_onnx(m, tmp_path / "m64.onnx")
    out64 = ort.InferenceSession(str(tmp_path / "m64.onnx"), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    assert out64.dtype == np.float64
    np.testing.assert_allclose(out64, m(x), rtol=1e-12, atol=1e-12)
    export.to_onnx(m, tmp_path / "m32.onnx", dtype=np.float32)
    sess = ort.InferenceSession(str(tmp_path / "m32.onnx"), providers=["CPUExecutionProvider"])
    out32 = sess.run(None, {"x": x.astype(np.float32)})[0]
    assert out32.dtype == np.float32
    np.testing.assert_allclose(out32, m(x), rtol=1e-5, atol=1e-5)
    with pytest.raises(TypeError, match="dtype must be np.float32 or np.float64"):
        export.to_onnx(m, tmp_path / "bad.onnx", dtype=np.int32)


@st.composite
def _conv_geometry(draw):
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    ph, pw = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    h = draw(st.integers(max(1, kh - 2 * ph), 9))
    w = draw(st.integers(max(1, kw - 2 * pw), 9))
    return dict(c=draw(st.integers(1, 3)), o=draw(st.integers(1, 4)), k=(kh, kw), s=(draw(st.integers(1, 3)),
                draw(st.integers(1, 3))), p=(ph, pw), h=h, w=w, bias=draw(st.booleans()), seed=draw(st.integers(0, 99)))


@settings(max_examples=20)
@given(_conv_geometry())
def test_conv2d_geometry_exports_exactly(g):
    """Any kernel, stride and padding: torch and onnxruntime give pyssl's convolution."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    import tempfile

    m = Conv2d(g["c"], g["o"], g["k"], stride=g["s"], padding=g["p"], bias=g["bias"], seed=g["seed"])
    x = _data((2, g["c"], g["h"], g["w"]), seed=g["seed"])
    ref = m(x)
    with torch.no_grad():
        np.testing.assert_allclose(export.to_torch(m)(torch.from_numpy(x)).numpy(), ref, rtol=1e-5, atol=1e-5)
    with tempfile.TemporaryDirectory() as d:
        export.to_onnx(m, f"{d}/conv.onnx")
        out = ort.InferenceSession(f"{d}/conv.onnx", providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("shape, encoder", [((7,), "auto"), ((2, 9), "auto"), ((1, 6, 6), "mlp")])
def test_loaded_encoder_with_its_standardisation_exports(shape, encoder, tmp_path):
    """What ``pyssl.load_encoder`` returns (input standardisation, flattening, encoder) exports to
    torch and ONNX, taking raw samples like the pyssl module."""
    from pyssl.pretrained import Standardize, build_encoder, load_encoder, save_encoder

    rng = np.random.default_rng(0)
    X = (rng.standard_normal((10, *shape)) * 3 + 2).astype(np.float32)
    model = build_encoder(shape, encoder, widths=(8,) if encoder == "mlp" or len(shape) == 1 else None,
                          standardize=Standardize.fit(X))
    save_encoder(tmp_path / "enc.npz", model)
    model = load_encoder(tmp_path / "enc.npz")
    model.eval()
    ref = model(X)
    torch = pytest.importorskip("torch")
    with torch.no_grad():
        out = export.to_torch(model)(torch.from_numpy(X)).numpy()
    np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-5)
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    export.to_onnx(model, tmp_path / "enc.onnx")
    sess = ort.InferenceSession(str(tmp_path / "enc.onnx"), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(sess.run(None, {"x": X})[0], ref, rtol=1e-4, atol=1e-5)
