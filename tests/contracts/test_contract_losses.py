"""Contract every registered loss (``pyssl.losses.LOSSES``) must pass, parametrized over the
registry: a newly registered loss is checked with no change here. Finite-difference gradients in
float64, float32 ≈ float64, bit-identical results for any thread count and any input alignment,
and bad inputs named in the error. Per-loss files keep the paper oracles and analytic values."""
import inspect

import numpy as np
import pytest

from pyssl.losses import LOSSES
from pyssl.testing import check_gradients

from ._helpers import assert_alignment_independent, assert_thread_identical

NAMES = LOSSES.names()
FD_NAMES = [e.name for e in LOSSES.entries(lambda e: e.fd is not False)]


def _inputs(name, dtype, n, d, seed=0):
    return LOSSES.entry(name).inputs(np.random.default_rng(seed), dtype, n, d)


def _wrt(name, args):
    entry = LOSSES.entry(name)
    if entry.wrt is not None:
        return list(entry.wrt)
    n_grads = len(entry.obj(*args)) - 1
    return list(range(n_grads))


# public functions of pyssl.losses that are not a loss of their own (helpers and multi-process forms)
NOT_LOSSES = {"register_loss", "task_loss", "sinkhorn", "sup_con_distributed", "nt_xent_distributed",
              "symmetric_negative_cosine"}


def test_every_public_loss_function_is_registered():
    import pyssl.losses as L

    assert {"cross_entropy", "mse"} <= set(NAMES)
    for name in L.__all__:
        obj = getattr(L, name)
        if inspect.isfunction(obj) and name not in NOT_LOSSES:
            assert name in LOSSES and LOSSES.get(name) is obj, f"pyssl.losses.{name} is not registered in LOSSES"
    for name in NAMES:
        assert callable(LOSSES.get(name)) and LOSSES.entry(name).inputs is not None, name


@pytest.mark.parametrize("n, d, seed", [(4, 3, 0), (7, 5, 1), (2, 1, 2)])
@pytest.mark.parametrize("name", FD_NAMES)
def test_gradients_match_finite_differences(name, n, d, seed):
    args = _inputs(name, np.float64, n, d, seed)
    fn = LOSSES.get(name)
    wrt = _wrt(name, args)

    def f(*diff):
        full = list(args)
        for i, a in zip(wrt, diff):
            full[i] = a
        loss, *grads = fn(*full)
        return loss, grads

    check_gradients(f, [args[i] for i in wrt], rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_float32_matches_float64(name):
    args64 = _inputs(name, np.float64, 24, 10)
    args32 = [a.astype(np.float32) if a.dtype == np.float64 else a for a in args64]
    fn = LOSSES.get(name)
    l64, *g64 = fn(*args64)
    l32, *g32 = fn(*args32)
    rtol = LOSSES.entry(name).f32_rtol or 1e-4
    assert l32 == pytest.approx(l64, rel=rtol, abs=1e-6)
    for a, b in zip(g32, g64):
        assert a.dtype == np.float32
        np.testing.assert_allclose(a, b, atol=rtol * max(np.abs(b).max(), 1e-12))


@pytest.mark.parametrize("size", [(101, 9), (515, 53)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", NAMES)
def test_bit_identical_for_any_thread_count(name, dtype, size):
    # pyssl's own row loops split across threads at both sizes; at (515, 53) the N×N similarity
    # products are also large enough for csrc/blas to cut them into slices (which depend on the
    # shape only, never on the thread count); odd sizes leave loop remainders
    args = _inputs(name, dtype, *size)
    assert_thread_identical(lambda: LOSSES.get(name)(*args), name)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", NAMES)
def test_bit_identical_for_any_input_alignment(name, dtype):
    assert_alignment_independent(LOSSES.get(name), _inputs(name, dtype, 37, 53), f"{name} {np.dtype(dtype).name}")


@pytest.mark.parametrize("name", NAMES)
def test_bad_inputs_name_the_argument(name):
    fn = LOSSES.get(name)
    params = list(inspect.signature(fn).parameters)
    args = _inputs(name, np.float64, 6, 4)
    first = params[0]
    with_nan = [a.copy() for a in args]
    with_nan[0].flat[0] = np.nan
    with pytest.raises(ValueError, match=first):
        fn(*with_nan)
    with pytest.raises(TypeError, match=first):
        fn(np.full(args[0].shape, "a"), *args[1:])
    with pytest.raises(TypeError, match=first):
        fn(None, *args[1:])
    with pytest.raises((ValueError, TypeError), match=first):
        fn(args[0].reshape(-1)[:0], *args[1:])  # empty


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", NAMES)
def test_extreme_inputs_give_finite_results(name, dtype):
    # differentiable inputs of magnitude 1e4 with a zero row (a dead feature vector): stable kernels
    # (max-shifted exponentials, eps in the norms) stay finite in either dtype
    args = _inputs(name, dtype, 64, 8)
    for i in _wrt(name, args):
        args[i] = (args[i] * 1e4).astype(dtype)
        args[i].reshape(-1, args[i].shape[-1])[0] = 0
    loss, *grads = LOSSES.get(name)(*args)
    assert np.isfinite(loss)
    for g in grads:
        assert np.isfinite(g).all() and g.dtype == dtype


def _float_hyperparameters(fn):
    return [n for n, p in inspect.signature(fn).parameters.items()
            if isinstance(p.default, float) and not isinstance(p.default, bool)]


@pytest.mark.parametrize("name", [n for n in NAMES if _float_hyperparameters(LOSSES.get(n))])
def test_nan_hyperparameters_are_refused_by_name(name):
    fn = LOSSES.get(name)
    args = _inputs(name, np.float64, 6, 4)
    for hyper in _float_hyperparameters(fn):
        for bad in (float("nan"), np.float64("nan"), float("inf")):
            with pytest.raises(ValueError, match=hyper):
                fn(*args, **{hyper: bad})
