"""The pretraining–adaptation interface (seed §4.10, Fig. 22): when does a small pretraining
loss L_pre(θ) imply a small minimal adaptation loss L*_adapt(θ)?

    L*_adapt(θ) = min_φ  (1/N) Σ_n ℓ(g_φ(h_θ(x_n)), y_n)

with g_φ linear, ℓ the cross-entropy (classification; multinomial logistic regression solved to
convergence by L-BFGS) or the squared error (regression; closed-form ridge), on held-out labeled
data, h_θ frozen. A tiny L2 penalty (``l2``, default 1e-6) keeps the minimiser finite when
the classes are separable; the reported value is the unpenalised loss at that minimiser.

``AdaptationTracker`` is a ``pretrain`` callback that records (epoch, L_pre, L*_adapt) during
training; ``run_theory`` does it for several methods and writes a CSV (and a PNG when matplotlib
is installed).
"""
from __future__ import annotations

import csv
import os

import numpy as np

from ._validation import check_array


def adaptation_loss(encoder, X, y, task: str = "auto", l2: float = 1e-6, max_iter: int = 2000) -> float:
    """L*_adapt(θ) of ``encoder`` on labeled (X, y): the minimum over a linear head of the mean
    downstream loss (cross-entropy or squared error), encoder frozen."""
    from .transfer.solvers import LogisticRegressionSolver, RidgeSolver

    X = check_array(X, "X", dtype=np.float32, min_ndim=2)
    y = np.asarray(y)
    H = encoder.transform(X)
    if task == "auto":
        task = "regression" if (np.issubdtype(y.dtype, np.floating) and not np.all(np.mod(y, 1) == 0)) else "classification"
    if task == "classification":
        classes, codes = np.unique(y, return_inverse=True)
        s = LogisticRegressionSolver(l2=l2, max_iter=max_iter, tol=1e-7).fit(H, codes, len(classes))
        return s.loss(H, codes)
    if task == "regression":
        return RidgeSolver(l2=l2).fit(H, y.astype(np.float64)).loss_
    raise ValueError(f"task must be 'auto', 'classification' or 'regression', got {task!r}")


class AdaptationTracker:
    """``pretrain`` callback: every ``every`` epochs, append L*_adapt on (X, y) to
    ``history["adapt_loss"]`` (and the epoch to ``history["adapt_epoch"]``)."""

    def __init__(self, X, y, every: int = 1, task: str = "auto", l2: float = 1e-6):
        self.X, self.y, self.every, self.task, self.l2 = X, y, int(every), task, l2

    def __call__(self, epoch, history, method):
        if (epoch + 1) % self.every and epoch != 0:
            return None
        was = method.encoder.training
        value = adaptation_loss(method.encoder, self.X, self.y, self.task, self.l2)
        method.encoder.train(was)
        history.setdefault("adapt_loss", []).append(value)
        history.setdefault("adapt_epoch", []).append(epoch)
        history.setdefault("pre_loss_at_adapt", []).append(history["loss"][-1])
        return None


def run_theory(methods: dict, X_unlabeled, X_labeled, y_labeled, epochs: int = 20, batch_size: int = 256,
               seed: int = 0, every: int = 1, csv_path=None, plot_path=None, progress: bool = False, **pretrain_kw):
    """Pretrain each method (name → Method) and record (L_pre, L*_adapt) along training.

    Returns a list of rows ``{"method", "epoch", "pretrain_loss", "adapt_loss"}``; row epoch −1 is
    the random initialisation. Writes ``csv_path`` and, with matplotlib, ``plot_path`` (L*_adapt
    against L_pre, one line per method).
    """
    from .train import pretrain

    rows = []
    for name, method in methods.items():
        init = adaptation_loss(method.encoder, X_labeled, y_labeled)
        rows.append({"method": name, "epoch": -1, "pretrain_loss": float("nan"), "adapt_loss": init})
        tracker = AdaptationTracker(X_labeled, y_labeled, every=every)
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
        axes[0].plot([r["pretrain_loss"] for r in rs], [r["adapt_loss"] for r in rs], "o-", label=name, ms=3)
        axes[1].plot([r["epoch"] for r in rs], [r["adapt_loss"] for r in rs], "-", label=name)
    axes[0].set_xlabel("pretraining loss L_pre (own objective)")
    axes[0].set_ylabel("L*_adapt (linear head, to convergence)")
    axes[1].set_xlabel("epoch")
    axes[1].set_ylabel("L*_adapt")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True
