"""Convex solvers for linear heads g_φ on frozen features, solved to convergence.

* Multinomial logistic regression, L(W, b) = (1/N) Σ_n CE(h_n W + b, y_n) + (λ/2)‖W‖², by
  L-BFGS (Nocedal 1980) with Armijo backtracking; each loss/gradient evaluation is three C++
  calls (dense forward, fused softmax cross-entropy, dense backward), in float64.
* Ridge regression, min ‖H W + b − Y‖²/N + λ‖W‖², in closed form.

These define L*_adapt(θ) = min_φ L_adapt for ``pyssl.theory``.
"""
from __future__ import annotations

import numpy as np

from .. import _core


def _standardize(H):
    mu = H.mean(axis=0)
    sd = H.std(axis=0)
    sd = np.where(sd > 1e-8, sd, 1.0)
    return mu, sd


def _logreg_loss_grad(theta, H, y, d, k, l2):
    from ..nn.losses import cross_entropy

    W = theta[: d * k].reshape(d, k)
    b = theta[d * k:]
    logits = _core.nn.dense_forward(H, W, b)
    loss, dlogits = cross_entropy(logits, y)
    gW = l2 * W.copy()
    gb = np.zeros(k)
    _core.nn.dense_backward(H, W, dlogits, gW, gb, accumulate=True, need_dx=False)
    loss = float(loss) + 0.5 * l2 * float(np.dot(W.ravel(), W.ravel()))
    return loss, np.concatenate([gW.ravel(), gb])


def lbfgs(fun, x0, max_iter=500, tol=1e-6, history=10):
    """Minimise ``fun(x) -> (f, g)`` by L-BFGS with backtracking (Armijo, c1=1e-4).
    Returns (x, f, iterations, converged).

    ``x0``: starting point (1-D float64). ``max_iter``: most iterations. ``tol``: stop when the
    gradient's max-norm falls below it. ``history``: number of correction pairs kept.
    """
    x = x0.copy()
    f, g = fun(x)
    S, Y = [], []
    for it in range(1, max_iter + 1):
        if np.max(np.abs(g)) <= tol:
            return x, f, it - 1, True
        # two-loop recursion
        q = g.copy()
        alphas = []
        for s, yv in zip(reversed(S), reversed(Y)):
            rho = 1.0 / np.dot(yv, s)
            a = rho * np.dot(s, q)
            alphas.append((rho, a))
            q -= a * yv
        if S:
            q *= np.dot(S[-1], Y[-1]) / np.dot(Y[-1], Y[-1])
        for (s, yv), (rho, a) in zip(zip(S, Y), reversed(alphas)):
            bcoef = rho * np.dot(yv, q)
            q += s * (a - bcoef)
        p = -q
        gp = np.dot(g, p)
        if gp >= 0:  # not a descent direction: reset memory
            S.clear(), Y.clear()
            p, gp = -g, -np.dot(g, g)
        step = 1.0 if S else min(1.0, 1.0 / max(np.linalg.norm(g), 1e-12))
        while True:
            xn = x + step * p
            fn, gn = fun(xn)
            if fn <= f + 1e-4 * step * gp:
                break
            step *= 0.5
            if step < 1e-14:  # no measurable decrease left: at the precision limit of f
                return x, f, it, bool(np.max(np.abs(g)) <= 100 * tol)
        s, yv = xn - x, gn - g
        if np.dot(s, yv) > 1e-12:
            S.append(s)
            Y.append(yv)
            if len(S) > history:
                S.pop(0), Y.pop(0)
        if abs(f - fn) <= 1e-12 * max(1.0, abs(f)) and np.max(np.abs(gn)) <= 10 * tol:
            return xn, fn, it, True
        x, f, g = xn, fn, gn
    return x, f, max_iter, False


class LogisticRegressionSolver:
    """Multinomial logistic regression on standardised features, to convergence.

    ``l2``: L2 penalty on the weights, >= 0. ``max_iter``: most solver iterations, >= 1. ``tol``:
    convergence tolerance on the gradient norm.
    """

    def __init__(self, l2: float = 1e-4, max_iter: int = 500, tol: float = 1e-6):
        self.l2, self.max_iter, self.tol = l2, max_iter, tol

    def fit(self, H, y, n_classes=None):
        H = np.asarray(H, dtype=np.float64)
        self.mu_, self.sd_ = _standardize(H)
        Hs = np.ascontiguousarray((H - self.mu_) / self.sd_)
        y = np.ascontiguousarray(y, dtype=np.int64)
        k = int(n_classes or (y.max() + 1))
        d = Hs.shape[1]
        theta0 = np.zeros(d * k + k)
        theta, f, it, ok = lbfgs(lambda t: _logreg_loss_grad(t, Hs, y, d, k, self.l2), theta0,
                                 self.max_iter, self.tol)
        self.W_ = theta[: d * k].reshape(d, k).copy()
        self.b_ = theta[d * k:].copy()
        self.loss_, self.n_iter_, self.converged_ = f, it, ok
        return self

    def decision_function(self, H):
        Hs = np.ascontiguousarray((np.asarray(H, dtype=np.float64) - self.mu_) / self.sd_)
        return _core.nn.dense_forward(Hs, self.W_, self.b_)

    def loss(self, H, y) -> float:
        """Mean cross-entropy (without the penalty) of the fitted head on (H, y)."""
        from ..nn.losses import cross_entropy

        return float(cross_entropy(self.decision_function(H), np.ascontiguousarray(y, dtype=np.int64))[0])


class RidgeSolver:
    """Ridge regression on standardised features (closed form through the normal equations).

    ``l2``: L2 penalty on the weights, >= 0.
    """

    def __init__(self, l2: float = 1e-4):
        self.l2 = l2

    def fit(self, H, Y):
        H = np.asarray(H, dtype=np.float64)
        Y = np.asarray(Y, dtype=np.float64)
        self._1d = Y.ndim == 1
        Y = Y.reshape(Y.shape[0], -1)
        self.mu_, self.sd_ = _standardize(H)
        Hs = (H - self.mu_) / self.sd_
        self.ymu_ = Y.mean(axis=0)
        n, d = Hs.shape
        A = _core.matmul(np.ascontiguousarray(Hs.T), np.ascontiguousarray(Hs)) / n + self.l2 * np.eye(d)
        rhs = _core.matmul(np.ascontiguousarray(Hs.T), np.ascontiguousarray(Y - self.ymu_)) / n
        self.W_ = np.linalg.solve(A, rhs)
        self.loss_ = self.loss(H, Y)
        return self

    def predict(self, H):
        Hs = (np.asarray(H, dtype=np.float64) - self.mu_) / self.sd_
        out = Hs @ self.W_ + self.ymu_
        return out[:, 0] if self._1d else out

    def loss(self, H, Y) -> float:
        Y = np.asarray(Y, dtype=np.float64).reshape(np.asarray(H).shape[0], -1)
        P = self.predict(H).reshape(Y.shape)
        return float(np.mean((P - Y) ** 2))
