"""pretrain(epochs=None): about 1500 optimizer steps whatever the size of X (pyssl.train.default_epochs)."""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pyssl
from pyssl.methods import SimCLR
from pyssl.nn import MLP
from pyssl.train import DEFAULT_EPOCH_RANGE, DEFAULT_STEPS, default_epochs


def _reference(n, b, drop_last=True):
    """The documented rule, written independently: clip(round(1500 / steps per epoch), 20, 1000)."""
    b = min(b, n)
    per_epoch = n // b if drop_last else -(-n // b)
    return int(np.clip(round(1500 / max(per_epoch, 1)), 20, 1000))


@settings(max_examples=200, deadline=None)
@given(n=st.integers(1, 10**7), b=st.integers(1, 4096), drop_last=st.booleans())
def test_default_epochs_follows_the_rule(n, b, drop_last):
    assert default_epochs(n, b, drop_last) == _reference(n, b, drop_last)


@pytest.mark.parametrize("n, b, expected", [
    (1257, 256, 375),   # digits: 4 steps an epoch → 1500 steps
    (124, 32, 500),     # wine: 3 steps an epoch
    (2100, 256, 188),   # the MNIST subset of the sweep: 8 steps an epoch
    (10, 256, 1000),    # one step an epoch: clipped at 1000 passes
    (10**7, 256, 20),   # 39,062 steps an epoch: at least 20 passes
])
def test_default_epochs_values(n, b, expected):
    assert default_epochs(n, b) == expected
    assert DEFAULT_STEPS == 1500 and DEFAULT_EPOCH_RANGE == (20, 1000)


def test_default_epochs_rejects_bad_sizes():
    with pytest.raises(ValueError, match="n_samples"):
        default_epochs(0, 32)
    with pytest.raises(TypeError, match="batch_size"):
        default_epochs(100, 2.5)


def _method():
    return SimCLR(MLP([3, 4], seed=0), projection_dim=4, hidden_dim=4, seed=0)


def test_pretrain_without_epochs_runs_the_default_rule():
    X = np.random.default_rng(0).normal(size=(40, 3)).astype(np.float32)
    hist = pyssl.pretrain(_method(), X, batch_size=20, progress=False)
    assert len(hist["loss"]) == default_epochs(40, 20) == 750
    assert all(math.isfinite(v) for v in hist["loss"])


def test_explicit_epochs_still_win():
    X = np.random.default_rng(0).normal(size=(40, 3)).astype(np.float32)
    assert len(pyssl.pretrain(_method(), X, epochs=3, batch_size=20, progress=False)["loss"]) == 3


def test_warmup_longer_than_the_default_epochs_names_both():
    X = np.random.default_rng(0).normal(size=(40, 3)).astype(np.float32)
    with pytest.raises(ValueError, match=r"'warmup_epochs' parameter must be <= epochs \(750, the default"):
        pyssl.pretrain(_method(), X, batch_size=20, warmup_epochs=800, progress=False)
