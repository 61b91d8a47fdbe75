"""Tools for testing kernels, losses and layers: float64 finite-difference gradient checks and
hypothesis strategies for well-conditioned batches. pyssl's own tests use exactly these.

Example::

    from pyssl.testing import check_gradients
    check_gradients(lambda a, b: pyssl.losses.nt_xent(a, b), [z1, z2])
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np


def numerical_gradient(fun: Callable[[], float], x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central differences of the scalar ``fun()`` with respect to ``x`` (perturbed in place).

    Parameters
    ----------
    eps
        Central-difference step.
    """
    if x.dtype != np.float64:
        raise TypeError(f"finite differences need float64 inputs, got {x.dtype}")
    g = np.zeros_like(x)
    flat, gflat = x.reshape(-1), g.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        fp = float(fun())
        flat[i] = old - eps
        fm = float(fun())
        flat[i] = old
        gflat[i] = (fp - fm) / (2 * eps)
    return g


def check_gradients(fun: Callable, inputs: Sequence[np.ndarray], wrt: Sequence[int] | None = None,
                    eps: float = 1e-6, rtol: float = 1e-5, atol: float = 1e-7) -> None:
    """Assert that ``fun(*inputs) -> (value, grads)`` returns the gradients of ``value``.

    ``grads`` is a sequence aligned with ``wrt`` (default: all inputs, in order); a single array
    is accepted when one input is checked. Inputs must be float64. Raises AssertionError with the
    worst entry on mismatch.

    Parameters
    ----------
    fun, inputs, wrt
        As above.
    eps, rtol, atol
        The finite-difference step, and the comparison's tolerance: |analytic − numeric| <=
        atol + rtol·|numeric| entrywise.
    """
    inputs = [np.array(a, dtype=np.float64, copy=True) for a in inputs]
    wrt = list(range(len(inputs))) if wrt is None else list(wrt)
    _, grads = fun(*inputs)
    if isinstance(grads, np.ndarray):
        grads = [grads]
    grads = list(grads)
    if len(grads) != len(wrt):
        raise AssertionError(f"fun returned {len(grads)} gradients for {len(wrt)} inputs")
    for k, i in enumerate(wrt):
        analytic = np.asarray(grads[k], dtype=np.float64)
        if analytic.shape != inputs[i].shape:
            raise AssertionError(f"gradient {k} has shape {analytic.shape}, input {i} has {inputs[i].shape}")
        numeric = numerical_gradient(lambda: fun(*inputs)[0], inputs[i], eps)
        err = np.abs(analytic - numeric)
        tol = atol + rtol * np.abs(numeric)
        if not np.all(err <= tol):
            j = np.unravel_index(np.argmax(err - tol), err.shape)
            raise AssertionError(
                f"gradient of input {i} wrong at {tuple(int(v) for v in j)}: analytic {analytic[j]:.10g}, "
                f"numeric {numeric[j]:.10g} (max abs error {err.max():.3g})")


def check_module_gradients(module, x: np.ndarray, seed: int = 0, eps: float = 1e-6,
                           rtol: float = 1e-5, atol: float = 1e-7, input_grad: bool = True) -> None:
    """Finite-difference check of a float64 Module: input gradient and every parameter gradient,
    for the scalar L = Σ r ⊙ module(x) with a fixed random r.

    ``seed`` draws the random projection r of the output; ``eps``, ``rtol`` and ``atol`` as in
    :func:`check_gradients`. ``input_grad=False`` checks the parameter gradients only (layers
    whose input holds integer codes, which a finite difference cannot perturb).
    """
    x = np.array(x, dtype=np.float64, copy=True)
    y, ctx = module.forward(x)
    r = np.random.default_rng(seed).standard_normal(y.shape)
    module.zero_grad()
    dx = module.backward(r, ctx)

    def loss():
        return float(np.sum(module.forward(x)[0] * r))

    if input_grad:
        num = numerical_gradient(loss, x, eps)
        np.testing.assert_allclose(dx, num, rtol=rtol, atol=atol, err_msg="input gradient")
    for name, p in module.named_parameters():
        num = numerical_gradient(loss, p.data, eps)
        np.testing.assert_allclose(p.grad, num, rtol=rtol, atol=atol, err_msg=f"gradient of {name}")


# -- hypothesis strategies -----------------------------------------------------------------------

def assert_seeded_and_thread_invariant(fn: Callable, x, threads: Sequence[int] = (1, 2, 3), seed: int = 42) -> None:
    """Check a seeded transform ``fn(x, seed)``: every thread count in ``threads`` gives the same
    bits (3 threads on a 2-core machine also tries uneven chunks and oversubscription), and
    another seed gives a different first output. Restores the thread count."""
    import pyssl

    def outputs(s):
        r = fn(x, s)
        return [np.asarray(o) for o in (r if isinstance(r, (tuple, list)) else (r,))]

    before = pyssl.get_num_threads()
    try:
        runs = []
        for t in threads:
            pyssl.set_num_threads(t)
            runs.append(outputs(seed))
        other = outputs(seed + 1)
    finally:
        pyssl.set_num_threads(before)
    for t, run in zip(threads[1:], runs[1:]):
        for i, (u, v) in enumerate(zip(runs[0], run)):
            if u.tobytes() != v.tobytes():
                raise AssertionError(f"output {i} differs between {threads[0]} and {t} threads")
    if runs[0][0].tobytes() == other[0].tobytes():
        raise AssertionError(f"seeds {seed} and {seed + 1} gave the same first output")


def _st():
    try:
        from hypothesis import strategies as st
        from hypothesis.extra import numpy as hnp
    except ImportError as exc:  # pragma: no cover
        raise ImportError("pyssl.testing strategies need hypothesis: pip install hypothesis") from exc
    return st, hnp


def well_conditioned(shape, dtype=np.float64, scale: float = 1.0):
    """Arrays of ``shape`` with entries in [-scale, scale] (no NaN/Inf, no huge values).

    ``dtype``: the arrays' dtype.
    """
    st, hnp = _st()
    return hnp.arrays(dtype, shape, elements=st.floats(-scale, scale, allow_nan=False,
                                                       allow_infinity=False, width=64))


def embeddings(min_n=2, max_n=8, min_d=1, max_d=6, dtype=np.float64):
    """Strategy for a (N, d) embedding batch, rows bounded away from zero norm.

    ``min_n``/``max_n`` and ``min_d``/``max_d`` bound N and d; ``dtype``: the arrays' dtype.
    """
    st, _ = _st()

    @st.composite
    def build(draw):
        n = draw(st.integers(min_n, max_n))
        d = draw(st.integers(min_d, max_d))
        seed = draw(st.integers(0, 2**32 - 1))
        z = np.random.default_rng(seed).standard_normal((n, d))
        norms = np.linalg.norm(z, axis=1, keepdims=True)
        z = np.where(norms < 1e-3, z + 1.0, z)
        return z.astype(dtype)

    return build()


def batches(min_n=1, max_n=6, min_d=1, max_d=7, dtype=np.float64):
    """Strategy for a generic (N, d) batch of standard-normal values (seeded).

    ``min_n``/``max_n`` and ``min_d``/``max_d`` bound N and d; ``dtype``: the arrays' dtype.
    """
    st, _ = _st()

    @st.composite
    def build(draw):
        n = draw(st.integers(min_n, max_n))
        d = draw(st.integers(min_d, max_d))
        seed = draw(st.integers(0, 2**32 - 1))
        return np.random.default_rng(seed).standard_normal((n, d)).astype(dtype)

    return build()


def images(min_n=1, max_n=3, channels=(1, 3), min_hw=2, max_hw=9, dtype=np.float32):
    """Strategy for an (N, C, H, W) image batch in [0, 1).

    ``min_n``/``max_n`` bound N, ``min_hw``/``max_hw`` H and W, ``channels`` the channel counts to
    choose from; ``dtype``: the arrays' dtype.
    """
    st, _ = _st()

    @st.composite
    def build(draw):
        n = draw(st.integers(min_n, max_n))
        c = draw(st.sampled_from(list(channels)))
        h = draw(st.integers(min_hw, max_hw))
        w = draw(st.integers(min_hw, max_hw))
        seed = draw(st.integers(0, 2**32 - 1))
        return np.random.default_rng(seed).random((n, c, h, w)).astype(dtype)

    return build()


def sequences(min_n=1, max_n=3, min_c=1, max_c=3, min_t=4, max_t=32, dtype=np.float32):
    """Strategy for an (N, C, T) batch of time series.

    ``min_n``/``max_n``, ``min_c``/``max_c`` and ``min_t``/``max_t`` bound N, C and T; ``dtype``:
    the arrays' dtype.
    """
    st, _ = _st()

    @st.composite
    def build(draw):
        n = draw(st.integers(min_n, max_n))
        c = draw(st.integers(min_c, max_c))
        t = draw(st.integers(min_t, max_t))
        seed = draw(st.integers(0, 2**32 - 1))
        return np.random.default_rng(seed).standard_normal((n, c, t)).astype(dtype)

    return build()
