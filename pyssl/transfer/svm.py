"""The RBF-SVM evaluation protocol of T-Loss and TS2Vec on frozen whole-series representations."""
from __future__ import annotations

import numbers

import numpy as np

from .._validation import Interval, check_array, validate_params

#: C values of the grid search (T-Loss and TS2Vec reference code), inf = hard margin
C_GRID = (1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0, 1e3, 1e4, np.inf)


def _sklearn():
    try:
        from sklearn.model_selection import GridSearchCV
        from sklearn.svm import SVC
    except ImportError:  # pragma: no cover - exercised by tests that hide scikit-learn
        raise ImportError('SVMProbe needs scikit-learn: pip install "pyssl[data]" (or "pyssl[timeseries]")') from None
    return SVC, GridSearchCV


def _check_encoder(encoder, name="encoder"):
    if encoder is not None and not callable(getattr(encoder, "transform", None)):
        raise TypeError(f"{name} must have a transform(X) method (a pyssl.nn module or a method) or be None, "
                        f"got {type(encoder).__name__}")
    return encoder


def _check_grid(c_grid, name="c_grid"):
    try:
        grid = tuple(float(c) for c in c_grid)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a sequence of positive numbers, got {c_grid!r}") from None
    if not grid or any(not c > 0 for c in grid):
        raise ValueError(f"{name} must be a non-empty sequence of positive values, got {c_grid!r}")
    return grid


class SVMProbe:
    """RBF SVM on a frozen encoder's whole-series representations, C by grid search.

    The protocol of T-Loss (Franceschi et al., "Unsupervised Scalable Representation Learning for
    Multivariate Time Series", NeurIPS 2019) and TS2Vec (Yue et al., AAAI 2022): features
    f = encoder.transform(X) (N, D); an ``sklearn.svm.SVC`` with the RBF kernel and
    gamma = 1/(D·Var(f)) ("scale"); C chosen by ``cv``-fold grid search over
    {10⁻⁴, 10⁻³, …, 10⁴, ∞} on the training set. As the reference code, the search is skipped and
    C = ∞ fitted when there are fewer than 5 training series per class on average or fewer than
    50 in all (``N // n_classes < 5 or N < 50``), and also when a class has fewer than ``cv``
    series (stratified folds would be impossible). C = ∞ is passed to libsvm as a large finite
    ``c_inf`` (1e10 by default).

    ``encoder``: any object with ``transform(X)`` → (N, D) — a ``pyssl.nn`` module (for
    ``DilatedConvEncoder`` the default ``pool="max"``), a method such as ``pyssl.methods.TS2Vec``
    — or None for the raw-series baseline (X flattened to (N, C·T)). After ``fit``: ``C_`` (the
    chosen C), ``searched_`` (whether the grid search ran), ``classes_``. As the other transfer
    adapters, ``__init__`` stores its arguments unchanged and ``fit`` validates them
    (``get_params``/``set_params`` for scikit-learn's ``clone``).

    Parameters
    ----------
    encoder : object or None
        The frozen feature extractor (see above), or None for the raw series.
    c_grid : sequence of float
        Values of C searched (positive; ``inf`` = hard margin, fitted as ``c_inf``).
    cv : int
        Folds of the stratified grid search, >= 2.
    c_inf : float
        The finite C given to libsvm for C = ∞, > 0.
    max_iter : int
        Iteration cap of each libsvm fit, >= 1.
    """

    _parameter_constraints = {
        "encoder": lambda v, n: _check_encoder(v, n),
        "c_grid": lambda v, n: _check_grid(v, n),
        "cv": Interval(int, 2),
        "c_inf": Interval(float, 0.0, closed="right"),
        "max_iter": Interval(int, 1),
    }

    def __init__(self, encoder=None, c_grid=C_GRID, cv: int = 5, c_inf: float = 1e10, max_iter: int = 10_000_000):
        self.encoder = encoder
        self.c_grid = c_grid
        self.cv = cv
        self.c_inf = c_inf
        self.max_iter = max_iter

    def get_params(self, deep: bool = True) -> dict:
        """The constructor arguments, by name (``deep`` is accepted for scikit-learn)."""
        return {name: getattr(self, name) for name in ("encoder", "c_grid", "cv", "c_inf", "max_iter")}

    def set_params(self, **params) -> "SVMProbe":
        """Set constructor arguments by name; returns self (checked in ``fit``)."""
        names = list(self.get_params())
        unknown = sorted(set(params) - set(names))
        if unknown:
            raise ValueError(f"invalid parameters {unknown} for SVMProbe; valid ones are {names}")
        for k, v in params.items():
            setattr(self, k, v)
        return self

    def features(self, X) -> np.ndarray:
        """encoder.transform(X) as float64 (N, D), or X flattened without an encoder."""
        if self.encoder is None:
            X = check_array(X, "X", dtype=np.float64, min_ndim=2)
            return X.reshape(X.shape[0], -1)
        f = np.asarray(self.encoder.transform(X), dtype=np.float64)
        if f.ndim != 2:
            raise ValueError(f"encoder.transform(X) must give (N, D) whole-series features, got shape {f.shape}; "
                             "pool the per-timestep output (e.g. transform(X, pool='max'))")
        if not np.isfinite(f).all():
            raise ValueError("encoder.transform(X) contains NaN or Inf")
        return f

    def _c(self, c: float) -> float:
        return self.params_["c_inf"] if np.isinf(c) else c

    def fit(self, X, y) -> "SVMProbe":
        self.params_ = p = validate_params(self.get_params(), self._parameter_constraints)
        SVC, GridSearchCV = _sklearn()
        f = self.features(X)
        y = np.asarray(y)
        if y.ndim != 1 or y.shape[0] != f.shape[0]:
            raise ValueError(f"y must be 1-D with one label per series ({f.shape[0]}), got shape {y.shape}")
        self.classes_, counts = np.unique(y, return_counts=True)
        if self.classes_.size < 2:
            raise ValueError(f"SVMProbe needs at least 2 classes in y, got {self.classes_.size}")
        n = f.shape[0]
        self.searched_ = not (n // self.classes_.size < 5 or n < 50 or counts.min() < p["cv"])
        if not self.searched_:
            self.C_ = np.inf
            self.svm_ = SVC(C=p["c_inf"], kernel="rbf", gamma="scale", max_iter=p["max_iter"]).fit(f, y)
            return self
        grid = GridSearchCV(SVC(kernel="rbf", gamma="scale", max_iter=p["max_iter"]),
                            {"C": [self._c(c) for c in p["c_grid"]]}, cv=p["cv"])
        grid.fit(f, y)
        best = grid.best_params_["C"]
        self.C_ = np.inf if best == p["c_inf"] else float(best)
        self.svm_ = grid.best_estimator_
        return self

    def predict(self, X) -> np.ndarray:
        if not hasattr(self, "svm_"):
            raise RuntimeError("this SVMProbe is not fitted yet; call fit(X, y) first")
        return self.svm_.predict(self.features(X))

    def score(self, X, y) -> float:
        """Accuracy on (X, y)."""
        return float(np.mean(self.predict(X) == np.asarray(y)))
