import numpy as np
import pytest

from pyssl.nn import MLP, Identity
from pyssl.testing import check_gradients
from pyssl.transfer import KNN, FineTune, LinearProbe, LogisticRegressionSolver, RidgeSolver, lbfgs, sample_labels
from pyssl.transfer.solvers import _logreg_loss_grad


class Ident(Identity):
    """Identity encoder with a transform (features are the raw inputs)."""


def blobs(rng, n=120, d=5, k=3, sep=3.0):
    centers = rng.standard_normal((k, d)) * sep
    y = rng.integers(0, k, size=n)
    X = centers[y] + rng.standard_normal((n, d))
    return X.astype(np.float32), y


def test_logreg_loss_grad_fd(rng):
    H = rng.standard_normal((7, 4))
    y = rng.integers(0, 3, size=7).astype(np.int64)
    theta = rng.standard_normal(4 * 3 + 3)
    check_gradients(lambda t: _logreg_loss_grad(t, H, y, 4, 3, 0.1), [theta])


def test_logreg_loss_matches_numpy(rng):
    H = rng.standard_normal((9, 3))
    y = rng.integers(0, 4, size=9).astype(np.int64)
    theta = rng.standard_normal(3 * 4 + 4)
    W, b = theta[:12].reshape(3, 4), theta[12:]
    z = H @ W + b
    ref = np.mean(np.log(np.exp(z).sum(1)) - z[np.arange(9), y]) + 0.05 * np.sum(W**2)
    assert _logreg_loss_grad(theta, H, y, 3, 4, 0.1)[0] == pytest.approx(ref, rel=1e-12)


def test_lbfgs_minimises_quadratic(rng):
    A = rng.standard_normal((6, 6))
    A = A @ A.T + np.eye(6)
    b = rng.standard_normal(6)
    x, f, it, ok = lbfgs(lambda x: (0.5 * x @ A @ x - b @ x, A @ x - b), np.zeros(6), tol=1e-8)
    assert ok
    np.testing.assert_allclose(x, np.linalg.solve(A, b), rtol=1e-6, atol=1e-8)


def test_logreg_solver_reaches_stationary_point(rng):
    X, y = blobs(rng, sep=1.0)
    s = LogisticRegressionSolver(l2=1e-2, tol=1e-8).fit(X, y)
    assert s.converged_
    Hs = (X - s.mu_) / s.sd_
    theta = np.concatenate([s.W_.ravel(), s.b_])
    _, g = _logreg_loss_grad(theta, np.ascontiguousarray(Hs, dtype=np.float64), y.astype(np.int64), 5, 3, 1e-2)
    assert np.max(np.abs(g)) < 1e-6


def test_ridge_matches_normal_equations(rng):
    X = rng.standard_normal((50, 4))
    y = X @ np.array([1.0, -2.0, 0.5, 0.0]) + 0.1 * rng.standard_normal(50)
    s = RidgeSolver(l2=0.0).fit(X, y)
    A = np.c_[X, np.ones(50)]
    coef = np.linalg.lstsq(A, y, rcond=None)[0]
    np.testing.assert_allclose(s.predict(X), A @ coef, rtol=1e-8, atol=1e-8)


def test_linear_probe_and_knn_on_blobs(rng):
    X, y = blobs(rng)
    enc = Ident()
    assert LinearProbe(enc).fit(X[:80], y[:80]).score(X[80:], y[80:]) > 0.9
    assert KNN(enc, k=5).fit(X[:80], y[:80]).score(X[80:], y[80:]) > 0.9


def test_knn_matches_numpy_reference(rng):
    X, y = blobs(rng, n=60, sep=0.5)
    Xq = rng.standard_normal((10, 5)).astype(np.float32)
    knn = KNN(Ident(), k=7, temperature=0.1).fit(X, y)
    B = X / np.linalg.norm(X, axis=1, keepdims=True)
    Q = Xq / np.linalg.norm(Xq, axis=1, keepdims=True)
    S = Q @ B.T
    ref = []
    for i in range(10):
        top = np.argsort(-S[i])[:7]
        votes = np.zeros(3)
        for j in top:
            votes[y[j]] += np.exp(S[i, j] / 0.1)
        ref.append(np.argmax(votes))
    np.testing.assert_array_equal(knn.predict(Xq), ref)


def test_probe_regression_r2(rng):
    X = rng.standard_normal((100, 3)).astype(np.float32)
    y = (X @ np.array([1.0, 2.0, -1.0]) + 0.01 * rng.standard_normal(100)).astype(np.float64)
    p = LinearProbe(Ident(), task="regression").fit(X[:70], y[:70])
    assert p.score(X[70:], y[70:]) > 0.99
    assert KNN(Ident(), k=5, task="regression").fit(X[:70], y[:70]).score(X[70:], y[70:]) > 0.5


def test_sample_labels(rng):
    y = np.repeat(np.arange(10), [50, 3, 7, 100, 1, 20, 20, 20, 20, 20])
    idx = sample_labels(y, 0.01, seed=0)
    assert set(y[idx]) == set(range(10))  # at least one per class
    assert np.array_equal(idx, sample_labels(y, 0.01, seed=0))
    assert not np.array_equal(sample_labels(y, 0.3, seed=0), sample_labels(y, 0.3, seed=1))
    assert len(sample_labels(y, 1.0)) == len(y)
    with pytest.raises(ValueError, match="fraction"):
        sample_labels(y, 0.0)
    with pytest.raises(ValueError, match="fraction"):
        sample_labels(y, 1.5)


def test_adapter_errors(rng):
    X, y = blobs(rng)
    # parameters are stored by __init__ and checked by fit (scikit-learn's rule)
    with pytest.raises(TypeError, match="Module"):
        LinearProbe("not a module").fit(X, y)
    with pytest.raises(ValueError, match="task"):
        LinearProbe(Ident(), task="ranking").fit(X, y)
    with pytest.raises(ValueError, match="rows"):
        LinearProbe(Ident()).fit(X, y[:-1])
    with pytest.raises(ValueError, match="2 classes"):
        LinearProbe(Ident()).fit(X, np.zeros(len(X), int))
    with pytest.raises(RuntimeError, match="not fitted"):
        KNN(Ident()).predict(X)
    with pytest.raises(ValueError, match="NaN"):
        LinearProbe(Ident()).fit(np.full((4, 2), np.nan), [0, 1, 0, 1])


def test_probe_on_mlp_encoder(rng):
    X, y = blobs(rng, d=6)
    enc = MLP([6, 16, 8], seed=0)
    assert LinearProbe(enc).fit(X[:80], y[:80]).score(X[80:], y[80:]) > 0.8


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_finetune_probe_init_reproduces_the_probe(rng, task):
    """With init="probe" and zero epochs of change (lr ~ 0), fine-tune predictions equal the
    linear probe's: the head was mapped back from standardised features exactly."""
    from pyssl.transfer import FineTune

    X, yc = blobs(rng, d=6)
    y = yc if task == "classification" else (X @ np.arange(1.0, 7.0)).astype(np.float64)
    enc = MLP([6, 16, 8], norm=None, seed=0)  # no BatchNorm: running statistics would move
    ft = FineTune(enc, epochs=1, lr=1e-12, encoder_lr=0.0, weight_decay=0.0, task=task).fit(X, y)
    probe = LinearProbe(enc, task=task).fit(X, y)
    if task == "classification":
        assert np.mean(ft.predict(X) == probe.predict(X)) > 0.98
    else:
        np.testing.assert_allclose(ft.predict(X), probe.predict(X), rtol=1e-3, atol=1e-2 * np.std(y))


def test_adapters_accept_numpy_scalars_and_validate_in_fit(rng):
    # scikit-learn's rule: __init__ stores the arguments unchanged (get_params round-trips them) and
    # fit checks them; numpy integers and floats count as Python ones
    X, y = blobs(rng)
    probes = [LinearProbe(Ident(), l2=np.float64(1e-3), max_iter=np.int64(50)),
              KNN(Ident(), k=np.int64(3), temperature=np.float32(0.1), batch_size=np.int32(16)),
              FineTune(MLP([5, 8], seed=0), epochs=np.int64(3), lr=np.float64(1e-2), batch_size=np.int64(8),
                       seed=np.uint8(1))]
    for probe in probes:
        assert probe.fit(X, y).score(X, y) > 0.5
    bad = LinearProbe(Ident(), max_iter=0)
    assert bad.get_params()["max_iter"] == 0  # stored as given
    with pytest.raises(ValueError, match="max_iter"):
        bad.fit(X, y)
    with pytest.raises(TypeError, match="freeze_encoder"):
        FineTune(Ident(), freeze_encoder="yes").fit(X, y)


@pytest.mark.parametrize("make", [lambda: LinearProbe(Ident(), l2=np.float64(0.5), max_iter=7),
                                  lambda: KNN(Ident(), k=np.int64(3)),
                                  lambda: FineTune(Ident(), epochs=2, encoder_lr=None, init="random")])
def test_adapters_clone_with_their_parameters_unchanged(make):
    # scikit-learn's clone rebuilds an unfitted copy from get_params and checks that every
    # parameter comes back unchanged (so __init__ must neither cast nor validate): the same
    # object, or (scikit-learn < 1.8 deep-copies non-estimator parameters) an equal one of the
    # same type
    base = pytest.importorskip("sklearn.base")
    est = make()
    copy = base.clone(est)
    assert type(copy) is type(est)
    for k, v in est.get_params().items():
        if k == "encoder":
            continue
        got = copy.get_params()[k]
        assert got is v or (type(got) is type(v) and got == v), (k, got, v)
