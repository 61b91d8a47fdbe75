"""Module.astype and float64 pretraining: heads, queues and centers follow the encoder's dtype, and
a float64 run follows the float32 run from the same initial weights to float32 rounding."""
import copy

import numpy as np
import pytest

import pyssl
from pyssl import methods as M
from pyssl.experiments import METHOD_NAMES, make_method
from pyssl.nn import MLP, ConvEncoder1d, ConvEncoder2d, LayerNorm, Sequential, Dropout, Linear


def _float_arrays(method):
    """Every parameter, buffer and method array (queue, center) of a built method."""
    out = {k: v for k, v in method.state_dict().items() if not k.endswith("rng_state") and k != "buffer.queue_ptr"}
    return out


def test_astype_casts_parameters_grads_and_buffers_in_place():
    m = MLP([4, 6, 3], norm="batch", dropout=0.1, seed=0)
    before = m.state_dict()
    m.parameters()[0].grad[...] = 2.0
    assert m.astype(np.float64) is m
    assert m.dtype == np.float64
    for name, p in m.named_parameters():
        assert p.data.dtype == np.float64 and p.grad.dtype == np.float64, name
        np.testing.assert_array_equal(p.data, before[name])  # float32 → float64 is exact
    np.testing.assert_array_equal(m.parameters()[0].grad, 2.0)
    bn = m[1]
    assert bn.running_mean.dtype == bn.running_var.dtype == np.float64
    drop = next(layer for layer in m.modules() if isinstance(layer, Dropout))
    assert drop.rng_state.dtype == np.uint64  # integer state is kept
    x = np.random.default_rng(0).standard_normal((5, 4))
    assert m.eval()(x).dtype == np.float64
    m.astype(np.float32)
    assert m.eval()(x.astype(np.float32)).dtype == np.float32


def test_astype_layernorm_without_parameters_and_bad_dtype():
    ln = LayerNorm(3, elementwise_affine=False)
    net = Sequential(Linear(3, 3, seed=0), ln)
    net.astype("float64")
    assert ln.dtype == np.float64
    assert net(np.ones((2, 3))).dtype == np.float64
    with pytest.raises(TypeError, match="dtype must be np.float32 or np.float64"):
        net.astype(np.int32)


def _run(name, dtype, X):
    enc = MLP([X.shape[1], 16, 8], seed=0).astype(dtype)
    kw = {"queue_size": 32} if name == "moco" else {}
    m = make_method(name, enc, seed=1, **kw)
    hist = pyssl.pretrain(m, X, epochs=2, batch_size=32, seed=0, progress=False)
    return m, np.array(hist["loss"])


@pytest.mark.parametrize("name", METHOD_NAMES)
def test_float64_encoder_pretrains_with_every_method(name):
    X = np.random.default_rng(0).standard_normal((64, 6)).astype(np.float32)
    m64, loss64 = _run(name, np.float64, X)
    for key, value in _float_arrays(m64).items():
        assert value.dtype == np.float64, f"{name}: {key} is {value.dtype}"
    _, loss32 = _run(name, np.float32, X)
    # same initial weights, views and batches: the runs differ by float32 rounding only
    np.testing.assert_allclose(loss64, loss32, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("make", [
    lambda e: M.SimCLR(e, projection_dim=8),
    lambda e: M.RotationPrediction(e),
    lambda e: M.Jigsaw(e),
], ids=["simclr-images", "rotation", "jigsaw"])
def test_float64_conv_encoders_pretrain(make):
    X = np.random.default_rng(1).standard_normal((16, 1, 8, 8))
    losses = []
    for dtype in (np.float32, np.float64):
        m = make(ConvEncoder2d(1, (4, 8), seed=3).astype(dtype))
        losses.append(np.array(pyssl.pretrain(m, X, epochs=2, batch_size=8, progress=False)["loss"]))
        assert {p.dtype for p in m.parameters()} == {np.dtype(dtype)}
    np.testing.assert_allclose(losses[1], losses[0], rtol=1e-4)


def test_float64_sequence_encoder_keeps_its_dtype_in_transform():
    X = np.random.default_rng(2).standard_normal((16, 2, 20))
    enc = ConvEncoder1d(2, (4, 8), seed=0).astype(np.float64)
    pyssl.pretrain(M.VICReg(enc, projection_dim=8, hidden_dim=8), X, epochs=1, batch_size=8, progress=False)
    assert enc.transform(X).dtype == np.float64


def test_float32_encoder_still_casts_float64_data():
    X = np.random.default_rng(0).standard_normal((32, 5))  # float64 data
    enc = MLP([5, 8, 4], seed=0)
    m = M.SimCLR(enc, projection_dim=4)
    pyssl.pretrain(m, X, epochs=1, batch_size=16, progress=False)
    assert {p.dtype for p in m.parameters()} == {np.dtype(np.float32)}


def test_deepcopy_then_astype_leaves_the_original():
    enc = MLP([3, 4], seed=0)
    enc64 = copy.deepcopy(enc).astype(np.float64)
    assert enc.dtype == np.float32 and enc64.dtype == np.float64


def test_a_head_of_another_dtype_is_named():
    X = np.random.default_rng(0).standard_normal((16, 5))
    m = M.SimCLR(MLP([5, 8], seed=0).astype(np.float64), projector=MLP([8, 4], seed=1))
    with pytest.raises(TypeError, match=r"SimCLR: projector has dtype float32 but the encoder has float64; "
                                        r"cast it with projector.astype\(np.float64\)"):
        pyssl.pretrain(m, X, epochs=1, batch_size=8, progress=False)


@pytest.mark.parametrize("adapter", ["probe", "knn", "finetune", "finetune-regression"])
def test_adapters_with_a_float64_encoder_match_float32(adapter):
    from pyssl.transfer import KNN, FineTune, LinearProbe

    X = np.random.default_rng(0).standard_normal((60, 5))
    y = X[:, 1] if adapter == "finetune-regression" else (X[:, 0] > 0).astype(int)
    make = {"probe": LinearProbe, "knn": lambda e: KNN(e, k=5),
            "finetune": lambda e: FineTune(e, epochs=3, batch_size=16),
            "finetune-regression": lambda e: FineTune(e, epochs=3, batch_size=16)}[adapter]
    fitted = [make(MLP([5, 8, 4], seed=0).astype(dtype)).fit(X, y) for dtype in (np.float32, np.float64)]
    if adapter.startswith("finetune"):
        assert {p.dtype for p in fitted[1].head_.parameters()} == {np.dtype(np.float64)}
    assert fitted[1].score(X, y) == pytest.approx(fitted[0].score(X, y), abs=1e-4)


def test_adapter_given_a_method_names_its_encoder():
    from pyssl.transfer import LinearProbe

    with pytest.raises(TypeError, match=r"got SimCLR; pass the method's encoder \(method.encoder\)"):
        LinearProbe(M.SimCLR(MLP([3, 2]))).fit(np.zeros((4, 3)), [0, 1, 0, 1])  # checked in fit
