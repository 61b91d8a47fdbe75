"""k-nearest-neighbour evaluation on frozen features (InstDisc, Wu et al. 2018; DINO protocol):
cosine similarity, the k most similar training embeddings vote with weight exp(s/T)."""
from __future__ import annotations

import numpy as np

from .. import _core
from .._validation import Interval
from ..nn.normalize import l2_normalize as _l2_rows
from .base import Adapter



class KNN(Adapter):
    """Weighted kNN: class c's score is Σ_{j ∈ top-k} exp(cos(h, h_j)/T)·[y_j = c]; for regression
    the prediction is the same weighted mean of targets. k = 20, T = 0.07 as in DINO.

    Parameters
    ----------
    encoder : pyssl.nn.Module
        The frozen extractor h_θ*.
    k : int
        Neighbours that vote, >= 1.
    temperature : float
        T > 0 of the vote weights.
    batch_size : int
        Queries per similarity block, >= 1.
    task : {"auto", "classification", "regression"}
        See :class:`~pyssl.transfer.base.Adapter`.
    """

    _parameter_constraints = {"k": Interval(int, 1), "temperature": Interval(float, 0.0, closed="right"),
                              "batch_size": Interval(int, 1)}

    def __init__(self, encoder, k: int = 20, temperature: float = 0.07, batch_size: int = 1024, task: str = "auto"):
        super().__init__(encoder, task)
        self.k = k
        self.temperature = temperature
        self.batch_size = batch_size

    def fit(self, X, y):
        """Store the normalised embeddings of X and the labels y."""
        self.params_ = p = self._validate_params()
        X = self._check_X(X)
        self.y_ = self._check_y(X, y)
        if p["k"] > X.shape[0]:
            import warnings

            warnings.warn(f"KNN: k={p['k']} is larger than the {X.shape[0]} training samples; every prediction "
                          f"uses all {X.shape[0]} (pass k <= {X.shape[0]})", UserWarning, stacklevel=2)
        self.bank_ = _l2_rows(self.encoder.transform(X))
        return self

    def _neighbours(self, X):
        self._check_fitted()
        Q = _l2_rows(self.embed(X))
        p = self.params_
        k = min(p["k"], self.bank_.shape[0])
        bankT = np.ascontiguousarray(self.bank_.T)
        idx_all, w_all = [], []
        for s in range(0, Q.shape[0], p["batch_size"]):
            sims = _core.matmul(np.ascontiguousarray(Q[s:s + p["batch_size"]]), bankT)
            idx = np.argpartition(-sims, k - 1, axis=1)[:, :k]
            top = np.take_along_axis(sims, idx, axis=1)
            idx_all.append(idx)
            # exp((s − s_max)/T): shifted by each row's largest similarity, so the largest weight is
            # exactly 1 and a small T never underflows every weight to 0 (0/0 in the regression mean);
            # the common factor exp(s_max/T) cancels in the vote and in the weighted mean
            w = (top.astype(np.float64) - top.max(axis=1, keepdims=True)) / p["temperature"]
            w_all.append(np.exp(w))
        return np.concatenate(idx_all), np.concatenate(w_all)

    def predict(self, X):
        idx, w = self._neighbours(X)
        if self.task_ == "classification":
            votes = np.zeros((idx.shape[0], len(self.classes_)))
            np.add.at(votes, (np.repeat(np.arange(idx.shape[0]), idx.shape[1]), self.y_[idx].ravel()), w.ravel())
            return self.classes_[np.argmax(votes, axis=1)]
        return np.sum(w * self.y_[idx], axis=1) / np.sum(w, axis=1)
