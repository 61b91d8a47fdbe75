"""pyssl.export of the ResNet, Transformer, tabular and time-series extractors: the torch module
and the ONNX graph (run in onnxruntime) compute what the pyssl encoder computes in evaluation
mode (float32, ~1e-5 relative); dilated, "same" and causal convolutions for any geometry; the
modules that cannot be exported are refused with a TypeError naming them and why."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from pyssl import export
from pyssl.nn import (BasicBlock, BatchNorm2d, CausalCNNEncoder, ChannelBatchNorm1d, Conv1d, Conv2d,
                      DilatedConvEncoder, FeatureTokenizer, PatchEmbed1d, ResNet, ResNet1d, Sequential,
                      TransformerEncoder, ViT)


def _randomize(module, seed=0):
    """Parameters away from their initialisation and BatchNorm running statistics not the defaults."""
    rng = np.random.default_rng(seed)
    for p in module.parameters():
        p.data[...] += (0.05 * rng.standard_normal(p.data.shape)).astype(p.data.dtype)
    for m in module.modules():
        if hasattr(m, "running_mean"):
            m.running_mean[...] = rng.standard_normal(m.running_mean.shape) * 0.1
            m.running_var[...] = rng.uniform(0.5, 2.0, m.running_var.shape)
    return module.eval()


def _data(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def _with_nan_tail(x):
    x = x.copy()
    x[0, :, -3:] = np.nan  # a shorter series, padded with NaN
    x[1, 0, 2] = np.nan  # one missing channel at one step
    return x


def _table_encoder():
    pd = pytest.importorskip("pandas")
    from pyssl.tables import TableSchema, TabularEncoder

    rng = np.random.default_rng(0)
    n = 40
    frame = pd.DataFrame({"a": rng.standard_normal(n) * 3 + 1, "b": rng.integers(0, 100, n).astype(float),
                          "colour": rng.choice(["red", "green", "blue"], n), "size": rng.choice(["S", "M"], n)})
    frame.loc[::7, "a"] = np.nan
    frame.loc[::5, "colour"] = None
    enc = TabularEncoder(TableSchema(), hidden=(16, 8), norm="batch", embedding_dim=3, seed=0)
    enc.fit_schema(frame)
    test = frame.copy()
    test.loc[3, "colour"] = "purple"  # a category not seen in training: the unknown code
    return enc, enc.encode(test)


# (name, encoder factory, input factory); inputs of two batch sizes are derived from the second
CASES = [
    ("resnet18-cifar-w8", lambda: ResNet(18, 3, "cifar", width=8, seed=0), lambda s: _data((2, 3, 32, 32), s)),
    ("resnet18-imagenet-w4", lambda: ResNet(18, 3, "imagenet", width=4, seed=1), lambda s: _data((2, 3, 48, 40), s)),
    ("resnet50-cifar-w2", lambda: ResNet(50, 1, "cifar", width=2, seed=2), lambda s: _data((2, 1, 16, 16), s)),
    ("resnet1d-w8", lambda: ResNet1d(3, width=8, seed=0), lambda s: _data((2, 3, 37), s)),
    ("vit-tiny", lambda: ViT(32, 4, 3, 192, 12, 3, seed=0), lambda s: _data((2, 3, 32, 32), s)),
    ("vit-mean-sinusoidal", lambda: ViT(12, 4, 2, 16, 2, 4, pos_embed="sinusoidal", pool="mean", seed=1),
     lambda s: _data((2, 2, 12, 12), s)),
    ("transformer-patch1d", lambda: TransformerEncoder(16, 2, 4, tokenizer=PatchEmbed1d(48, 8, 2, 16, seed=0),
                                                       pool="mean", seed=0), lambda s: _data((3, 2, 48), s)),
    ("transformer-features", lambda: TransformerEncoder(12, 2, 3, tokenizer=FeatureTokenizer(7, 12, seed=0), seed=1),
     lambda s: _data((4, 7), s)),
    ("transformer-features-nopos", lambda: TransformerEncoder(8, 1, 2, tokenizer=FeatureTokenizer(5, 8, bias=False, seed=0),
                                                              pos_embed="none", seed=3), lambda s: _data((3, 5), s)),
    ("transformer-tokens-none", lambda: TransformerEncoder(8, 1, 2, num_tokens=5, pool="none", seed=2),
     lambda s: _data((3, 5, 8), s)),
    ("dilated-conv-encoder", lambda: DilatedConvEncoder(3, hidden_dim=16, output_dim=24, depth=3, seed=0),
     lambda s: _with_nan_tail(_data((3, 3, 30), s))),
    ("causal-cnn-encoder", lambda: CausalCNNEncoder(3, channels=8, depth=2, reduced_size=12, out_features=10, seed=0),
     lambda s: _with_nan_tail(_data((3, 3, 30), s))),
]


def _session(path):
    ort = pytest.importorskip("onnxruntime")
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def _close(out, ref, rtol=1e-5):
    assert out.shape == ref.shape and out.dtype == ref.dtype
    np.testing.assert_allclose(out, ref, rtol=rtol, atol=rtol * max(1.0, float(np.nanmax(np.abs(ref)))))


@pytest.mark.parametrize("name, make, data", CASES, ids=[c[0] for c in CASES])
def test_extractor_exports_to_torch_and_onnx(name, make, data, tmp_path):
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnx")
    m = _randomize(make())
    xs = [data(0), data(1)[:1]]
    refs = [m(x) for x in xs]
    assert np.isfinite(refs[0]).all()
    t = export.to_torch(m)
    for x, ref in zip(xs, refs):
        with torch.no_grad():
            _close(t(torch.from_numpy(x)).numpy(), ref)
    export.to_onnx(m, tmp_path / "m.onnx")
    sess = _session(tmp_path / "m.onnx")
    for x, ref in zip(xs, refs):
        _close(sess.run(["y"], {"x": x})[0], ref)


def test_tabular_encoder_exports_over_the_packed_matrix(tmp_path):
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnx")
    enc, X = _table_encoder()
    _randomize(enc)
    ref = enc(X)
    assert X.shape[1] == enc.in_features and np.any(X[:, 2:4] == 1)  # missing flags are exercised
    with torch.no_grad():
        _close(export.to_torch(enc)(torch.from_numpy(X)).numpy(), ref)
    model = export.to_onnx(enc, tmp_path / "table.onnx")
    dims = model.graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_param or d.dim_value for d in dims] == ["N", enc.in_features]
    _close(_session(tmp_path / "table.onnx").run(None, {"x": X})[0], ref)


def test_embedding_graph_takes_int64_codes(tmp_path):
    pytest.importorskip("onnx")
    from pyssl.nn import Embedding

    emb = Embedding(9, 4, seed=0)
    model = export.to_onnx(emb, tmp_path / "emb.onnx")
    import onnx

    assert model.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.INT64
    codes = np.random.default_rng(0).integers(0, 9, (5, 3))
    _close(_session(tmp_path / "emb.onnx").run(None, {"x": codes})[0], emb(codes))


def test_sinusoidal_positions_follow_a_symbolic_length(tmp_path):
    """Without a tokenizer or num_tokens the positions are computed in the graph for any L."""
    pytest.importorskip("onnx")
    m = _randomize(TransformerEncoder(6, 1, 2, pos_embed="sinusoidal", pool="mean", seed=0))  # odd D/2 split
    export.to_onnx(m, tmp_path / "t.onnx")
    sess = _session(tmp_path / "t.onnx")
    for length in (1, 4, 33):
        x = _data((2, length, 6), length)
        _close(sess.run(None, {"x": x})[0], m(x))


def test_graphs_use_the_onnx_ops_of_the_layers(tmp_path):
    pytest.importorskip("onnx")
    vit = export.to_onnx(_randomize(ViT(8, 4, 1, 8, 1, 2, seed=0)), tmp_path / "vit.onnx")
    ops = {n.op_type for n in vit.graph.node}
    assert {"Softmax", "MatMul", "LayerNormalization", "Erf", "Concat", "Gather"} <= ops
    dims = vit.graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_param or d.dim_value for d in dims] == ["N", 1, 8, 8]
    res = export.to_onnx(ResNet(18, 1, "imagenet", width=2, seed=0).eval(), tmp_path / "r.onnx")
    assert {"MaxPool", "Conv", "Relu", "Add", "ReduceMean"} <= {n.op_type for n in res.graph.node}
    causal = export.to_onnx(Conv1d(2, 3, 3, padding="causal", dilation=4, seed=0), tmp_path / "c.onnx")
    (conv,) = [n for n in causal.graph.node if n.op_type == "Conv"]
    attrs = {a.name: list(a.ints) for a in conv.attribute}
    assert attrs["pads"] == [8, 0] and attrs["dilations"] == [4]


@st.composite
def _conv1d_geometry(draw):
    k, d = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    padding = draw(st.sampled_from(["same", "causal", "valid", 0, 1, 3]))
    stride = 1 if padding in ("same", "causal") else draw(st.integers(1, 3))
    pad = {"same": 0, "causal": 0, "valid": 0}.get(padding, padding)
    extra = 0 if padding in ("same", "causal") else 2 * pad
    t = draw(st.integers(max(1, d * (k - 1) + 1 - extra), 14))
    return dict(c=draw(st.integers(1, 3)), o=draw(st.integers(1, 3)), k=k, d=d, padding=padding, s=stride, t=t,
                bias=draw(st.booleans()), seed=draw(st.integers(0, 99)))


@settings(max_examples=25, deadline=None)
@given(_conv1d_geometry())
def test_conv1d_dilated_same_causal_geometry_exports_exactly(g):
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnx")
    import tempfile

    m = Conv1d(g["c"], g["o"], g["k"], stride=g["s"], padding=g["padding"], dilation=g["d"], bias=g["bias"],
               seed=g["seed"])
    x = _data((2, g["c"], g["t"]), g["seed"])
    ref = m(x)
    with torch.no_grad():
        _close(export.to_torch(m)(torch.from_numpy(x)).numpy(), ref)
    with tempfile.TemporaryDirectory() as tmp:
        export.to_onnx(m, f"{tmp}/c.onnx")
        _close(_session(f"{tmp}/c.onnx").run(None, {"x": x})[0], ref)


@settings(max_examples=15, deadline=None)
@given(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.booleans(),
       st.integers(0, 99))
def test_conv2d_dilated_same_exports_exactly(kh, kw, dh, dw, same, seed):
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnx")
    import tempfile

    m = Conv2d(2, 3, (kh, kw), padding="same" if same else 1, dilation=(dh, dw), seed=seed)
    x = _data((2, 2, 2 * dh * kh + 1, 2 * dw * kw + 2), seed)
    ref = m(x)
    with torch.no_grad():
        _close(export.to_torch(m)(torch.from_numpy(x)).numpy(), ref)
    with tempfile.TemporaryDirectory() as tmp:
        export.to_onnx(m, f"{tmp}/c.onnx")
        _close(_session(f"{tmp}/c.onnx").run(None, {"x": x})[0], ref)


@pytest.mark.parametrize("cls, shape", [(BatchNorm2d, (6, 3, 4, 5)), (ChannelBatchNorm1d, (6, 3, 9))])
def test_torch_channel_batch_norm_trains_like_pyssl(cls, shape):
    """Switched to training mode the exported batch norm normalises by the batch (ReLU fused) and
    updates the running statistics with pyssl's momentum convention."""
    torch = pytest.importorskip("torch")
    bn = cls(3, momentum=0.3, relu=True)
    bn.weight.data[...] = [0.5, 1.5, 2.0]
    bn.bias.data[...] = [0.1, -0.2, 0.3]
    t = export.to_torch(Sequential(bn)).train()
    x = _data(shape, 3) * 2 + 1
    with torch.no_grad():
        out = t(torch.from_numpy(x)).numpy()
    bn.train()
    _close(out, bn(x))
    np.testing.assert_allclose(t[0][0].running_mean.numpy(), bn.running_mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(t[0][0].running_var.numpy(), bn.running_var, rtol=1e-5, atol=1e-6)


class _ScaledBlock(BasicBlock):
    def forward(self, x):
        y, ctx = super().forward(x)
        return 2 * y, ctx


@pytest.mark.parametrize("fn", ["to_torch", "to_onnx"])
def test_what_cannot_be_exported_is_named(fn, tmp_path):
    pytest.importorskip("pandas")
    from pyssl.tables import TabularEncoder

    def call(m):
        return export.to_torch(m) if fn == "to_torch" else export.to_onnx(m, tmp_path / "m.onnx", input_shape=("N", 4))

    # a table encoder before its schema is fitted has no layers, and a DataFrame is no tensor
    with pytest.raises(TypeError, match=r"cannot convert the TabularEncoder at the root: its schema is not fitted.*"
                                        r"string categories.*encoder\.encode\(frame\)"):
        call(TabularEncoder(hidden=(8,)))
    with pytest.raises(TypeError, match=r"TabularEncoder at the root\.1: its schema is not fitted"):
        call(Sequential(Conv1d(4, 4, 1, seed=0), TabularEncoder(hidden=(8,))))
    # a subclass of a new layer with its own computation, named with its place in the tree
    with pytest.raises(TypeError, match=r"cannot convert _ScaledBlock at the root\.0: it defines its own forward; "
                                        r"supported layers are Linear.*BasicBlock"):
        call(Sequential(_ScaledBlock(4, 4, seed=0)))
    assert not (tmp_path / "m.onnx").exists()


F64_CASES = [
    ("resnet1d", lambda: ResNet1d(2, width=4, seed=0), (3, 2, 21)),
    ("resnet18-imagenet", lambda: ResNet(18, 1, "imagenet", width=2, seed=0), (2, 1, 24, 24)),
    ("vit", lambda: ViT(8, 4, 2, 8, 2, 2, pos_embed="sinusoidal", seed=0), (2, 2, 8, 8)),
    ("causal-cnn", lambda: CausalCNNEncoder(2, channels=4, depth=2, reduced_size=5, out_features=3, seed=0), (3, 2, 17)),
]


@pytest.mark.parametrize("name, make, shape", F64_CASES, ids=[c[0] for c in F64_CASES])
def test_float64_extractors_keep_their_dtype(name, make, shape, tmp_path):
    """A float64 encoder exports to a float64 torch module (agreeing to float64 rounding) and, for
    onnxruntime's float32-only Conv and Erf kernels, to a float32 graph (dtype=np.float32)."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnx")
    m = _randomize(make().astype(np.float64))
    x = np.random.default_rng(1).standard_normal(shape)
    ref = m(x)
    t = export.to_torch(m)
    assert all(p.dtype == torch.float64 for p in t.parameters())
    with torch.no_grad():
        out = t(torch.from_numpy(x)).numpy()
    assert out.dtype == np.float64
    np.testing.assert_allclose(out, ref, rtol=1e-10, atol=1e-10 * max(1.0, float(np.abs(ref).max())))
    export.to_onnx(m, tmp_path / "m32.onnx", dtype=np.float32)
    out32 = _session(tmp_path / "m32.onnx").run(None, {"x": x.astype(np.float32)})[0]
    assert out32.dtype == np.float32
    np.testing.assert_allclose(out32, ref, rtol=1e-4, atol=1e-5 * max(1.0, float(np.abs(ref).max())))


def test_float64_table_encoder_graph_runs_in_float64(tmp_path):
    """Without Conv or Erf, a float64 TabularEncoder is served as a float64 graph."""
    pytest.importorskip("onnx")
    enc, X = _table_encoder()
    enc = _randomize(enc.astype(np.float64))
    X = X.astype(np.float64)
    export.to_onnx(enc, tmp_path / "t64.onnx")
    out = _session(tmp_path / "t64.onnx").run(None, {"x": X})[0]
    assert out.dtype == np.float64
    np.testing.assert_allclose(out, enc(X), rtol=1e-12, atol=1e-12)


def test_ts2vec_series_representation_exports_as_a_max_pool(tmp_path):
    """Sequential(DilatedConvEncoder, MaskedMaxPool()) serves TS2Vec's transform(X) (max over time)."""
    pytest.importorskip("onnx")
    from pyssl.nn import MaskedMaxPool

    enc = _randomize(DilatedConvEncoder(2, hidden_dim=8, output_dim=6, depth=2, seed=3))
    X = _with_nan_tail(_data((4, 2, 19), 2))
    export.to_onnx(Sequential(enc, MaskedMaxPool()), tmp_path / "ts2vec.onnx")
    _close(_session(tmp_path / "ts2vec.onnx").run(None, {"x": X})[0], enc.transform(X))


def test_torch_timestamp_mask_masks_whole_steps_in_training():
    torch = pytest.importorskip("torch")
    from pyssl.nn import TimestampMask

    t = export.to_torch(Sequential(TimestampMask(0.5, seed=0)))
    x = torch.ones(64, 3, 50)
    with torch.no_grad():
        np.testing.assert_array_equal(t(x).numpy(), x.numpy())  # evaluation mode: the identity
        torch.manual_seed(0)
        y = t.train()(x).numpy()
    kept = y[:, 0, :]
    assert set(np.unique(y)) == {0.0, 1.0} and (y == kept[:, None, :]).all()  # all channels of a step alike
    assert 0.4 < 1 - kept.mean() < 0.6


class _Double(Sequential):
    """y = 2 · x (a user layer with its own forward)."""

    def forward(self, x):
        return 2 * x, None


def test_a_registered_converter_exports_a_user_layer(monkeypatch, tmp_path):
    """One entry per table makes a user layer exportable (the tables are keyed by class)."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnx")
    net = Sequential(Conv1d(2, 3, 3, padding="same", seed=0), _Double())
    with pytest.raises(TypeError, match="cannot convert _Double at the root.1: it defines its own forward"):
        export.to_torch(net)
    monkeypatch.setitem(export.TORCH_CONVERTERS._table, _Double, lambda b, m, where: b.L.ShortcutSum(b.nn.Identity(), None))
    monkeypatch.setitem(export.ONNX_CONVERTERS._table, _Double, lambda g, m, x, where: g.op("Add", [x, x]))
    x = _data((2, 2, 7))
    with torch.no_grad():
        _close(export.to_torch(net)(torch.from_numpy(x)).numpy(), net(x))
    export.to_onnx(net, tmp_path / "d.onnx")
    _close(_session(tmp_path / "d.onnx").run(None, {"x": x})[0], net(x))
