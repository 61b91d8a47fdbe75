"""Linear probe: a linear head g_φ fitted to convergence on frozen features h_θ*(x)."""
from __future__ import annotations

import numpy as np

from .._validation import Interval
from .base import Adapter
from .solvers import LogisticRegressionSolver, RidgeSolver


class LinearProbe(Adapter):
    """Frozen encoder + linear head: multinomial logistic regression (classification) or ridge
    regression (regression) on standardised embeddings, solved to convergence with an L2
    penalty ``l2`` on the weights.

    >>> probe = LinearProbe(encoder).fit(X_train, y_train)
    >>> probe.score(X_test, y_test)

    Parameters
    ----------
    encoder : pyssl.nn.Module
        The frozen extractor h_θ*.
    l2 : float
        L2 penalty on the weights, >= 0.
    max_iter : int
        Solver iterations, >= 1.
    task : {"auto", "classification", "regression"}
        See :class:`~pyssl.transfer.base.Adapter`.
    """

    _parameter_constraints = {"l2": Interval(float, 0.0), "max_iter": Interval(int, 1)}

    def __init__(self, encoder, l2: float = 1e-3, max_iter: int = 1000, task: str = "auto"):
        super().__init__(encoder, task)
        self.l2 = l2
        self.max_iter = max_iter

    def fit(self, X, y):
        """Fit the linear head on h_θ*(X) and y."""
        p = self._validate_params()
        X = self._check_X(X)
        yc = self._check_y(X, y)
        H = self.encoder.transform(X)
        if self.task_ == "classification":
            self.solver_ = LogisticRegressionSolver(p["l2"], p["max_iter"]).fit(H, yc, len(self.classes_))
        else:
            self.solver_ = RidgeSolver(p["l2"]).fit(H, yc)
        return self

    def decision_function(self, X):
        """Class scores (logits) of the fitted logistic head, (N, n_classes); classification only."""
        self._check_fitted()
        if self.task_ != "classification":
            raise ValueError("decision_function and predict_proba need a classification probe, but this one was "
                             "fitted for regression (y had non-integer values); use predict(X), or fit with "
                             "task='classification' and class labels")
        return self.solver_.decision_function(self.embed(X))

    def predict_proba(self, X):
        """Class probabilities softmax(decision_function(X)), (N, n_classes); classification only."""
        z = self.decision_function(X)
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def predict(self, X):
        self._check_fitted()
        H = self.embed(X)
        if self.task_ == "classification":
            return self.classes_[np.argmax(self.solver_.decision_function(H), axis=1)]
        return self.solver_.predict(H)
