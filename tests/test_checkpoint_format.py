"""Checkpoints written by this version of pyssl (format 1, files in tests/data/) keep loading:
a module checkpoint, a CLI encoder (with its input standardisation) and a pretraining state that
resumes. Regenerate the files only on a deliberate format change, with a new format version."""
from __future__ import annotations

from pathlib import Path

import numpy as np

import pyssl
from pyssl import methods, nn

DATA = Path(__file__).with_name("data")
X = np.load(DATA / "fixture_X.npy")


def test_module_checkpoint_v1_loads_and_computes_the_same():
    enc = nn.MLP([6, 8, 4], norm="batch", seed=99)  # other initial weights: all must be overwritten
    meta = nn.load(enc, DATA / "encoder_v1.pyssl")
    assert meta.get("note") == "format v1 fixture"
    np.testing.assert_allclose(enc.eval().transform(X), np.load(DATA / "encoder_v1_out.npy"), rtol=1e-5, atol=1e-6)


def test_cli_encoder_v1_loads_with_its_standardisation():
    enc = pyssl.load_encoder(DATA / "cli_encoder_v1.npz")
    np.testing.assert_allclose(enc.eval().transform(X), np.load(DATA / "cli_encoder_v1_out.npy"), rtol=1e-5, atol=1e-6)


def test_pretraining_state_v1_resumes():
    m = methods.SimCLR(nn.MLP([6, 8, 4], norm="batch", seed=1), projection_dim=4, hidden_dim=8)
    hist = pyssl.pretrain(m, X, epochs=3, batch_size=16, resume=str(DATA / "pretrain_v1.pyssl"), progress=False)
    assert len(hist["loss"]) == 3 and np.isfinite(hist["loss"]).all()
