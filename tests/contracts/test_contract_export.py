"""Export contract, parametrized over the layer registry (``pyssl.nn.LAYERS``): every registered
layer has a converter in both tables of :mod:`pyssl.export`, and its torch module
(``to_torch``) and ONNX graph (``to_onnx``, run in onnxruntime) compute what the pyssl layer
computes in evaluation mode, float32, to ~1e-5 relative. A newly registered layer is checked
with no change here; the whole extractors (ResNet, ViT, Transformers over series and tables, the
TS2Vec and T-Loss encoders, TabularEncoder) are checked in tests/test_export_layers.py."""
import numpy as np
import pytest

from pyssl import export, nn

NAMES = nn.LAYERS.names()


def _input(entry, seed, batch=None):
    shape = entry.input if batch is None else (batch,) + tuple(entry.input[1:])
    rng = np.random.default_rng(seed)
    if entry.sample is not None:  # integer codes stay int64 (Embedding), packed rows float32 (MixedInput)
        x = np.asarray(entry.sample(rng, shape))
        return x if x.dtype.kind in "iu" else x.astype(np.float32)
    return rng.standard_normal(shape).astype(np.float32)


def _prepared(name):
    """The example layer away from its initialisation, with non-default running statistics, in
    evaluation mode."""
    entry = nn.LAYERS.entry(name)
    layer = entry.example(np.float32)
    rng = np.random.default_rng(5)
    for p in layer.parameters():
        p.data[...] += (0.1 * rng.standard_normal(p.data.shape)).astype(p.data.dtype)
    layer.train()
    for s in (11, 12):
        x = _input(entry, s)
        layer.forward(x * 2 + 0.5 if entry.sample is None else x)  # BatchNorm updates its running statistics
    return layer.eval(), entry


def _close(out, ref):
    assert out.shape == ref.shape and out.dtype == ref.dtype
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5 * max(1.0, float(np.abs(ref).max())))


@pytest.mark.parametrize("name", NAMES)
def test_every_registered_layer_has_both_converters(name):
    layer = nn.LAYERS.entry(name).example(np.float32)
    for table in (export.TORCH_CONVERTERS, export.ONNX_CONVERTERS):
        for sub in layer.modules():
            assert table.kind_of(sub, name) in table


def test_the_two_converter_tables_cover_the_same_layers():
    assert set(export.TORCH_CONVERTERS.classes()) == set(export.ONNX_CONVERTERS.classes())
    assert set(export.SUPPORTED) == set(export.ONNX_CONVERTERS.classes())


@pytest.mark.parametrize("name", NAMES)
def test_to_torch_matches_eval_mode(name):
    torch = pytest.importorskip("torch")
    layer, entry = _prepared(name)
    t = export.to_torch(layer)
    assert not t.training
    for seed, batch in ((0, None), (1, 1)):
        x = _input(entry, seed, batch)
        ref = layer(x)
        with torch.no_grad():
            out = t(torch.from_numpy(x)).numpy()
        _close(out, ref)


@pytest.mark.parametrize("name", NAMES)
def test_to_onnx_matches_eval_mode(name, tmp_path):
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    layer, entry = _prepared(name)
    path = tmp_path / f"{name}.onnx"
    try:
        export.to_onnx(layer, path)
    except ValueError as exc:  # a first layer that does not fix the layout (an activation, a pool)
        assert "pass input_shape" in str(exc)
        export.to_onnx(layer, path, input_shape=("N",) + tuple(entry.input[1:]))
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    for seed, batch in ((0, None), (1, 1), (2, 7)):  # the batch size is symbolic
        x = _input(entry, seed, batch)
        ref = layer(x)
        (out,) = sess.run(["y"], {"x": x})
        _close(out, ref)
