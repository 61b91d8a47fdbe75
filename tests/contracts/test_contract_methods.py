"""Contract every registered method (``pyssl.methods.METHODS``) must pass, parametrized over the
registry: one training step is bit-identical across runs and thread counts, the state survives a
checkpoint round trip, and numeric constructor arguments accept numpy scalars. Whether each
method learns is in tests/test_methods.py (which reads the same registry)."""
import inspect
import numbers

import numpy as np
import pytest

import pyssl
from pyssl import methods as M
from pyssl.nn import CausalCNNEncoder, ConvEncoder2d, DilatedConvEncoder, FeatureTokenizer, MLP, TransformerEncoder

from ._helpers import assert_every_public_class_registered, assert_thread_identical

NAMES = M.METHODS.names()


def _data(entry, n=64):
    rng = np.random.default_rng(0)
    if entry.data == "images":
        return rng.standard_normal((n, 1, 8, 8)).astype(np.float32)
    if entry.data in ("series", "series_pooled"):
        return rng.standard_normal((n, 2, 16)).astype(np.float32)
    return rng.standard_normal((n, 6)).astype(np.float32)


def _encoder(entry, seed=1):
    if entry.data == "images":
        return ConvEncoder2d(1, channels=(4,), seed=seed)
    if entry.data == "series":  # per-timestep maps (N, D, T) (TS2Vec)
        return DilatedConvEncoder(2, hidden_dim=4, output_dim=6, depth=2, seed=seed)
    if entry.data == "series_pooled":  # one vector per series (T-Loss)
        return CausalCNNEncoder(2, channels=3, depth=2, reduced_size=4, out_features=5, seed=seed)
    if entry.data == "tokens":  # a transformer over one token per table feature (MAE)
        return TransformerEncoder(8, 1, 2, mlp_ratio=2.0, tokenizer=FeatureTokenizer(6, 8, seed=seed), seed=seed)
    return MLP([6, 12, 8], seed=seed)


def _trained(name, epochs=1, seed=1, **kw):
    entry = M.METHODS.entry(name)
    m = entry.example(_encoder(entry, seed))
    pyssl.pretrain(m, _data(entry), epochs=epochs, batch_size=16, seed=3, progress=False, **kw)
    return m


@pytest.mark.skipif(not pyssl.nn.precision.available(), reason="bf16-mixed needs pyssl built with oneDNN")
@pytest.mark.parametrize("name", NAMES)
def test_bf16_weight_copies_change_nothing(name, monkeypatch):
    """Under bf16-mixed the optimizer writes bf16(θ) in its update and the products read that copy
    instead of casting; a method that changes a parameter in place between the update and the next
    forward (SwAV normalises its prototypes) must retire the copy, so training with the copies is
    bit-identical to training that casts every weight afresh."""
    import contextlib

    def state(m):
        return [m.state_dict()[k] for k in sorted(m.state_dict())]

    with_copies = state(_trained(name, epochs=2, precision="bf16-mixed"))
    monkeypatch.setattr(pyssl.nn.precision, "weight_copies", lambda opts, precision: contextlib.nullcontext())
    casting = state(_trained(name, epochs=2, precision="bf16-mixed"))
    for a, b in zip(with_copies, casting):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", NAMES)
def test_training_is_bit_identical_across_runs_and_thread_counts(name):
    def run():
        m = _trained(name)
        return [m.state_dict()[k] for k in sorted(m.state_dict())]

    assert_thread_identical(run, name, threads=(1, 3))


@pytest.mark.parametrize("name", NAMES)
def test_checkpoint_round_trip(name, tmp_path):
    m = _trained(name)
    state = m.state_dict()
    np.savez(tmp_path / "m.npz", **state)
    entry = M.METHODS.entry(name)
    other = entry.example(_encoder(entry, seed=99))
    other.setup(_data(entry))
    with np.load(tmp_path / "m.npz") as f:
        other.load_state_dict({k: f[k] for k in f.files})
    got = other.state_dict()
    assert sorted(got) == sorted(state)
    for k in state:
        np.testing.assert_array_equal(got[k], state[k], err_msg=k)
    X = _data(entry)
    np.testing.assert_array_equal(other.encoder.transform(X), m.encoder.transform(X))


def _numpy_arguments(cls):
    """Every int/float default of ``cls.__init__`` as the numpy scalar of its type."""
    out = {}
    for name, p in inspect.signature(cls.__init__).parameters.items():
        d = p.default
        if isinstance(d, bool) or d is inspect.Parameter.empty:
            continue
        if isinstance(d, numbers.Integral):
            out[name] = np.int64(d)
        elif isinstance(d, numbers.Real):
            out[name] = np.float64(d)
    return out


@pytest.mark.parametrize("name", NAMES)
def test_numeric_arguments_accept_numpy_scalars(name):
    entry = M.METHODS.entry(name)
    cls = entry.obj
    kw = _numpy_arguments(cls)
    plain = cls(_encoder(entry), **{k: v.item() for k, v in kw.items()})
    with_numpy = cls(_encoder(entry), **kw)
    for k in kw:
        if hasattr(plain, k):
            assert getattr(with_numpy, k) == getattr(plain, k), k


@pytest.mark.parametrize("name", NAMES)
def test_nan_float_arguments_are_refused_by_name(name):
    entry = M.METHODS.entry(name)
    floats = [k for k, v in _numpy_arguments(entry.obj).items() if isinstance(v, np.floating)]
    for k in floats:
        with pytest.raises(ValueError, match=k):
            entry.obj(_encoder(entry), **{k: float("nan")})


def test_every_public_method_class_is_registered():
    assert_every_public_class_registered(M, M.Method, M.METHODS, exclude=(M.JointEmbedding, M.PretextTaskMethod))


def test_a_method_registered_later_is_made_by_name():
    from pyssl.experiments import make_method

    @M.register_method("contract_probe_method", example=lambda e: Late(e))
    class Late(M.SimCLR):
        """SimCLR under another name (``encoder`` and the rest as SimCLR)."""

    try:
        assert isinstance(make_method("contract-probe-method", MLP([6, 4], seed=0)), Late)
    finally:
        M.METHODS._entries.pop("contract_probe_method")


@pytest.mark.parametrize("name", NAMES)
def test_bad_encoder_is_refused_by_name(name):
    with pytest.raises(TypeError, match="encoder"):
        M.METHODS.get(name)("not a module")
