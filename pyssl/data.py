"""Data in three domains, offline, and file loading for the CLI.

* images: scikit-learn's handwritten digits (1797 × 8 × 8), ``load_digits``;
* tabular: scikit-learn's breast cancer and wine sets, ``load_breast_cancer``, ``load_wine``;
* time series: UCR GunPoint and ItalyPowerDemand as shipped inside the ``aeon`` wheel
  (no network), ``load_gunpoint``, ``load_italy_power``.

scikit-learn and aeon are optional extras (``pip install "pyssl[data]"``); every loader returns
``(X float32, y)`` and raises an ImportError naming the extra when its package is missing.

Your own files: ``load_array`` (.npy / .npz / .csv), ``load_csv`` (the standard library's CSV
parser: quoted fields, detected delimiter, text labels) and ``load_image_folder`` (one sub-folder
per class, read with Pillow: ``pip install "pyssl[images]"``).
"""
from __future__ import annotations

import os
import zipfile

import numpy as np


# import name → the name pip installs it under (``sklearn`` is a placeholder that refuses to install)
_PIP_NAMES = {"sklearn": "scikit-learn", "PIL": "Pillow"}


def _need(pkg: str, extra: str = "data"):
    try:
        return __import__(pkg)
    except ImportError as exc:
        pip_name = _PIP_NAMES.get(pkg, pkg)
        raise ImportError(f"this loader needs {pip_name}: pip install 'pyssl[{extra}]' (or pip install {pip_name})"
                          ) from exc


def load_digits(as_images: bool = False):
    """Digits, pixel values scaled to [0, 1]: X (1797, 64) or (1797, 1, 8, 8), y in 0..9.

    ``as_images``: return X as (1797, 1, 8, 8) images instead of (1797, 64) rows.
    """
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
    """Standardise features with the training part's mean and std (std 0 → 1).

    ``X_train``: the training part (N, D) or (N, C, T); its statistics standardise it and every
    array in ``others``.
    """
    axes = (0,) if X_train.ndim == 2 else (0, 2)
    mu = X_train.mean(axis=axes, keepdims=True)
    sd = X_train.std(axis=axes, keepdims=True)
    sd = np.where(sd > 1e-8, sd, 1.0)
    out = [((a - mu) / sd).astype(np.float32) for a in (X_train, *others)]
    return out if others else out[0]


def stratified_split(X, y, test_size: float = 0.3, seed: int = 0):
    """scikit-learn's ``train_test_split(..., stratify=y, random_state=seed)`` when available (the
    protocol the benchmarks quote), else a seeded per-class split.

    ``X``: samples (N, ...). ``test_size``: fraction of each class held out, in (0, 1).
    """
    try:
        from sklearn.model_selection import train_test_split

        return train_test_split(X, y, test_size=test_size, stratify=y, random_state=seed)
    except ImportError:
        rng = np.random.default_rng(seed)
        per_class = []
        for c in np.unique(y):
            idx = np.flatnonzero(y == c)
            per_class.append(rng.choice(idx, size=max(1, int(round(test_size * idx.size))), replace=False))
        test = np.sort(np.concatenate(per_class))
        train = np.setdiff1d(np.arange(len(y)), test)
        return X[train], X[test], y[train], y[test]


def load_array(path, label_column=None):
    """Load samples (and optionally labels) from .npy, .npz or .csv.

    * .npy: the array is X (no labels).
    * .npz: keys ``X`` (required) and ``y`` (optional).
    * .csv: see :func:`load_csv`; ``label_column`` (name or index) is split off as y.
    Returns (X float32, y or None).

    ``path``: A .npy, .npz or .csv file.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"data file not found: {path!r}")
    ext = os.path.splitext(path)[1].lower()
    if ext in (".npy", ".npz"):
        X, y = _read_numpy(path, ext)
    elif ext == ".csv":
        return load_csv(path, label_column)
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


# -- CSV ---------------------------------------------------------------------------------------------
_DELIMITERS = (",", ";", "\t", "|")
_MISSING = frozenset({"", "na", "n/a", "nan", "null", "none", "?"})


def _detect_delimiter(lines: list[str]) -> str:
    """The candidate delimiter that splits every sampled line into the same number (> 1) of
    fields, the most fields winning; "," when none does (a one-column file)."""
    import csv

    best, best_n = ",", 1
    for d in _DELIMITERS:
        counts = {len(row) for row in csv.reader(lines, delimiter=d) if row}
        if len(counts) == 1 and (n := counts.pop()) > best_n:
            best, best_n = d, n
    return best


def _number(cell: str, decimal_comma: bool):
    """float(cell), None for a missing value, or the cell itself when it is not a number."""
    c = cell.strip()
    if c.lower() in _MISSING:
        return None
    try:
        return float(c)
    except ValueError:
        pass
    if decimal_comma and "," in c:
        try:
            return float(c.replace(",", "."))
        except ValueError:
            pass
    return cell


def _column_index(col, names: list[str], what: str) -> int:
    """Index of column ``col`` (a header name, or an integer / integer string, negative from the end)."""
    if isinstance(col, str) and col in names:
        return names.index(col)
    if isinstance(col, str) and col.strip() in [n.strip() for n in names]:
        return [n.strip() for n in names].index(col.strip())
    try:
        j = int(col)
    except (TypeError, ValueError):
        raise ValueError(f"{what} {col!r} not found; columns are {names}") from None
    if not -len(names) <= j < len(names):
        raise ValueError(f"{what} index {j} out of range for {len(names)} columns {names}")
    return j % len(names)


def load_csv(path, label_column=None, delimiter: str | None = None, drop_columns=(), return_columns: bool = False,
             mixed: bool = False, as_frame: bool = False):
    """Read a CSV table with the standard library's ``csv`` parser.

    Quoted fields (``"hue, corrected"``) keep their delimiters; the delimiter is detected among
    ``,`` ``;`` tab and ``|`` (the one that splits every line of the first 50 into the same number
    of fields) unless given. A first line with a text cell above a numeric one (or only text) is
    the header; without one, columns are named "0", "1", …. With a delimiter other than ``,``,
    decimal commas (``1,5``) are read as numbers.

    Parameters
    ----------
    path : file path.
    label_column : name or index (negative from the end) of the column split off as y. y is int64
        when every label is an integer, float64 when numeric, else the labels as strings.
    delimiter : field separator; None detects it.
    drop_columns : names or indices of columns to leave out (identifiers, text columns).
    return_columns : also return the feature column names.
    mixed : when some feature column holds text or missing values (empty, NA, N/A, NaN, null,
        None, ?), return X as a pandas DataFrame instead of raising: numeric columns as float64 with
        NaN for missing entries, the others as text (stripped) with None for missing entries — the
        input of :class:`pyssl.tables.TabularEncoder`. Needs pandas (``pip install "pyssl[tables]"``).
        A table whose features are all numbers and complete is still returned as float32.
    as_frame : always return X as such a DataFrame (pandas needed).

    Returns
    -------
    (X float32 (N, D), y or None), plus the list of D feature names with ``return_columns``.
    Raises ValueError naming the column and line of any non-numeric or missing feature value
    (unless ``mixed``).
    """
    import csv
    import itertools

    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"data file not found: {path!r}")
    if delimiter is not None and (not isinstance(delimiter, str) or len(delimiter) != 1):
        raise ValueError(f"delimiter must be one character, got {delimiter!r}")
    with open(path, newline="", encoding="utf-8-sig") as f:
        if delimiter is None:
            delimiter = _detect_delimiter([ln for ln in itertools.islice(f, 50) if ln.strip()])
            f.seek(0)
        reader = csv.reader(f, delimiter=delimiter)
        rows, lines = [], []
        for row in reader:
            if row and any(c.strip() for c in row):
                rows.append(row)
                lines.append(reader.line_num)
    if not rows:
        raise ValueError(f"{path!r} is empty")
    decimal_comma = delimiter != ","
    first = [_number(c, decimal_comma) for c in rows[0]]
    second = [_number(c, decimal_comma) for c in rows[1]] if len(rows) > 1 else [None] * len(first)
    has_header = all(isinstance(v, str) for v in first) or any(
        isinstance(a, str) and isinstance(b, float) for a, b in zip(first, second))
    width = len(rows[0])
    names = [c.strip() for c in rows[0]] if has_header else [str(i) for i in range(width)]
    body, body_lines = (rows[1:], lines[1:]) if has_header else (rows, lines)
    if not body:
        raise ValueError(f"{path!r} has a header but no data rows")
    for row, ln in zip(body, body_lines):
        if len(row) != width:
            raise ValueError(f"{path!r} line {ln} has {len(row)} fields, the {'header' if has_header else 'first line'} "
                             f"has {width} (delimiter {delimiter!r}; pass another delimiter if that is wrong)")
    cells = np.array(body, dtype=str)
    label_j = None if label_column is None else _column_index(label_column, names, "label column")
    drop = {_column_index(c, names, "column to drop") for c in drop_columns}
    if label_j is not None and label_j in drop:
        raise ValueError(f"column {names[label_j]!r} is both the label column and a column to drop")
    y = None if label_j is None else _csv_labels(cells[:, label_j], names[label_j], body_lines, path, decimal_comma)
    features = [j for j in range(width) if j != label_j and j not in drop]
    if not features:
        raise ValueError(f"{path!r} has no feature columns left (columns {names})")
    X = np.empty((len(body), len(features)), dtype=np.float32)
    problems = []
    for k, j in enumerate(features):
        values, bad = _csv_numeric_column(cells[:, j], decimal_comma)
        if bad is not None:
            i, kind = bad
            problems.append(f"{names[j]!r} ({kind} on line {body_lines[i]}: {body[i][j]!r})")
        else:
            X[:, k] = values
    if (problems and mixed) or as_frame:
        X = _mixed_frame(cells, features, names, decimal_comma)
        out = (X, y)
        return out + ([names[j] for j in features],) if return_columns else out
    if problems:
        raise ValueError(f"{path!r}: feature columns must be numeric and complete; " + ", ".join(problems)
                         + ". Drop such columns (drop_columns=, CLI --drop-columns), make one the label "
                           "(label_column=), or fill/encode them as numbers")
    out = (X, y)
    return out + ([names[j] for j in features],) if return_columns else out


def _mixed_frame(cells: np.ndarray, features, names, decimal_comma: bool):
    """The feature columns as a DataFrame: numbers (NaN where missing) or stripped text (None where missing)."""
    from .tables.schema import _pandas

    pd = _pandas()
    data = {}
    for j in features:
        parsed = [_number(c, decimal_comma) for c in cells[:, j]]
        if all(v is None or isinstance(v, float) for v in parsed):
            data[names[j]] = np.array([np.nan if v is None else v for v in parsed], dtype=np.float64)
        else:
            data[names[j]] = pd.Series([None if v is None else str(c).strip() for v, c in zip(parsed, cells[:, j])],
                                       dtype=object)
    return pd.DataFrame(data)


def _csv_numeric_column(col: np.ndarray, decimal_comma: bool):
    """(float64 values, None) for a numeric column, else (None, (row, "missing value" | "text"))."""
    try:
        values = col.astype(np.float64)
        if np.all(np.isfinite(values)):
            return values, None
    except ValueError:
        pass
    values = np.empty(col.shape, dtype=np.float64)
    for i, c in enumerate(col):
        v = _number(c, decimal_comma)
        if v is None:
            return None, (i, "missing value")
        if isinstance(v, str):
            return None, (i, "text")
        if not np.isfinite(v):
            return None, (i, "infinite value")
        values[i] = v
    return values, None


def _csv_labels(col: np.ndarray, name: str, lines, path: str, decimal_comma: bool):
    """Labels: int64 when all are integers, float64 when all are numbers, else stripped strings."""
    parsed = [_number(c, decimal_comma) for c in col]
    missing = [lines[i] for i, v in enumerate(parsed) if v is None]
    if missing:
        raise ValueError(f"{path!r}: label column {name!r} is empty or missing on line(s) {missing[:5]}")
    if all(isinstance(v, float) for v in parsed):
        y = np.array(parsed, dtype=np.float64)
        if not np.all(np.isfinite(y)):
            raise ValueError(f"{path!r}: label column {name!r} has infinite values")
        return y.astype(np.int64) if np.all(np.mod(y, 1) == 0) else y
    return np.char.strip(col)


# -- image folders -------------------------------------------------------------------------------
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")
_MODES = {"L": 1, "RGB": 3}


def _image_files(folder: str) -> list[str]:
    return sorted(os.path.join(folder, f) for f in os.listdir(folder)
                  if not f.startswith(".") and f.lower().endswith(IMAGE_EXTENSIONS)
                  and os.path.isfile(os.path.join(folder, f)))


def load_image_folder(root, size=None, mode: str = "RGB"):
    """Images from a folder, read with Pillow (``pip install 'pyssl[images]'``).

    Layout: ``root/<class name>/<image>`` (one sub-folder per class, as torchvision's
    ImageFolder), or images directly in ``root`` for unlabeled data. Files whose extension is not
    in ``IMAGE_EXTENSIONS`` and hidden entries are skipped.

    Parameters
    ----------
    root : folder path.
    size : int or (height, width) to resize every image to (bilinear); None requires all images
        to have the size of the first one.
    mode : "RGB" (3 channels) or "L" (grayscale, 1 channel).

    Returns
    -------
    (X, y, classes): X float32 (N, C, H, W) with values in [0, 1]; y int64 indices into
    ``classes`` (the sorted sub-folder names), or None with ``classes == []`` for a flat folder.
    """
    root = os.fspath(root)
    if not os.path.isdir(root):
        raise FileNotFoundError(f"image folder not found: {root!r}")
    if mode not in _MODES:
        raise ValueError(f"mode must be one of {sorted(_MODES)}, got {mode!r}")
    if size is not None:
        hw = (size, size) if isinstance(size, (int, np.integer)) else tuple(size)
        if len(hw) != 2 or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 1
                                   for v in hw):
            raise ValueError(f"size must be a positive int or a pair (height, width) of them, got {size!r}")
        size = (int(hw[0]), int(hw[1]))
    _need("PIL", "images")
    from PIL import Image, UnidentifiedImageError

    classes = sorted(d for d in os.listdir(root) if not d.startswith(".") and os.path.isdir(os.path.join(root, d)))
    files, labels = _image_files(root), []
    if files and classes:
        raise ValueError(f"{root!r} holds both images and sub-folders; use one sub-folder per class, or only images "
                         "(unlabeled)")
    if classes:
        for c, name in enumerate(classes):
            found = _image_files(os.path.join(root, name))
            if not found:
                raise ValueError(f"class folder {os.path.join(root, name)!r} has no images "
                                 f"(extensions {', '.join(IMAGE_EXTENSIONS)})")
            files += found
            labels += [c] * len(found)
    if not files:
        raise ValueError(f"no images in {root!r} (extensions {', '.join(IMAGE_EXTENSIONS)})")
    resize, X = size is not None, None
    for i, fn in enumerate(files):
        try:
            with Image.open(fn) as im:
                im = im.convert(mode)
                if size is None:
                    size = (im.height, im.width)
                if (im.height, im.width) != size:
                    if not resize:
                        raise ValueError(f"{fn!r} is {im.height}×{im.width} but {files[0]!r} is {size[0]}×{size[1]}; "
                                         "pass size= (CLI --image-size) to resize every image")
                    im = im.resize((size[1], size[0]), Image.BILINEAR)
                arr = np.asarray(im, dtype=np.float32) / 255.0
        except (UnidentifiedImageError, OSError) as exc:
            raise ValueError(f"cannot read image {fn!r}: {exc}") from None
        if X is None:
            X = np.empty((len(files), _MODES[mode], size[0], size[1]), dtype=np.float32)
        X[i] = arr.reshape(size[0], size[1], -1).transpose(2, 0, 1)
    y = np.asarray(labels, dtype=np.int64) if classes else None
    return X, y, classes
