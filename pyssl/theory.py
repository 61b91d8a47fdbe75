"""The pretraining–adaptation interface (seed §4.10, Fig. 22): when does a small pretraining
loss L_pre(θ) imply a small minimal adaptation loss L*_adapt(θ)?

    L*_adapt(θ) = min_φ  (1/N) Σ_n ℓ(g_φ(h_θ(x_n)), y_n)

with g_φ linear, ℓ the cross-entropy (classification; multinomial logistic regression solved to
convergence by L-BFGS) or the squared error (regression; closed-form ridge), h_θ frozen. The
population minimum is estimated the usual way: φ is fitted to convergence on labeled data
(X, y) with an L2 penalty ``l2`` and its unpenalised loss is measured on held-out labeled data
(X_eval, y_eval). Without held-out data the in-sample minimum is returned — which is 0 whenever
the features separate the labels (e.g. 256-dimensional embeddings of a few hundred samples), so
pass held-out data for a meaningful curve.

``AdaptationTracker`` is a ``pretrain`` callback that records (epoch, L_pre, L*_adapt) during
training; ``run_theory`` does it for several methods and writes a CSV (and a PNG when matplotlib
is installed).
"""
from __future__ import annotations

import csv
import os

import numpy as np

from ._validation import check_array


def adaptation_loss(encoder, X, y, X_eval=None, y_eval=None, task: str = "auto", l2: float = 1e-3,
                    max_iter: int = 2000) -> float:
    """L*_adapt(θ) of ``encoder``: a linear head fitted to convergence on (X, y), encoder frozen;
    its mean downstream loss (cross-entropy or squared error) on (X_eval, y_eval), or on (X, y)
    when no held-out data is given."""
    from .transfer.solvers import LogisticRegressionSolver, RidgeSolver

    X = check_array(X, "X", dtype=np.float32, min_ndim=2)
    y = np.asarray(y)
    if (X_eval is None) != (y_eval is None):
        raise ValueError("give both X_eval and y_eval, or neither")
    if task == "auto":
        task = "regression" if (np.issubdtype(y.dtype, np.floating) and not np.all(np.mod(y, 1) == 0)) else "classification"
    if task not in ("classification", "regression"):
        raise ValueError(f"task must be 'auto', 'classification' or 'regression', got {task!r}")
    H = encoder.transform(X)
    He, ye = (H, y) if X_eval is None else (encoder.transform(check_array(X_eval, "X_eval", dtype=np.float32,
                                                                          min_ndim=2)), np.asarray(y_eval))
    if task == "classification":
        classes, codes = np.unique(y, return_inverse=True)
        codes_e = np.minimum(np.searchsorted(classes, ye), len(classes) - 1)
        unknown = classes[codes_e] != ye
        if np.any(unknown):
            raise ValueError(f"y_eval has labels not in y: {sorted(set(np.asarray(ye)[unknown].tolist()))[:5]}")
        codes_e = codes_e.astype(np.int64)
        s = LogisticRegressionSolver(l2=l2, max_iter=max_iter, tol=1e-7).fit(H, codes, len(classes))
        return s.loss(He, codes_e)
    return RidgeSolver(l2=l2).fit(H, y.astype(np.float64)).loss(He, ye.astype(np.float64))


class AdaptationTracker:
    """``pretrain`` callback: every ``every`` epochs, append L*_adapt (head fitted on (X, y),
    measured on (X_eval, y_eval)) to ``history["adapt_loss"]`` and the epoch to
    ``history["adapt_epoch"]``."""

    def __init__(self, X, y, X_eval=None, y_eval=None, every: int = 1, task: str = "auto", l2: float = 1e-3):
        self.X, self.y, self.X_eval, self.y_eval = X, y, X_eval, y_eval
        self.every, self.task, self.l2 = int(every), task, l2

    def __call__(self, epoch, history, method):
        if (epoch + 1) % self.every and epoch != 0:
            return None
        was = method.encoder.training
        value = adaptation_loss(method.encoder, self.X, self.y, self.X_eval, self.y_eval, self.task, self.l2)
        method.encoder.train(was)
        history.setdefault("adapt_loss", []).append(value)
        history.setdefault("adapt_epoch", []).append(epoch)
        history.setdefault("pre_loss_at_adapt", []).append(history["loss"][-1])
        return None


def run_theory(methods: dict, X_unlabeled, X_labeled, y_labeled, X_eval=None, y_eval=None, epochs: int = 20,
               batch_size: int = 256, seed: int = 0, every: int = 1, csv_path=None, plot_path=None,
               progress: bool = False, **pretrain_kw):
    """Pretrain each method (name → Method) and record (L_pre, L*_adapt) along training.

    Returns a list of rows ``{"method", "epoch", "pretrain_loss", "adapt_loss"}``; row epoch −1 is
    the random initialisation. Writes ``csv_path`` and, with matplotlib, ``plot_path`` (L*_adapt
    against L_pre, one line per method).
    """
    from .train import pretrain

    rows = []
    for name, method in methods.items():
        init = adaptation_loss(method.encoder, X_labeled, y_labeled, X_eval, y_eval)
        rows.append({"method": name, "epoch": -1, "pretrain_loss": float("nan"), "adapt_loss": init})
        tracker = AdaptationTracker(X_labeled, y_labeled, X_eval, y_eval, every=every)
        hist = pretrain(method, X_unlabeled, epochs=epochs, batch_size=batch_size, seed=seed,
                        callbacks=[tracker], progress=progress, **pretrain_kw)
        for ep, lp, la in zip(hist["adapt_epoch"], hist["pre_loss_at_adapt"], hist["adapt_loss"]):
            rows.append({"method": name, "epoch": ep, "pretrain_loss": lp, "adapt_loss": la})
    if csv_path is not None:
        with open(csv_path, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=["method", "epoch", "pretrain_loss", "adapt_loss"])
            w.writeheader()
            w.writerows(rows)
    if plot_path is not None:
        plot_theory(rows, plot_path)
    return rows


def plot_theory(rows, path) -> bool:
    """L*_adapt against L_pre per method; returns False when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for name in dict.fromkeys(r["method"] for r in rows):
        rs = [r for r in rows if r["method"] == name and r["epoch"] >= 0]
        first = rs[0]["pretrain_loss"] if rs and rs[0]["pretrain_loss"] else 1.0
        # Objectives live on different scales: plot each relative to its first epoch.
        axes[0].plot([r["pretrain_loss"] / first for r in rs], [r["adapt_loss"] for r in rs], "o-", label=name, ms=3)
        axes[1].plot([r["epoch"] for r in rs], [r["adapt_loss"] for r in rs], "-", label=name)
    axes[0].set_xlabel("L_pre / L_pre(first epoch) (each method's own objective)")
    axes[0].set_ylabel("L*_adapt (linear head, to convergence)")
    axes[1].set_xlabel("epoch")
    axes[1].set_ylabel("L*_adapt")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True
