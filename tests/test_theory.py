import numpy as np
import pytest

import pyssl
from pyssl.nn import Identity, MLP
from pyssl.theory import adaptation_loss, run_theory


def test_adaptation_loss_is_the_minimum_over_linear_heads(rng):
    """L*_adapt must not exceed the loss of any other linear head (here: random heads and the
    true generating head) on the same data."""
    X = rng.standard_normal((200, 4)).astype(np.float32)
    W = rng.standard_normal((4, 3))
    y = np.argmax(X @ W + 0.5 * rng.standard_normal((200, 3)), axis=1)
    best = adaptation_loss(Identity(), X, y, l2=0.0)
    Xs = (X - X.mean(0)) / X.std(0)
    for _ in range(5):
        W2, b2 = rng.standard_normal((4, 3)), rng.standard_normal(3)
        z = Xs @ W2 + b2
        ce = np.mean(np.log(np.exp(z).sum(1)) - z[np.arange(200), y])
        assert best <= ce + 1e-9


def test_adaptation_loss_reaches_the_logistic_regression_optimum(rng):
    """Unpenalised, L*_adapt is the optimum cross-entropy of multinomial logistic regression,
    which scikit-learn's solver finds independently (a solver that stopped early would fail)."""
    sklearn = pytest.importorskip("sklearn.linear_model")
    from sklearn.metrics import log_loss

    X = rng.standard_normal((300, 5)).astype(np.float32)
    y = np.argmax(X @ rng.standard_normal((5, 3)) + 1.0 * rng.standard_normal((300, 3)), axis=1)
    ours = adaptation_loss(Identity(), X, y, l2=0.0)
    lr = sklearn.LogisticRegression(C=np.inf, tol=1e-10, max_iter=10_000).fit(X.astype(np.float64), y)
    ref = log_loss(y, lr.predict_proba(X.astype(np.float64)))
    assert ours == pytest.approx(ref, rel=1e-5, abs=1e-7)


def test_adaptation_loss_regression_is_least_squares(rng):
    X = rng.standard_normal((80, 3)).astype(np.float32)
    y = X.astype(np.float64) @ np.array([1.0, -1.0, 2.0]) + 0.3 * rng.standard_normal(80)
    A = np.c_[X.astype(np.float64), np.ones(80)]
    coef = np.linalg.lstsq(A, y, rcond=None)[0]
    ref = np.mean((A @ coef - y) ** 2)
    assert adaptation_loss(Identity(), X, y, task="regression", l2=0.0) == pytest.approx(ref, rel=1e-6)


def test_adaptation_loss_held_out_is_larger_than_in_sample(rng):
    X = rng.standard_normal((120, 8)).astype(np.float32)
    y = (X[:, 0] + 0.8 * rng.standard_normal(120) > 0).astype(int)
    in_sample = adaptation_loss(Identity(), X[:60], y[:60])
    held_out = adaptation_loss(Identity(), X[:60], y[:60], X[60:], y[60:])
    assert held_out > in_sample
    with pytest.raises(ValueError, match="both"):
        adaptation_loss(Identity(), X, y, X_eval=X)


def test_tracker_and_run_theory(tmp_path, rng):
    X = rng.standard_normal((96, 6)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    methods = {"simclr": pyssl.methods.SimCLR(MLP([6, 16, 8], seed=0), projection_dim=8),
               "vicreg": pyssl.methods.VICReg(MLP([6, 16, 8], seed=0), projection_dim=16, hidden_dim=16)}
    rows = run_theory(methods, X, X[:48], y[:48], X[48:], y[48:], epochs=3, batch_size=32, every=1,
                      csv_path=tmp_path / "t.csv")
    assert {r["method"] for r in rows} == {"simclr", "vicreg"}
    assert sum(r["epoch"] == -1 for r in rows) == 2
    assert all(np.isfinite(r["adapt_loss"]) for r in rows)
    text = (tmp_path / "t.csv").read_text().splitlines()
    assert text[0] == "method,epoch,pretrain_loss,adapt_loss" and len(text) == len(rows) + 1


def test_adaptation_loss_bad_task(rng):
    with pytest.raises(ValueError, match="task"):
        adaptation_loss(Identity(), rng.standard_normal((4, 2)), [0, 1, 0, 1], task="ranking")


def test_adaptation_loss_rejects_unknown_eval_labels(rng):
    X = rng.standard_normal((20, 3)).astype(np.float32)
    y = np.arange(20) % 2
    with pytest.raises(ValueError, match="not in y"):
        adaptation_loss(Identity(), X, y, X, (np.arange(20) % 3))
