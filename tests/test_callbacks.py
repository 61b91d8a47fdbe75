"""Shipped callbacks (EarlyStopping, KNNMonitor, CSVLogger, TensorBoardLogger) and pyssl.log."""
import csv
import io
import struct

import numpy as np
import pytest

import pyssl
from pyssl import methods as M
from pyssl.callbacks import CSVLogger, EarlyStopping, KNNMonitor, TensorBoardLogger
from pyssl.nn import MLP
from pyssl.transfer import KNN


def clustered(n=120, d=8, k=3, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((k, d)) * 3
    y = rng.integers(0, k, size=n)
    return (centers[y] + rng.standard_normal((n, d))).astype(np.float32), y


def simclr(d=8):
    return M.SimCLR(MLP([d, 16, 8], seed=0), projection_dim=8, temperature=0.5)


# -- EarlyStopping -------------------------------------------------------------------------------

def _feed(cb, values, key="loss"):
    """Run cb over a history growing by one value per epoch; the epoch it stopped at, or None."""
    history = {key: []}
    for epoch, v in enumerate(values):
        history[key].append(v)
        if cb(epoch, history, None) == "stop":
            return epoch
    return None


def test_early_stopping_counts_epochs_without_improvement():
    cb = EarlyStopping(patience=2)
    assert _feed(cb, [5, 4, 4.5, 3, 3.5, 3.2, 1]) == 5  # 3.5 and 3.2 do not beat 3
    assert (cb.best, cb.best_epoch, cb.stopped_epoch) == (3, 3, 5)
    # min_delta: an improvement must be larger than it
    assert _feed(EarlyStopping(patience=2, min_delta=0.5), [5, 4.8, 4.6, 4.4]) == 2
    # the same callback reused for a new run starts afresh
    assert _feed(cb, [1, 2, 3]) == 2


def test_early_stopping_mode_max_for_accuracies_and_sparse_values():
    cb = EarlyStopping(monitor="knn_acc", patience=2)
    assert cb.mode == "max"
    history = {"knn_acc": []}
    stops = []
    for epoch in range(12):
        if epoch % 3 == 2:  # recorded every third epoch only
            history["knn_acc"].append([0.5, 0.7, 0.6, 0.65][min(epoch // 3, 3)])
        stops.append(cb(epoch, history, None))
    # evaluations 0.5, 0.7 (best), 0.6, 0.65: the second evaluation without improvement is epoch 11
    assert stops.index("stop") == 11


def test_early_stopping_ends_pretraining_and_names_missing_entries():
    X, _ = clustered()
    stop = EarlyStopping(patience=1, min_delta=1e9)  # nothing counts as an improvement after epoch 0
    hist = pyssl.pretrain(simclr(), X, epochs=10, batch_size=40, callbacks=[stop], progress=False)
    assert len(hist["loss"]) == 2 and stop.stopped_epoch == 1
    with pytest.raises(ValueError, match=r"history has no 'val_loss' \(it has \['epoch_time', 'loss', 'lr'\]\)"):
        pyssl.pretrain(simclr(), X, epochs=2, batch_size=40, callbacks=[EarlyStopping("val_loss")], progress=False)


@pytest.mark.parametrize("kwargs, exc, match", [
    ({"patience": 0}, ValueError, "'patience' parameter must be >= 1"),
    ({"mode": "lowest"}, ValueError, "mode must be 'auto', 'min' or 'max'"),
    ({"monitor": 3}, TypeError, "monitor must be the name of a history entry"),
    ({"min_delta": -1.0}, ValueError, "'min_delta' parameter must be >= 0.0"),
])
def test_early_stopping_arguments(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        EarlyStopping(**kwargs)


# -- KNNMonitor ------------------------------------------------------------------------------------

def test_knn_monitor_records_the_knn_accuracy_every_k_epochs():
    X, y = clustered(seed=1)
    mon = KNNMonitor(X[:80], y[:80], X[80:], y[80:], every=2, k=5)
    m = simclr()
    hist = pyssl.pretrain(m, X, epochs=5, batch_size=40, callbacks=[mon], progress=False)
    assert hist["knn_acc_epoch"] == [1, 3]
    assert len(hist["knn_acc"]) == 2
    # the monitor scores an encoder as a KNN fitted by hand does
    expected = KNN(m.encoder, k=5).fit(X[:80], y[:80]).score(X[80:], y[80:])
    assert mon.score(m.encoder) == pytest.approx(expected)
    assert all(0.0 <= a <= 1.0 for a in hist["knn_acc"])
    assert hist["knn_acc"][-1] > 1 / 3 + 0.2  # well-separated clusters: far above chance


def test_knn_monitor_with_early_stopping_and_checks():
    X, y = clustered(seed=2)
    mon = KNNMonitor(X[:60], y[:60], X[60:], y[60:], k=5)
    stop = EarlyStopping("knn_acc", patience=1, min_delta=2.0)  # accuracy cannot rise by 2: stops at epoch 1
    hist = pyssl.pretrain(simclr(), X, epochs=6, batch_size=40, callbacks=[mon, stop], progress=False)
    assert len(hist["loss"]) == 2 and len(hist["knn_acc"]) == 2
    with pytest.warns(UserWarning, match="k=20 is larger than the 10 rows of X_train; using k=10"):
        assert KNNMonitor(X[:10], y[:10], X[10:], y[10:]).k == 10
    with pytest.raises(ValueError, match=r"y_val must be 1-D with one label per row of X_val \(60\)"):
        KNNMonitor(X[:60], y[:60], X[60:], y[:10])
    with pytest.raises(ValueError, match="X_val must have X_train's sample shape"):
        KNNMonitor(X[:60], y[:60], X[60:, :4], y[60:])


# -- CSVLogger --------------------------------------------------------------------------------------

def _read(path):
    with open(path, newline="") as f:
        return list(csv.reader(f))


def test_csv_logger_writes_one_row_per_epoch(tmp_path):
    X, y = clustered()
    path = tmp_path / "log.csv"
    mon = KNNMonitor(X[:80], y[:80], X[80:], y[80:], every=2, k=5)
    hist = pyssl.pretrain(simclr(), X, epochs=4, batch_size=40, callbacks=[mon, CSVLogger(path)], progress=False)
    rows = _read(path)
    assert rows[0] == ["epoch", "loss", "epoch_time", "lr", "knn_acc", "knn_acc_epoch"]
    assert [int(r[0]) for r in rows[1:]] == [0, 1, 2, 3]
    np.testing.assert_allclose([float(r[1]) for r in rows[1:]], hist["loss"], rtol=1e-12)
    np.testing.assert_allclose([float(r[3]) for r in rows[1:]], hist["lr"], rtol=1e-12)
    assert [r[4] for r in rows[1:]][::2] == ["", ""]  # no kNN evaluation on epochs 0 and 2
    np.testing.assert_allclose([float(r[4]) for r in rows[1:][1::2]], hist["knn_acc"], rtol=1e-12)


def test_csv_logger_restarts_or_appends(tmp_path):
    X, _ = clustered()
    path = tmp_path / "log.csv"
    for _ in range(2):  # a new logger overwrites
        pyssl.pretrain(simclr(), X, epochs=2, batch_size=40, callbacks=[CSVLogger(path)], progress=False)
    assert len(_read(path)) == 3
    pyssl.pretrain(simclr(), X, epochs=2, batch_size=40, callbacks=[CSVLogger(path, append=True)], progress=False)
    rows = _read(path)
    assert len(rows) == 5 and rows[0][0] == "epoch" and [r[0] for r in rows[1:]] == ["0", "1", "0", "1"]


# -- TensorBoardLogger ------------------------------------------------------------------------------

def _read_scalars(logdir):
    """Scalars of the TFRecord event files in logdir: {tag: [(step, value), ...]}."""
    from tensorboardX.proto import event_pb2

    out = {}
    for f in sorted(logdir.iterdir()):
        data = f.read_bytes()
        pos = 0
        while pos < len(data):
            (length,) = struct.unpack("<Q", data[pos:pos + 8])
            event = event_pb2.Event.FromString(data[pos + 12:pos + 12 + length])
            pos += 12 + length + 4
            for v in event.summary.value:
                out.setdefault(v.tag, []).append((event.step, v.simple_value))
    return out


def test_tensorboard_logger_writes_scalars(tmp_path):
    pytest.importorskip("tensorboardX")
    X, _ = clustered()
    with TensorBoardLogger(tmp_path) as tb:
        hist = pyssl.pretrain(simclr(), X, epochs=3, batch_size=40, callbacks=[tb], progress=False)
    scalars = _read_scalars(tmp_path)
    assert [s for s, _ in scalars["pretrain/loss"]] == [0, 1, 2]
    np.testing.assert_allclose([v for _, v in scalars["pretrain/loss"]], hist["loss"], rtol=1e-6)
    np.testing.assert_allclose([v for _, v in scalars["pretrain/lr"]], hist["lr"], rtol=1e-6)


def test_tensorboard_logger_without_tensorboardx(monkeypatch, tmp_path):
    import sys

    monkeypatch.setitem(sys.modules, "tensorboardX", None)
    with pytest.raises(ImportError, match=r'TensorBoardLogger needs tensorboardX: pip install "pyssl\[tensorboard\]"'):
        TensorBoardLogger(tmp_path)


# -- pyssl.log ----------------------------------------------------------------------------------------

def test_log_writes_its_own_line_through_a_running_bar():
    from tqdm import tqdm

    out = io.StringIO()
    bar = tqdm(total=10, file=out, desc="SimCLR", ascii=True)
    bar.update(3)
    pyssl.log("epoch 3: knn_acc 0.9000", file=out)
    bar.update(1)
    bar.close()
    # tqdm clears the bar (\r ... \r), writes the line, and redraws: the message stands alone
    # between line breaks / carriage returns, where a print would have been glued to the bar
    segments = out.getvalue().replace("\r", "\n").split("\n")
    assert "epoch 3: knn_acc 0.9000" in segments
    glued = io.StringIO()
    bar = tqdm(total=10, file=glued, desc="SimCLR", ascii=True)
    bar.update(3)
    print("epoch 3: knn_acc 0.9000", file=glued)
    bar.close()
    assert "epoch 3: knn_acc 0.9000" not in glued.getvalue().replace("\r", "\n").split("\n")


def test_log_from_a_callback_during_pretraining(capsys):
    X, _ = clustered()

    def report(epoch, history, method):
        pyssl.log(f"epoch {epoch} loss {history['loss'][-1]:.3f}")

    hist = pyssl.pretrain(simclr(), X, epochs=2, batch_size=40, callbacks=[report], progress=False)
    lines = capsys.readouterr().out.splitlines()
    assert lines == [f"epoch {e} loss {hist['loss'][e]:.3f}" for e in range(2)]
