import numpy as np
import pytest

import pyssl


def test_version_and_threads(threads):
    assert isinstance(pyssl.__version__, str)
    pyssl.set_num_threads(1)
    assert pyssl.get_num_threads() == 1
    assert pyssl._core.blas_num_threads() == 1
    pyssl.set_num_threads(2)
    assert pyssl.get_num_threads() == 2


@pytest.mark.parametrize("bad", [0, -3])
def test_set_num_threads_rejects_nonpositive(bad):
    with pytest.raises(ValueError, match="n must be >= 1"):
        pyssl.set_num_threads(bad)


def test_set_num_threads_rejects_non_int():
    with pytest.raises(TypeError):
        pyssl.set_num_threads(1.5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(1, 1, 1), (3, 5, 7), (64, 33, 17)])
def test_matmul_matches_numpy(dtype, shape, rng):
    m, k, n = shape
    a = rng.standard_normal((m, k)).astype(dtype)
    b = rng.standard_normal((k, n)).astype(dtype)
    tol = 1e-4 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(pyssl._core.matmul(a, b), a @ b, rtol=tol, atol=tol)


def test_matmul_errors(rng):
    a = rng.standard_normal((4, 3)).astype(np.float32)
    with pytest.raises(ValueError, match="rows"):
        pyssl._core.matmul(a, a)
    with pytest.raises(TypeError, match="dtype float32"):
        pyssl._core.matmul(a, a.T.astype(np.float64))
    with pytest.raises(TypeError, match="float32 or float64"):
        pyssl._core.matmul(a.astype(np.int32), a.T)
    with pytest.raises(ValueError, match="C-contiguous"):
        pyssl._core.matmul(a, a.T)


def test_thread_invariance_checker_catches_differences():
    from pyssl.testing import assert_seeded_and_thread_invariant

    before = pyssl.get_num_threads()
    with pytest.raises(AssertionError, match="differs between 1 and 2 threads"):
        assert_seeded_and_thread_invariant(lambda x, s: x * s + pyssl.get_num_threads(), np.ones(3))
    with pytest.raises(AssertionError, match="same first output"):
        assert_seeded_and_thread_invariant(lambda x, s: x, np.ones(3))
    assert_seeded_and_thread_invariant(lambda x, s: (x * s, x + s), np.ones(3))
    assert pyssl.get_num_threads() == before
