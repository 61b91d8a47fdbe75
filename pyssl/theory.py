"""The pretraining–adaptation interface (Bommasani et al. 2021, "On the Opportunities and Risks
of Foundation Models", §4.10, Fig. 22): when does a small pretraining loss L_pre(θ) imply a small
minimal adaptation loss L*_adapt(θ)?

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
    when no held-out data is given.

    ``task``: 'classification', 'regression' or 'auto' (inferred from y). ``l2``: L2 penalty on the
    weights, >= 0. ``max_iter``: most solver iterations, >= 1.
    """
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
    ``history["adapt_epoch"]``.

    ``task``: 'classification', 'regression' or 'auto' (inferred from y). ``l2``: L2 penalty on the
    weights, >= 0.
    """

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

    ``methods``: name → Method (built, not yet trained) to pretrain and track. ``X_unlabeled``:
    pretraining samples. ``X_labeled``: labeled samples of the adaptation task. ``y_labeled``: their
    labels. ``X_eval``: held-out samples. ``y_eval``: their labels. ``epochs``: pretraining epochs.
    ``batch_size``: pretraining batch size. ``seed``: seed of the whole run. ``every``: measure
    L*_adapt every this many epochs. ``progress``: print progress.
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
        plot_theory(rows, plot_path, held_out=X_eval is not None)
    return rows


def theory_figure(rows, title: str | None = None, held_out: bool = True):
    """The matplotlib figure of :func:`plot_theory` (needs matplotlib).

    Left: L*_adapt against L_pre, each method's objective divided by its first-epoch value (the
    objectives live on different scales). Right: L*_adapt by epoch. Both show each method's
    random-network value (row epoch −1) as a dashed baseline, a circle at the first measured
    epoch and a star at the last.

    ``rows``: rows as returned by :func:`run_theory`. ``title``: figure title. ``held_out``: whether
    the rows' adaptation loss was measured on held-out data (names the axis).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    where = "held-out data" if held_out else "the fitting data (in-sample)"
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for k, name in enumerate(dict.fromkeys(r["method"] for r in rows)):
        colour = f"C{k % 10}"
        rs = [r for r in rows if r["method"] == name and r["epoch"] >= 0]
        init = [r["adapt_loss"] for r in rows if r["method"] == name and r["epoch"] < 0]
        if not rs:
            continue
        first = rs[0]["pretrain_loss"] or 1.0
        rel = [r["pretrain_loss"] / first for r in rs]
        ada = [r["adapt_loss"] for r in rs]
        ep = [r["epoch"] + 1 for r in rs]
        for ax, xs in ((axes[0], rel), (axes[1], ep)):
            ax.plot(xs, ada, "-", color=colour, label=name, lw=1.5)
            ax.plot(xs[0], ada[0], "o", color=colour, ms=7, mfc="white", label="_start")
            ax.plot(xs[-1], ada[-1], "*", color=colour, ms=11, label="_end")
            if init:
                ax.axhline(init[0], color=colour, ls="--", lw=1, alpha=0.7, label=f"{name}: random network")
    axes[0].set_xlabel("L_pre / L_pre at the first epoch (each method's own objective)")
    axes[0].set_ylabel(f"L*_adapt: linear head fitted to convergence,\nloss on {where}")
    axes[1].set_xlabel("epoch")
    axes[1].set_ylabel(f"L*_adapt on {where}")
    axes[0].invert_xaxis()  # training moves right: L_pre falls
    from matplotlib.lines import Line2D

    marks = [Line2D([], [], marker="o", ls="", color="0.3", mfc="white", label="first epoch"),
             Line2D([], [], marker="*", ls="", color="0.3", ms=10, label="last epoch"),
             Line2D([], [], ls="--", color="0.3", label="random network (before training)")]
    handles, _ = axes[1].get_legend_handles_labels()
    axes[1].legend(handles=[h for h in handles if not h.get_label().endswith(": random network")] + marks,
                   fontsize=8)
    fig.suptitle(title or "Does a falling pretraining loss L_pre lower the adaptation loss L*_adapt?")
    fig.tight_layout()
    return fig


def plot_theory(rows, path, title: str | None = None, held_out: bool = True) -> bool:
    """Write :func:`theory_figure` of ``rows`` (from :func:`run_theory`) to ``path`` as PNG; returns
    False when matplotlib is not installed. ``held_out`` says whether L*_adapt was measured on
    held-out data (it labels the axes).

    ``title``: figure title.
    """
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    import matplotlib.pyplot as plt

    fig = theory_figure(rows, title, held_out)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True
