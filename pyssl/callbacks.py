"""Callbacks for ``pyssl.pretrain(..., callbacks=[...])``: early stopping, online kNN
monitoring, CSV and TensorBoard logging.

A callback is any callable ``cb(epoch, history, method)`` run after each epoch, in list order;
returning ``"stop"`` ends training. ``history`` maps names to per-epoch lists (``loss``,
``epoch_time``, ``lr``); a callback may add its own lists, which later callbacks in the list see
(put KNNMonitor before the EarlyStopping or logger that reads ``knn_acc``). Values recorded only
on some epochs (KNNMonitor with ``every > 1``) are lists of those epochs' values.

Print from a callback with :func:`pyssl.log` so the progress bar is not garbled.
"""
from __future__ import annotations

import csv
import math
import numbers
import os
import warnings

import numpy as np

from ._log import log
from ._validation import check_array, check_scalar


def _grown(history, seen: dict) -> dict:
    """The list entries of ``history`` that gained a value since the last call, by name, with that
    value; ``seen`` (name → length at the last call) is updated."""
    out = {}
    for name, values in history.items():
        if isinstance(values, list) and len(values) > seen.get(name, 0):
            out[name] = values[-1]
            seen[name] = len(values)
    return out


class EarlyStopping:
    """Stop pretraining when ``history[monitor]`` has not improved for ``patience`` evaluations.

    An evaluation is an epoch on which the monitored list gained a value (every epoch for
    ``loss``; every ``every`` epochs for KNNMonitor's ``knn_acc``). A value improves when it beats
    the best so far by more than ``min_delta`` (below it for ``mode="min"``, above for ``"max"``).

    Parameters
    ----------
    monitor : str, default "loss"
        A history entry; it must exist by the time this callback runs.
    patience : int ≥ 1, default 10
    min_delta : float ≥ 0, default 0
    mode : {"auto", "min", "max"}, default "auto" (max for names containing "acc", min otherwise)
    verbose : print a line (through :func:`pyssl.log`) when stopping.

    Attributes: ``best`` (best value), ``best_epoch``, ``stopped_epoch`` (None until it stops).
    """

    def __init__(self, monitor: str = "loss", patience: int = 10, min_delta: float = 0.0, mode: str = "auto",
                 verbose: bool = False):
        if not isinstance(monitor, str):
            raise TypeError(f"monitor must be the name of a history entry such as 'loss', got {monitor!r}")
        self.monitor = monitor
        self.patience = int(check_scalar(patience, "patience", kind=numbers.Integral, low=1))
        self.min_delta = float(check_scalar(min_delta, "min_delta", low=0.0))
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
        self.mode = ("max" if "acc" in monitor else "min") if mode == "auto" else mode
        self.verbose = bool(verbose)
        self._reset()

    def _reset(self):
        self.best, self.best_epoch, self.stopped_epoch = None, None, None
        self._wait, self._seen, self._last_epoch = 0, 0, -1

    def __call__(self, epoch, history, method):
        if epoch <= self._last_epoch:  # a new run with the same callback
            self._reset()
        self._last_epoch = epoch
        if self.monitor not in history:
            raise ValueError(f"EarlyStopping: history has no {self.monitor!r} (it has {sorted(history)}); monitor "
                             "one of those, or put the callback that records it before EarlyStopping in callbacks")
        values = history[self.monitor]
        if len(values) <= self._seen:
            return None
        self._seen = len(values)
        value = float(values[-1])
        better = self.best is None or (value < self.best - self.min_delta if self.mode == "min"
                                       else value > self.best + self.min_delta)
        if better:
            self.best, self.best_epoch, self._wait = value, epoch, 0
            return None
        self._wait += 1
        if self._wait >= self.patience:
            self.stopped_epoch = epoch
            if self.verbose:
                log(f"EarlyStopping: {self.monitor} has not improved on {self.best:.4g} (epoch {self.best_epoch}) "
                    f"for {self.patience} evaluations; stopping after epoch {epoch}")
            return "stop"
        return None


class KNNMonitor:
    """Online kNN accuracy of the encoder during pretraining (the monitor lightly's
    ``KNNBenchmarkModule`` and solo-learn's online kNN report): every ``every`` epochs, embed the
    labeled ``(X_train, y_train)`` as a memory bank and classify ``X_val`` by a weighted vote of
    its ``k`` most cosine-similar bank rows (:class:`pyssl.transfer.KNN`, weights exp(s/T)).

    Records the accuracy in ``history[key]`` and the epoch in ``history[key + "_epoch"]``.

    Parameters
    ----------
    X_train, y_train : labeled bank (a small labeled part of the data is enough).
    X_val, y_val : held-out labeled samples scored each time.
    every : int ≥ 1, default 1 — evaluate after epochs every−1, 2·every−1, …
    k : int ≥ 1, default 20 (lowered to the bank size with a warning); temperature : T, default 0.07.
    key : str, default "knn_acc".
    verbose : print each accuracy through :func:`pyssl.log`.
    """

    def __init__(self, X_train, y_train, X_val, y_val, every: int = 1, k: int = 20, temperature: float = 0.07,
                 key: str = "knn_acc", verbose: bool = False):
        self.X_train = check_array(X_train, "X_train", min_ndim=2, min_rows=1)
        self.X_val = check_array(X_val, "X_val", min_ndim=2, min_rows=1)
        self.y_train, self.y_val = np.asarray(y_train), np.asarray(y_val)
        for name, X, y in (("y_train", self.X_train, self.y_train), ("y_val", self.X_val, self.y_val)):
            if y.ndim != 1 or y.shape[0] != X.shape[0]:
                raise ValueError(f"{name} must be 1-D with one label per row of X_{name[2:]} ({X.shape[0]}), "
                                 f"got shape {y.shape}")
        if self.X_train.shape[1:] != self.X_val.shape[1:]:
            raise ValueError(f"X_val must have X_train's sample shape {self.X_train.shape[1:]}, got {self.X_val.shape[1:]}")
        self.every = int(check_scalar(every, "every", kind=numbers.Integral, low=1))
        k = int(check_scalar(k, "k", kind=numbers.Integral, low=1))
        n = self.X_train.shape[0]
        if k > n:
            warnings.warn(f"KNNMonitor: k={k} is larger than the {n} rows of X_train; using k={n}", UserWarning,
                          stacklevel=2)
            k = n
        self.k = k
        self.temperature = float(check_scalar(temperature, "temperature", low=0.0, low_inclusive=False))
        if not isinstance(key, str):
            raise TypeError(f"key must be a str, got {key!r}")
        self.key, self.verbose = key, bool(verbose)

    def score(self, encoder) -> float:
        """kNN accuracy of ``encoder`` on the validation split."""
        from .transfer import KNN

        knn = KNN(encoder, k=self.k, temperature=self.temperature, task="classification")
        return float(knn.fit(self.X_train, self.y_train).score(self.X_val, self.y_val))

    def __call__(self, epoch, history, method):
        values = history.setdefault(self.key, [])
        epochs = history.setdefault(self.key + "_epoch", [])
        if (epoch + 1) % self.every:
            return None
        acc = self.score(method.encoder)
        values.append(acc)
        epochs.append(epoch)
        if self.verbose:
            log(f"epoch {epoch}: {self.key} {acc:.4f}")
        return None


class CSVLogger:
    """Append one row per epoch to a CSV file: ``epoch`` and every history list present at the
    first row (``loss``, ``epoch_time``, ``lr`` and what earlier callbacks record). A list that
    gained no value this epoch (KNNMonitor between evaluations) leaves its cell empty. The file is
    opened and closed for each row, so it is complete whenever training stops.

    Parameters
    ----------
    path : file to write.
    append : keep an existing file and add rows (a resumed run); default False starts it anew
        with a header.
    """

    def __init__(self, path, append: bool = False):
        self.path = os.fspath(path)
        self.append = bool(append)
        self.columns = None
        self._seen: dict[str, int] = {}

    def __call__(self, epoch, history, method):
        new = _grown(history, self._seen)
        first = self.columns is None
        if first:
            self.columns = ["epoch"] + [k for k, v in history.items() if isinstance(v, list)]
        row = [epoch] + [_cell(new.get(k)) for k in self.columns[1:]]
        mode = "w" if first and not (self.append and os.path.exists(self.path)) else "a"
        with open(self.path, mode, newline="") as f:
            w = csv.writer(f)
            if mode == "w":
                w.writerow(self.columns)
            w.writerow(row)
        return None


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    return value


class TensorBoardLogger:
    """Write every history value of each epoch as a TensorBoard scalar ``{prefix}/{name}`` at step
    ``epoch`` (``tensorboard --logdir LOGDIR`` shows them). Needs the optional ``tensorboardX``
    package (``pip install "pyssl[tensorboard]"``).

    Parameters
    ----------
    logdir : folder for the event files.
    prefix : tag prefix, default "pretrain".

    Call :meth:`close` when done (or use it as a context manager); events are flushed every epoch.
    """

    def __init__(self, logdir, prefix: str = "pretrain"):
        try:
            from tensorboardX import SummaryWriter
        except ImportError as exc:
            raise ImportError('TensorBoardLogger needs tensorboardX: pip install "pyssl[tensorboard]" '
                              "(or pip install tensorboardX)") from exc
        self.writer = SummaryWriter(logdir=os.fspath(logdir))
        self.prefix = str(prefix)
        self._seen: dict[str, int] = {}

    def __call__(self, epoch, history, method):
        for name, value in _grown(history, self._seen).items():
            if isinstance(value, numbers.Real):
                self.writer.add_scalar(f"{self.prefix}/{name}", float(value), epoch)
        self.writer.flush()
        return None

    def close(self) -> None:
        self.writer.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


__all__ = ["EarlyStopping", "KNNMonitor", "CSVLogger", "TensorBoardLogger"]
