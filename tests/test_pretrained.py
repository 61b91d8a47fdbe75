"""pyssl.load_encoder and the pieces of a stored encoder: input standardisation by rank, the
encoder chosen by rank, the checkpoint round trip and its file mode."""
import os
import stat

import numpy as np
import pytest
from hypothesis import given, strategies as st

import pyssl
from pyssl.nn import MLP
from pyssl.pretrained import (PretrainedEncoder, Standardize, build_encoder, encoder_spec, load_encoder,
                              save_encoder, standardization_axes)
from pyssl.testing import check_module_gradients


@given(shape=st.sampled_from([(7, 3), (6, 2, 5), (5, 3, 4, 2)]), seed=st.integers(0, 2**16))
def test_standardize_statistics_per_feature_or_channel(shape, seed):
    X = np.random.default_rng(seed).normal(3.0, 2.0, shape).astype(np.float32)
    X[:, 0] = 1.5  # a constant feature / channel keeps std 1 instead of dividing by 0
    s = Standardize.fit(X)
    axes = standardization_axes(X.ndim)
    assert s.mean.shape == s.std.shape == (shape[1],) + (1,) * (len(shape) - 2)
    Z = s(X)
    np.testing.assert_allclose(Z.mean(axis=axes), 0.0, atol=1e-5)
    sd = Z.std(axis=axes)
    np.testing.assert_allclose(sd[1:], 1.0, rtol=1e-4)
    np.testing.assert_allclose(Z[:, 0], 0.0, atol=1e-6)


def test_standardize_rejects_bad_statistics():
    with pytest.raises(ValueError, match="same shape"):
        Standardize(np.zeros(3), np.ones(2))
    with pytest.raises(ValueError, match="std finite and > 0"):
        Standardize(np.zeros(2), np.array([1.0, 0.0]))


def test_encoder_by_rank():
    assert encoder_spec((10,))[0]["type"] == "mlp"
    spec, flatten = encoder_spec((2, 30))
    assert spec["type"] == "conv1d" and spec["in_channels"] == 2 and not flatten
    spec, flatten = encoder_spec((3, 8, 8))
    assert spec["type"] == "conv2d" and spec["in_channels"] == 3
    spec, flatten = encoder_spec((3, 8, 8), "mlp", [16])
    assert spec["dims"] == [192, 16] and flatten
    with pytest.raises(ValueError, match="conv encoder needs series"):
        encoder_spec((10,), "conv")
    with pytest.raises(ValueError, match="encoder must be one of"):
        encoder_spec((10,), "resnet")
    with pytest.raises(ValueError, match="rows \\(D,\\), series"):
        encoder_spec((1, 2, 3, 4))


def test_pretrained_encoder_gradients_through_standardisation_and_flatten():
    """Input and parameter gradients of (x − μ)/σ → flatten → MLP by finite differences (float64)."""
    g = np.random.default_rng(0)
    X = g.normal(size=(4, 2, 3))
    std = Standardize(g.normal(size=(2, 1)), g.uniform(0.5, 2.0, size=(2, 1)))
    model = PretrainedEncoder(MLP([6, 5, 3], norm=None, act="tanh", dtype=np.float64, seed=1), (2, 3), std,
                              flatten=True)
    check_module_gradients(model, X)


def test_round_trip_and_nn_load(tmp_path, rng):
    X = rng.normal(size=(20, 2, 9)).astype(np.float32)
    model = build_encoder(X.shape[1:], widths=[4, 6], seed=3, standardize=Standardize.fit(X))
    path = tmp_path / "enc.npz"
    save_encoder(path, model, method="simclr")
    loaded = pyssl.load_encoder(path)
    assert loaded.input_shape == (2, 9) and loaded.meta["method"] == "simclr"
    np.testing.assert_array_equal(loaded.transform(X), model.transform(X))
    # the same file loads into the same structure with the generic loader
    pyssl.nn.load(build_encoder(X.shape[1:], widths=[4, 6], seed=99, standardize=Standardize.fit(X)), path)
    with pytest.raises(ValueError, match="samples of shape \\(2, 8\\) but the encoder expects \\(2, 9\\)"):
        loaded.transform(X[:, :, :8])


def test_rows_feature_count_message(rng):
    model = build_encoder((5,), widths=[4])
    with pytest.raises(ValueError, match="data has 4 features but the encoder expects 5"):
        model.check_input(np.zeros((3, 4)))


def test_load_encoder_rejects_other_checkpoints(tmp_path):
    path = tmp_path / "m.npz"
    pyssl.nn.save(MLP([3, 2]), path)
    with pytest.raises(ValueError, match="is not an encoder checkpoint"):
        load_encoder(path)


@pytest.mark.parametrize("umask, mode", [(0o027, 0o640), (0o002, 0o664)])
def test_checkpoint_file_mode_follows_umask(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        pyssl.nn.save(MLP([3, 2]), tmp_path / "a.npz")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "a.npz").st_mode) == mode


def test_checkpoint_into_missing_folder_names_the_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"cannot write .*enc.npz'.*folder .*nowhere' does not exist") as info:
        pyssl.nn.save(MLP([3, 2]), tmp_path / "nowhere" / "enc.npz")
    assert ".tmp-" not in str(info.value)


def test_checkpoints_written_before_input_shapes_were_stored_still_load(tmp_path, rng):
    """Older CLI checkpoints: MLP weights under encoder.*, per-feature statistics of the
    unflattened samples under input.*, no input_shape in the metadata."""
    from pyssl.experiments import make_encoder
    from pyssl.nn.checkpoint import save_state

    spec = {"type": "mlp", "dims": [64, 8], "norm": "batch", "seed": 0}
    mlp = make_encoder(spec)
    X = rng.normal(2.0, 3.0, size=(10, 1, 8, 8)).astype(np.float32)
    mu, sd = X.mean(axis=0), X.std(axis=0)
    arrays = {f"encoder.{k}": v for k, v in mlp.state_dict().items()}
    arrays["input.mean"], arrays["input.std"] = mu, sd
    save_state(tmp_path / "old.npz", arrays, {"kind": "encoder", "encoder": spec, "standardize": True})
    enc = load_encoder(tmp_path / "old.npz")
    rows = X.reshape(10, -1)
    np.testing.assert_allclose(enc.transform(rows), mlp.transform((rows - mu.reshape(-1)) / sd.reshape(-1)),
                               rtol=1e-5, atol=1e-5)
