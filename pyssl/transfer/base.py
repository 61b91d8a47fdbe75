"""Shared plumbing of the downstream adaptations g_φ(h_θ*(x)): task detection, label encoding,
scoring (accuracy for classification, R² for regression)."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .._validation import Options, check_array, validate_params

TASKS = ("auto", "classification", "regression")


def _check_encoder(encoder, name="encoder"):
    from ..nn.module import Module

    if not isinstance(encoder, Module):
        hint = "; pass the method's encoder (method.encoder)" if hasattr(encoder, "encoder") else ""
        raise TypeError(f"{name} must be a pyssl.nn.Module, got {type(encoder).__name__}{hint}")
    return encoder


class Adapter:
    """Base of the downstream adaptations g_φ(h_θ*(x)).

    Follows scikit-learn's estimator rule: ``__init__`` stores its arguments unchanged and
    ``fit`` validates them against ``_parameter_constraints`` (name → constraint of
    :mod:`pyssl._validation`), so ``get_params``/``set_params``/``clone`` round-trip exactly.

    Parameters
    ----------
    encoder : pyssl.nn.Module
        The pretrained feature extractor h_θ*.
    task : {"auto", "classification", "regression"}
        "auto" infers it from y in ``fit`` (integers: classification).
    """

    # every concrete adapter defines predict(X) -> (N,) predictions; score() relies on it
    predict: Callable[[Any], np.ndarray]

    _parameter_constraints: dict = {"encoder": lambda v, n: _check_encoder(v, n), "task": Options(*TASKS)}

    def __init__(self, encoder, task: str = "auto"):
        self.encoder = encoder
        self.task = task

    def _validate_params(self) -> dict:
        """The constructor parameters, checked (TypeError/ValueError naming the parameter)."""
        constraints = {}
        for klass in reversed(type(self).__mro__):
            constraints.update(vars(klass).get("_parameter_constraints", {}))
        return validate_params(self.get_params(), constraints)

    # -- scikit-learn estimator protocol (get_params / set_params), so that sklearn.base.clone,
    # GridSearchCV and pipelines can rebuild an unfitted copy; no scikit-learn import needed
    @classmethod
    def _param_names(cls) -> list[str]:
        import inspect

        sig = inspect.signature(cls.__init__)
        return [n for n, p in sig.parameters.items() if n != "self" and p.kind is p.POSITIONAL_OR_KEYWORD]

    def get_params(self, deep: bool = True) -> dict:
        """The constructor arguments, by name (``deep`` is accepted for scikit-learn; the encoder
        is returned as the object itself)."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params):
        """Set constructor arguments by name (validated as the constructor does); returns self."""
        names = self._param_names()
        unknown = sorted(set(params) - set(names))
        if unknown:
            raise ValueError(f"invalid parameters {unknown} for {type(self).__name__}; valid ones are {names}")
        merged = {**self.get_params(), **params}
        self.__init__(**merged)
        return self

    def _check_X(self, X):
        _check_encoder(self.encoder)
        from ..tables import as_model_input  # a DataFrame is packed by the encoder's table schema

        X = as_model_input(self.encoder, X)
        return check_array(X, "X", dtype=self.encoder.dtype, min_ndim=2)

    def _check_y(self, X, y):
        y = np.asarray(y)
        if y.ndim != 1:
            raise ValueError(f"y must be 1-D (one label or target per row), got shape {y.shape}")
        if y.shape[0] != X.shape[0]:
            raise ValueError(f"X and y have different numbers of rows: {X.shape[0]} and {y.shape[0]}")
        task = self.task
        if task == "auto":
            floaty = np.issubdtype(y.dtype, np.floating) and not np.all(np.mod(y, 1) == 0)
            task = "regression" if floaty else "classification"
        self.task_ = task
        if task == "classification":
            self.classes_, codes = np.unique(y, return_inverse=True)
            if self.classes_.size < 2:
                raise ValueError(f"classification needs at least 2 classes in y, got {self.classes_.size}")
            return codes.astype(np.int64)
        y = y.astype(np.float64)
        if not np.all(np.isfinite(y)):
            raise ValueError("y contains NaN or Inf")
        return y

    def _check_fitted(self):
        if not hasattr(self, "task_"):
            raise RuntimeError(f"this {type(self).__name__} is not fitted yet; call fit(X, y) first")

    def embed(self, X):
        return self.encoder.transform(self._check_X(X))

    def score(self, X, y) -> float:
        """Accuracy (classification) or R² (regression) on (X, y)."""
        self._check_fitted()
        pred = self.predict(X)
        y = np.asarray(y)
        if self.task_ == "classification":
            return float(np.mean(pred == y))
        y = y.astype(np.float64)
        ss_res = float(np.sum((y - pred) ** 2))
        ss_tot = float(np.sum((y - y.mean()) ** 2))
        return 1.0 - ss_res / ss_tot if ss_tot > 0 else 0.0
