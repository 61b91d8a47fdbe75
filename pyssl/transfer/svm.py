"""The RBF-SVM evaluation protocol of T-Loss and TS2Vec on frozen whole-series representations."""
from __future__ import annotations

import numbers

import numpy as np

from .._validation import check_array, check_scalar

#: C values of the grid search (T-Loss and TS2Vec reference code), inf = hard margin
C_GRID = (1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0, 1e3, 1e4, np.inf)


def _sklearn():
    try:
        from sklearn.model_selection import GridSearchCV
        from sklearn.svm import SVC
    except ImportError:  # pragma: no cover - exercised by tests that hide scikit-learn
        raise ImportError('SVMProbe needs scikit-learn: pip install "pyssl[data]" (or "pyssl[timeseries]")') from None
    return SVC, GridSearchCV


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
    chosen C), ``searched_`` (whether the grid search ran), ``classes_``.

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

    def __init__(self, encoder=None, c_grid=C_GRID, cv: int = 5, c_inf: float = 1e10, max_iter: int = 10_000_000):
        if encoder is not None and not callable(getattr(encoder, "transform", None)):
            raise TypeError(f"encoder must have a transform(X) method (a pyssl.nn module or a method) or be None, "
                            f"got {type(encoder).__name__}")
        grid = tuple(float(c) for c in c_grid)
        if not grid or any(not c > 0 for c in grid):
            raise ValueError(f"c_grid must be a non-empty sequence of positive values, got {c_grid!r}")
        self.encoder = encoder
        self.c_grid = grid
        self.cv = int(check_scalar(cv, "cv", kind=numbers.Integral, low=2))
        self.c_inf = float(check_scalar(c_inf, "c_inf", kind=numbers.Real, low=0.0, low_inclusive=False))
        self.max_iter = int(check_scalar(max_iter, "max_iter", kind=numbers.Integral, low=1))

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
        return self.c_inf if np.isinf(c) else c

    def fit(self, X, y) -> "SVMProbe":
        SVC, GridSearchCV = _sklearn()
        f = self.features(X)
        y = np.asarray(y)
        if y.ndim != 1 or y.shape[0] != f.shape[0]:
            raise ValueError(f"y must be 1-D with one label per series ({f.shape[0]}), got shape {y.shape}")
        self.classes_, counts = np.unique(y, return_counts=True)
        if self.classes_.size < 2:
            raise ValueError(f"SVMProbe needs at least 2 classes in y, got {self.classes_.size}")
        n = f.shape[0]
        self.searched_ = not (n // self.classes_.size < 5 or n < 50 or counts.min() < self.cv)
        if not self.searched_:
            self.C_ = np.inf
            self.svm_ = SVC(C=self.c_inf, kernel="rbf", gamma="scale", max_iter=self.max_iter).fit(f, y)
            return self
        grid = GridSearchCV(SVC(kernel="rbf", gamma="scale", max_iter=self.max_iter),
                            {"C": [self._c(c) for c in self.c_grid]}, cv=self.cv)
        grid.fit(f, y)
        best = grid.best_params_["C"]
        self.C_ = np.inf if best == self.c_inf else float(best)
        self.svm_ = grid.best_estimator_
        return self

    def predict(self, X) -> np.ndarray:
        if not hasattr(self, "svm_"):
            raise RuntimeError("this SVMProbe is not fitted yet; call fit(X, y) first")
        return self.svm_.predict(self.features(X))

    def score(self, X, y) -> float:
        """Accuracy on (X, y)."""
        return float(np.mean(self.predict(X) == np.asarray(y)))
