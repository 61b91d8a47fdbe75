"""Realistic API mistakes get a clear error naming the argument and the fix before any work is
done; adjustments that change a run warn once."""
import warnings

import numpy as np
import pytest

import pyssl
from pyssl import methods as M
from pyssl.nn import MLP
from pyssl.transfer import KNN


@pytest.fixture
def X():
    return np.random.default_rng(0).standard_normal((40, 5)).astype(np.float32)


def simclr():
    return M.SimCLR(MLP([5, 8, 4], seed=0), projection_dim=4)


def test_an_encoder_instead_of_a_method(X):
    with pytest.raises(TypeError, match=r"method must be a pyssl.methods.Method, got MLP; wrap the encoder.*SimCLR"):
        pyssl.pretrain(MLP([5, 8, 4]), X, epochs=1)


def test_labels_passed_as_epochs(X):
    with pytest.raises(TypeError, match=r"epochs must be an int, got an array: pretraining is self-supervised"):
        pyssl.pretrain(simclr(), X, (X[:, 0] > 0).astype(int))


@pytest.mark.parametrize("views", ["scarf", 3])
def test_views_must_be_callable(views):
    with pytest.raises(TypeError, match="views must be None or a callable") as e:
        M.SimCLR(MLP([5, 4]), views=views)
    if isinstance(views, str):
        assert "ScarfCorruption()" in str(e.value)


@pytest.mark.parametrize("kwargs, exc, match", [
    ({"lr": "1e-3"}, TypeError, r"'lr' parameter must be a number, got the string '1e-3'; pass it without quotes"),
    ({"lr": -0.01}, ValueError, r"'lr' parameter must be >= 0.0, got -0.01"),
    ({"weight_decay": -1.0}, ValueError, r"'weight_decay' parameter must be >= 0.0"),
    ({"warmup_epochs": 5, "epochs": 3}, ValueError, r"'warmup_epochs' parameter must be <= epochs \(3\), got 5"),
    ({"warmup_epochs": 0.5}, TypeError, r"'warmup_epochs' parameter must be an int"),
    ({"warmup_epochs": -1}, ValueError, r"'warmup_epochs' parameter must be >= 0"),
    ({"epochs": 0}, ValueError, r"'epochs' parameter must be >= 1"),
    ({"batch_size": 1}, ValueError, r"'batch_size' parameter must be >= 2"),
    ({"max_grad_norm": 0.0}, ValueError, r"'max_grad_norm' parameter must be > 0.0"),
    ({"progress": "yes"}, TypeError, r"progress must be True, False or None"),
    ({"optimizer": "adam"}, TypeError, r"optimizer must be a pyssl.optim optimizer, e.g. pyssl.optim.AdamW"),
    ({"callbacks": print}, TypeError, r"callbacks must be a list of callables.*callbacks=\[cb\]"),
    ({"callbacks": [print, 3]}, TypeError, r"callbacks\[1\] must be a callable cb\(epoch, history, method\)"),
    ({"callbacks": 3}, TypeError, r"callbacks must be a list of callables, got int"),
])
def test_pretrain_arguments_are_checked_before_any_work(X, kwargs, exc, match):
    m = simclr()
    kwargs = {"epochs": 1, **kwargs}
    with pytest.raises(exc, match=match):
        pyssl.pretrain(m, X, progress=kwargs.pop("progress", False), **kwargs)
    assert not m._built  # nothing was set up


def test_batch_larger_than_the_data_warns_once_and_uses_all_rows(X):
    with pytest.warns(UserWarning, match="batch_size=256 is larger than the 40 samples of X; using batch_size=40") as rec:
        hist = pyssl.pretrain(simclr(), X, epochs=3, batch_size=256, progress=False)
    assert len(rec) == 1 and len(hist["loss"]) == 3


def test_zero_learning_rate_warns_and_leaves_the_weights(X):
    m = simclr()
    with pytest.warns(UserWarning, match="lr=0: the default optimizer will leave the weights unchanged"):
        m.setup(X)
        before = m.encoder.state_dict()
        pyssl.pretrain(m, X, epochs=1, batch_size=20, lr=0.0, weight_decay=0.0, progress=False)
    after = m.encoder.state_dict()
    for k, v in before.items():
        if "running" not in k:  # BatchNorm statistics still follow the data
            np.testing.assert_array_equal(after[k], v, err_msg=k)


def test_schedule_arguments_with_an_explicit_optimizer_warn(X):
    m = simclr()
    m.setup(X)
    opt = pyssl.optim.SGD(m.parameters(), lr=0.01)
    with pytest.warns(UserWarning, match="lr, warmup_epochs configure the default optimizer and are ignored"):
        pyssl.pretrain(m, X, epochs=1, batch_size=20, optimizer=opt, lr=0.1, warmup_epochs=1, progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pyssl.pretrain(m, X, epochs=1, batch_size=20, optimizer=opt, progress=False)


def test_optimizer_built_before_the_heads_is_refused(X):
    m = simclr()
    opt = pyssl.optim.AdamW(m.encoder.parameters())  # the projector does not exist yet
    with pytest.raises(ValueError, match=r"optimizer does not update 5 of the 10 parameters of SimCLR.*method.setup\(X\)"):
        pyssl.pretrain(m, X, epochs=1, batch_size=20, optimizer=opt, progress=False)


def test_moco_queue_longer_than_the_data_warns(X):
    m = M.MoCo(MLP([5, 8, 4], seed=0), queue_size=64, projection_dim=4)
    with pytest.warns(UserWarning, match="queue_size=64 is larger than the 40 training samples.*queue_size <= 40"):
        pyssl.pretrain(m, X, epochs=1, batch_size=20, progress=False)


def test_knn_k_larger_than_the_bank_warns_and_votes_over_all(X):
    y = (X[:, 0] > 0).astype(int)
    enc = MLP([5, 4], seed=0)
    with pytest.warns(UserWarning, match="k=100 is larger than the 40 training samples"):
        big = KNN(enc, k=100).fit(X, y)
    np.testing.assert_array_equal(big.predict(X), KNN(enc, k=40).fit(X, y).predict(X))


@pytest.mark.parametrize("params, exc, match", [
    ({"hidden": 256}, TypeError, r"hidden must be a tuple of layer widths, got the int 256; write hidden=\(256,\)"),
    ({"hidden": ()}, ValueError, "hidden must name at least one layer width"),
    ({"hidden": (8, 0)}, ValueError, "'hidden entries' parameter must be >= 1"),
    ({"hidden": "256"}, TypeError, "'hidden entries' parameter must be an int"),
    ({"method": "simclrr"}, ValueError, "method must be one of"),
    ({"norm": "bn"}, ValueError, "norm must be 'batch', 'layer' or None"),
    ({"lr": "1e-3"}, TypeError, "lr must be a number, got the string '1e-3'"),
    ({"epochs": 0}, ValueError, "'epochs' parameter must be >= 1"),
    ({"method_params": [("temperature", 0.5)]}, TypeError, "method_params must be a dict"),
])
def test_sslembedding_parameters(X, params, exc, match):
    pytest.importorskip("sklearn")
    from pyssl.sklearn import SSLEmbedding

    with pytest.raises(exc, match=match):
        SSLEmbedding(**{"epochs": 1, **params}).fit(X)
