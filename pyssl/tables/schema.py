"""TableSchema: how the columns of a mixed-type table (pandas DataFrame) become one float matrix
that pyssl's kernels, views and encoders take.

pandas is an optional dependency (``pip install "pyssl[tables]"``), imported only when a frame is
fitted or transformed.
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np

#: code of a missing categorical entry, and of a category not seen when the schema was fitted
MISSING_CODE, UNKNOWN_CODE = 0, 1


def _pandas():
    try:
        import pandas as pd
    except ImportError as exc:
        raise ImportError('mixed-type tables need pandas: pip install "pyssl[tables]" (or pip install pandas)') from exc
    return pd


def is_frame(X) -> bool:
    """Whether X is a pandas DataFrame (checked without importing pandas)."""
    return type(X).__module__.split(".")[0] == "pandas" and hasattr(X, "columns") and hasattr(X, "dtypes")


@dataclass(frozen=True)
class TableLayout:
    """Where the table's C columns sit in the packed matrix (N, W): column c owns the packed
    positions ``group_cols[group_start[c]:group_start[c + 1]]`` (a numeric column its value and its
    missing flag, a categorical column its code). Numeric columns come first, then categorical."""

    group_start: np.ndarray  # (C + 1,) int64
    group_cols: np.ndarray  # (group_start[-1],) int64
    n_numeric: int
    cardinalities: tuple  # codes per categorical column (categories seen + 2)

    @property
    def n_columns(self) -> int:
        return len(self.group_start) - 1

    @property
    def width(self) -> int:
        return 2 * self.n_numeric + len(self.cardinalities)


class TableSchema:
    r"""Column types and statistics of a training table, and the packed matrix they define.

    ``fit(frame)`` decides each column's kind — numeric (int, float, nullable Int64/Float64, or
    object columns holding numbers) or categorical (``category``, ``bool``, string and object
    columns holding text) — and learns, from the training frame only, the mean and standard
    deviation of every numeric column (over its observed entries; std 0 → 1, an all-missing column
    gets mean 0 and std 1) and the categories of every categorical column (in sorted order of
    their text ``str(value)``). Datetime, timedelta, period, interval and complex columns are
    refused with a TypeError naming the column.

    ``transform(frame)`` returns the packed float matrix (N, 2a + b) for a numeric and b
    categorical columns::

        [ v_1 .. v_a | m_1 .. m_a | c_1 .. c_b ]

    * v_j = (x_j − mean_j) / std_j, and 0 where x_j is missing;
    * m_j = 1 where x_j is missing (None, NaN, pd.NA, NaT), else 0;
    * c_j = 0 for a missing entry, 1 for a category not seen in training (or seen fewer than
      ``min_frequency`` times), 2 + k for the k-th training category.

    The packed matrix is what :class:`pyssl.tables.TabularEncoder` takes (its
    :class:`pyssl.nn.MixedInput` turns v and m into a learned value plus an indicator, and codes
    into embeddings), and what the column-wise SCARF / VIME corruptions of
    :mod:`pyssl.pretext.table` act on (:attr:`layout`).

    Parameters
    ----------
    categorical : column names to treat as categorical whatever their dtype (e.g. integer codes).
    numeric : column names to treat as numeric (they must hold numbers).
    min_frequency : categories seen fewer times than this in training share the unknown code.
    """

    def __init__(self, categorical=(), numeric=(), min_frequency: int = 1):
        from .._validation import check_scalar

        self.categorical = list(categorical or ())
        self.numeric = list(numeric or ())
        both = sorted(set(map(str, self.categorical)) & set(map(str, self.numeric)))
        if both:
            raise ValueError(f"columns {both} are named both categorical and numeric; name each in one list")
        self.min_frequency = int(check_scalar(min_frequency, "min_frequency", kind=numbers.Integral, low=1))
        self.fitted = False

    # -- fitting ------------------------------------------------------------------------------------
    def _kind(self, pd, s, name) -> str:
        dt = s.dtype
        if name in self.categorical:
            return "categorical"
        bad = (pd.api.types.is_datetime64_any_dtype(dt) or pd.api.types.is_timedelta64_dtype(dt)
               or isinstance(dt, (pd.PeriodDtype, pd.IntervalDtype)) or pd.api.types.is_complex_dtype(dt))
        inferred = None
        if not bad and not (pd.api.types.is_numeric_dtype(dt) or pd.api.types.is_bool_dtype(dt)
                            or isinstance(dt, pd.CategoricalDtype)):
            inferred = pd.api.types.infer_dtype(s, skipna=True)
            bad = inferred in ("datetime64", "datetime", "date", "timedelta64", "timedelta", "time", "period",
                               "interval", "complex")
        if bad:
            raise TypeError(f"column {name!r} has dtype {dt} ({inferred or dt}), which a table schema cannot encode; "
                            f"turn it into numbers (e.g. df[{name!r}] = df[{name!r}].astype('int64') for datetimes, "
                            f"or extract year/month/day columns) or drop it")
        if name in self.numeric:
            return "numeric"
        if isinstance(dt, pd.CategoricalDtype) or pd.api.types.is_bool_dtype(dt):
            return "categorical"
        if pd.api.types.is_numeric_dtype(dt):
            return "numeric"
        if inferred in ("integer", "floating", "mixed-integer-float", "decimal"):
            return "numeric"
        if inferred in ("string", "mixed", "mixed-integer", "boolean", "categorical", "empty", "bytes", "unicode"):
            return "categorical"
        raise TypeError(f"column {name!r} has dtype {dt} with values of kind {inferred!r}, which a table schema "
                        "cannot encode; convert it to numbers or text, or drop it")

    @staticmethod
    def _numeric_values(pd, s, name) -> np.ndarray:
        try:
            v = pd.to_numeric(s, errors="raise").astype("float64").to_numpy(dtype=np.float64, na_value=np.nan)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"column {name!r} is numeric in the schema but holds values that are not numbers: "
                            f"{exc}") from None
        if np.isinf(v).any():
            raise ValueError(f"column {name!r} has infinite values in rows "
                             f"{np.flatnonzero(np.isinf(v))[:5].tolist()}; replace them (e.g. by NaN for missing)")
        return v

    @staticmethod
    def _text_values(s):
        """(text of every entry as a numpy object array, missing mask)."""
        miss = s.isna().to_numpy()
        text = np.array([str(v) for v in s.astype(object).to_numpy()], dtype=object)
        return text, miss

    def _check_frame(self, frame, what="X"):
        if not is_frame(frame):
            raise TypeError(f"{what} must be a pandas DataFrame, got {type(frame).__name__}")
        if frame.shape[0] < 1:
            raise ValueError(f"{what} has no rows")
        if frame.columns.duplicated().any():
            dup = list(frame.columns[frame.columns.duplicated()])
            raise ValueError(f"{what} has duplicate column names {dup}; rename them")

    def fit(self, frame) -> "TableSchema":
        """Learn column kinds, numeric statistics and categories from the training ``frame``."""
        pd = _pandas()
        self._check_frame(frame)
        cols = list(frame.columns)
        if not cols:
            raise ValueError("X has no columns")
        for name in self.categorical + self.numeric:
            if name not in cols:
                raise ValueError(f"column {name!r} named in categorical/numeric is not in the table (columns {cols})")
        numeric, categorical, mean, scale, cats = [], [], [], [], []
        for name in cols:
            s = frame[name]
            if self._kind(pd, s, name) == "numeric":
                v = self._numeric_values(pd, s, name)
                obs = v[~np.isnan(v)]
                mu = float(obs.mean()) if obs.size else 0.0
                sd = float(obs.std()) if obs.size else 1.0
                numeric.append(name)
                mean.append(mu)
                scale.append(sd if sd > 1e-12 * max(1.0, abs(mu)) and sd > 0 else 1.0)
            else:
                text, miss = self._text_values(s)
                categorical.append(name)
                kept: list[str] = []
                if (~miss).any():
                    values, counts = np.unique(text[~miss].astype(str), return_counts=True)
                    kept = [str(v) for v, c in zip(values, counts) if c >= self.min_frequency]
                cats.append(sorted(kept))
        self.columns_ = cols
        self.numeric_ = numeric
        self.categorical_ = categorical
        self.mean_ = np.asarray(mean, dtype=np.float64)
        self.scale_ = np.asarray(scale, dtype=np.float64)
        self.categories_ = cats
        self.fitted = True
        return self

    # -- transforming --------------------------------------------------------------------------------
    def check_columns(self, frame, what="X") -> None:
        """Raise a ValueError naming the training columns that ``frame`` lacks."""
        self._require_fitted()
        self._check_frame(frame, what)
        missing = [c for c in self.columns_ if c not in frame.columns]
        if missing:
            raise ValueError(f"{what} lacks the column(s) {missing} that the table schema was fitted on "
                             f"(expected {self.columns_})")

    def transform(self, frame, dtype=np.float32) -> np.ndarray:
        """The packed matrix (N, 2a + b) of ``frame`` (see the class docstring); columns not in the
        schema are ignored."""
        pd = _pandas()
        self.check_columns(frame)
        n, a, b = frame.shape[0], len(self.numeric_), len(self.categorical_)
        out = np.zeros((n, 2 * a + b), dtype=np.float64)
        for j, name in enumerate(self.numeric_):
            v = self._numeric_values(pd, frame[name], name)
            miss = np.isnan(v)
            out[:, j] = np.where(miss, 0.0, (np.where(miss, 0.0, v) - self.mean_[j]) / self.scale_[j])
            out[:, a + j] = miss
        for j, name in enumerate(self.categorical_):
            text, miss = self._text_values(frame[name])
            codes = pd.Index(self.categories_[j]).get_indexer(text.astype(str)) if self.categories_[j] else \
                np.full(n, -1, dtype=np.int64)
            out[:, 2 * a + j] = np.where(miss, MISSING_CODE, np.where(codes < 0, UNKNOWN_CODE, codes + 2))
        return np.ascontiguousarray(out, dtype=dtype)

    def fit_transform(self, frame, dtype=np.float32) -> np.ndarray:
        return self.fit(frame).transform(frame, dtype=dtype)

    def inverse_codes(self, packed) -> dict:
        """Category labels of the codes in a packed matrix: {column: object array}, None for missing
        and "<unknown>" for the unseen-category code (for inspection and tests)."""
        self._require_fitted()
        a = len(self.numeric_)
        out = {}
        for j, name in enumerate(self.categorical_):
            c = np.asarray(packed)[:, 2 * a + j].astype(np.int64)
            labels = np.array([None, "<unknown>"] + list(self.categories_[j]), dtype=object)
            out[name] = labels[c]
        return out

    # -- layout and serialisation ---------------------------------------------------------------------
    def _require_fitted(self):
        if not self.fitted:
            raise RuntimeError("the TableSchema is not fitted: call fit(frame) with the training table first")

    @property
    def cardinalities(self) -> list[int]:
        """Codes per categorical column: its training categories + the missing and unknown codes."""
        self._require_fitted()
        return [len(c) + 2 for c in self.categories_]

    @property
    def width(self) -> int:
        self._require_fitted()
        return 2 * len(self.numeric_) + len(self.categorical_)

    @property
    def layout(self) -> TableLayout:
        """Column groups of the packed matrix (numeric column j: positions j and a + j; categorical
        column j: position 2a + j)."""
        self._require_fitted()
        a, b = len(self.numeric_), len(self.categorical_)
        cols = [p for j in range(a) for p in (j, a + j)] + [2 * a + j for j in range(b)]
        start = [0] + [2 * (j + 1) for j in range(a)] + [2 * a + j + 1 for j in range(b)]
        return TableLayout(np.asarray(start, dtype=np.int64), np.asarray(cols, dtype=np.int64), a,
                           tuple(self.cardinalities))

    def to_dict(self) -> dict:
        """JSON-able description (stored in encoder checkpoints); :meth:`from_dict` rebuilds it."""
        self._require_fitted()
        return {"columns": list(self.columns_), "numeric": list(self.numeric_),
                "categorical": list(self.categorical_), "mean": self.mean_.tolist(), "scale": self.scale_.tolist(),
                "categories": [list(c) for c in self.categories_], "min_frequency": self.min_frequency,
                "force_categorical": list(self.categorical), "force_numeric": list(self.numeric)}

    @classmethod
    def from_dict(cls, d: dict) -> "TableSchema":
        s = cls(categorical=d.get("force_categorical", ()), numeric=d.get("force_numeric", ()),
                min_frequency=d.get("min_frequency", 1))
        s.columns_ = list(d["columns"])
        s.numeric_ = list(d["numeric"])
        s.categorical_ = list(d["categorical"])
        s.mean_ = np.asarray(d["mean"], dtype=np.float64)
        s.scale_ = np.asarray(d["scale"], dtype=np.float64)
        s.categories_ = [list(map(str, c)) for c in d["categories"]]
        s.fitted = True
        return s

    def __repr__(self) -> str:
        if not self.fitted:
            return "TableSchema(not fitted)"
        return (f"TableSchema(numeric={self.numeric_}, categorical="
                f"{dict(zip(self.categorical_, (len(c) for c in self.categories_)))})")
