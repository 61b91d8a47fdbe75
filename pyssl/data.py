"""Data in three domains, offline, and file loading for the CLI.

* images: scikit-learn's handwritten digits (1797 × 8 × 8), ``load_digits``;
* tabular: scikit-learn's breast cancer and wine sets, ``load_breast_cancer``, ``load_wine``;
* time series: UCR GunPoint and ItalyPowerDemand as shipped inside the ``aeon`` wheel
  (no network), ``load_gunpoint``, ``load_italy_power``.

scikit-learn and aeon are optional extras (``pip install "pyssl[data]"``); every loader returns
``(X float32, y)`` and raises an ImportError naming the extra when its package is missing.
"""
from __future__ import annotations

import os
import zipfile

import numpy as np


def _need(pkg: str, extra: str = "data"):
    try:
        return __import__(pkg)
    except ImportError as exc:
        raise ImportError(f"this loader needs {pkg}: pip install 'pyssl[{extra}]' (or pip install {pkg})") from exc


def load_digits(as_images: bool = False):
    """Digits, pixel values scaled to [0, 1]: X (1797, 64) or (1797, 1, 8, 8), y in 0..9."""
    _need("sklearn")
    from sklearn.datasets import load_digits as _ld

    d = _ld()
    X = (d.data / 16.0).astype(np.float32)
    if as_images:
        X = X.reshape(-1, 1, 8, 8)
    return np.ascontiguousarray(X), d.target.astype(np.int64)


def load_breast_cancer():
    """Breast cancer Wisconsin (569 × 30), y in {0, 1}."""
    _need("sklearn")
    from sklearn.datasets import load_breast_cancer as _lb

    d = _lb()
    return d.data.astype(np.float32), d.target.astype(np.int64)


def load_wine():
    """Wine (178 × 13), y in {0, 1, 2}."""
    _need("sklearn")
    from sklearn.datasets import load_wine as _lw

    d = _lw()
    return d.data.astype(np.float32), d.target.astype(np.int64)


def _aeon_ucr(name: str):
    _need("aeon", "timeseries")
    from aeon.datasets import load_classification

    Xtr, ytr = load_classification(name, split="train")
    Xte, yte = load_classification(name, split="test")
    X = np.concatenate([Xtr, Xte]).astype(np.float32)
    y = np.concatenate([ytr, yte])
    _, codes = np.unique(y, return_inverse=True)
    return np.ascontiguousarray(X), codes.astype(np.int64), len(ytr)


def load_gunpoint():
    """UCR GunPoint (200 × 1 × 150) from aeon's bundled copy; returns (X, y, n_train) with the
    official train split first."""
    return _aeon_ucr("GunPoint")


def load_italy_power():
    """UCR ItalyPowerDemand (1096 × 1 × 24) from aeon's bundled copy; returns (X, y, n_train)."""
    return _aeon_ucr("ItalyPowerDemand")


DATASETS = {"digits": load_digits, "breast_cancer": load_breast_cancer, "wine": load_wine}


def standardize(X_train, *others):
    """Standardise features with the training part's mean and std (std 0 → 1)."""
    axes = (0,) if X_train.ndim == 2 else (0, 2)
    mu = X_train.mean(axis=axes, keepdims=True)
    sd = X_train.std(axis=axes, keepdims=True)
    sd = np.where(sd > 1e-8, sd, 1.0)
    out = [((a - mu) / sd).astype(np.float32) for a in (X_train, *others)]
    return out if others else out[0]


def stratified_split(X, y, test_size: float = 0.3, seed: int = 0):
    """scikit-learn's ``train_test_split(..., stratify=y, random_state=seed)`` when available (the
    protocol the benchmarks quote), else a seeded per-class split."""
    try:
        from sklearn.model_selection import train_test_split

        return train_test_split(X, y, test_size=test_size, stratify=y, random_state=seed)
    except ImportError:
        rng = np.random.default_rng(seed)
        test = []
        for c in np.unique(y):
            idx = np.flatnonzero(y == c)
            test.append(rng.choice(idx, size=max(1, int(round(test_size * idx.size))), replace=False))
        test = np.sort(np.concatenate(test))
        train = np.setdiff1d(np.arange(len(y)), test)
        return X[train], X[test], y[train], y[test]


def load_array(path, label_column=None):
    """Load samples (and optionally labels) from .npy, .npz or .csv.

    * .npy: the array is X (no labels).
    * .npz: keys ``X`` (required) and ``y`` (optional).
    * .csv: numeric table with an optional header; ``label_column`` (name or index) is split off as y.
    Returns (X float32, y or None).
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"data file not found: {path!r}")
    ext = os.path.splitext(path)[1].lower()
    if ext in (".npy", ".npz"):
        X, y = _read_numpy(path, ext)
    elif ext == ".csv":
        with open(path) as f:
            first = f.readline().strip().split(",")
        has_header = any(not _is_number(v) for v in first)
        data = np.genfromtxt(path, delimiter=",", skip_header=1 if has_header else 0, dtype=np.float64)
        if data.ndim == 1:
            data = data.reshape(-1, 1) if not has_header or len(first) == 1 else data.reshape(1, -1)
        names = [v.strip() for v in first] if has_header else [str(i) for i in range(data.shape[1])]
        y = None
        if label_column is not None:
            if isinstance(label_column, str) and label_column in names:
                j = names.index(label_column)
            else:
                try:
                    j = int(label_column)
                except (TypeError, ValueError):
                    raise ValueError(f"label column {label_column!r} not found; columns are {names}") from None
                if not -data.shape[1] <= j < data.shape[1]:
                    raise ValueError(f"label column index {j} out of range for {data.shape[1]} columns")
            y = data[:, j]
            data = np.delete(data, j, axis=1)
            if np.all(np.mod(y, 1) == 0):
                y = y.astype(np.int64)
        if np.isnan(data).any():
            bad = sorted({names[c] for c in np.where(np.isnan(data))[1]} if has_header else set())
            raise ValueError(f"{path!r} has non-numeric or missing values" + (f" in columns {bad}" if bad else ""))
        X = data
    else:
        raise ValueError(f"unsupported data file type {ext!r} for {path!r}; use .npy, .npz or .csv")
    return _checked_samples(path, X, y)


def _read_numpy(path: str, ext: str):
    """(X, y or None) from a .npy (X only) or .npz (keys X and optional y); a file numpy cannot
    read (empty, truncated, not numpy, holding Python objects) gets a ValueError naming it."""
    try:
        with open(path, "rb") as f:  # our handle: closed even when numpy fails half-way
            if ext == ".npy":
                return np.load(f, allow_pickle=False), None
            with np.load(f, allow_pickle=False) as z:
                if "X" not in z.files:
                    raise ValueError(f"{path!r} has no array named 'X' (found {z.files}); save with "
                                     "np.savez(path, X=..., y=...)")
                return z["X"], (z["y"] if "y" in z.files else None)
    except ValueError as exc:
        if str(exc).startswith(repr(path)):
            raise
        raise ValueError(f"could not read {path!r} as a {ext} file: {exc}") from exc
    except (EOFError, OSError, zipfile.BadZipFile) as exc:
        raise ValueError(f"could not read {path!r} as a {ext} file (empty, truncated or not written by numpy): "
                         f"{type(exc).__name__}: {exc}") from exc


def _checked_samples(path: str, X, y):
    """X as float32 (N, ...) with N >= 1, finite after the cast, and y (if any) one finite label per row."""
    X = np.asarray(X)
    if X.ndim < 2:
        raise ValueError(f"samples in {path!r} must be at least 2-D (N, features), got shape {X.shape}")
    if X.dtype.kind not in "biuf":
        raise ValueError(f"samples in {path!r} must be numeric, got dtype {X.dtype}")
    with np.errstate(over="ignore"):  # overflow is reported below, with the file's name
        X32 = np.ascontiguousarray(X, dtype=np.float32)
    if not np.isfinite(X32).all():
        was = "" if np.isfinite(X).all() else " (already in the file)"
        raise ValueError(f"samples in {path!r} have NaN or Inf values in float32{was}; values beyond "
                         f"±{np.finfo(np.float32).max:.3g} overflow: clean or rescale the data first")
    if y is not None:
        y = np.asarray(y)
        if y.ndim != 1 or y.shape[0] != X32.shape[0]:
            raise ValueError(f"labels in {path!r} must be 1-D with one label per sample ({X32.shape[0]}), got shape "
                             f"{y.shape}")
        if y.dtype.kind == "f" and not np.isfinite(y).all():
            raise ValueError(f"labels in {path!r} have missing (NaN) or infinite values in rows "
                             f"{np.flatnonzero(~np.isfinite(y))[:10].tolist()}; fill or drop those rows")
        if y.dtype.kind not in "biufUS":
            raise ValueError(f"labels in {path!r} must be numbers or strings, got dtype {y.dtype}")
    return X32, y


def _is_number(s: str) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return False
