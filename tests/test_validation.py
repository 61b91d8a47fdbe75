"""pyssl._validation: the fast paths for plain Python numbers and float arrays must accept and
reject exactly what the general paths do."""
import math
import numbers

import numpy as np
import pytest

from pyssl._validation import check_array, check_scalar, check_seed


@pytest.mark.parametrize("value,kind", [
    (1.5, int), (1.5, numbers.Integral), (True, numbers.Real), (True, int), ("3", numbers.Real), (None, numbers.Real),
])
def test_check_scalar_rejects_wrong_types(value, kind):
    with pytest.raises(TypeError, match="parameter must be"):
        check_scalar(value, "p", kind=kind)


@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan, np.float32(np.inf), np.float64(np.nan)])
def test_check_scalar_rejects_non_finite(value):
    with pytest.raises(ValueError, match="finite"):
        check_scalar(value, "p")


@pytest.mark.parametrize("value,kind", [
    (3, int), (3, numbers.Integral), (3, numbers.Real), (0.25, numbers.Real), (np.int64(3), numbers.Integral),
    (np.float32(0.5), numbers.Real),
])
def test_check_scalar_accepts_and_returns_value(value, kind):
    assert check_scalar(value, "p", kind=kind, low=0, high=10) == value


@pytest.mark.parametrize("value,match", [(-0.5, ">= 0"), (11, "<= 10"), (0.0, "> 0")])
def test_check_scalar_bounds_on_fast_path(value, match):
    with pytest.raises(ValueError, match=match):
        check_scalar(value, "p", low=0, high=10, low_inclusive=value != 0.0)


@pytest.mark.parametrize("seed", [0, 1, 2**64 - 1, np.uint64(2**64 - 1), np.int32(7)])
def test_check_seed_accepts(seed):
    assert check_seed(seed) == int(seed)
    assert type(check_seed(seed)) is int


@pytest.mark.parametrize("seed,err", [(-1, ValueError), (2**64, ValueError), (1.0, TypeError), (True, TypeError),
                                      (np.bool_(True), TypeError), ("1", TypeError)])
def test_check_seed_rejects(seed, err):
    with pytest.raises(err):
        check_seed(seed)


def test_check_array_fast_path_keeps_the_array_and_checks_shape():
    x = np.ones((3, 4), np.float32)
    assert check_array(x, "x", ndim=2) is x
    with pytest.raises(ValueError, match="must be 3-D"):
        check_array(x, "x", ndim=3)
    with pytest.raises(ValueError, match="NaN or Inf"):
        check_array(np.array([[np.nan]], np.float32), "x")
    with pytest.raises(ValueError, match="empty"):
        check_array(np.ones((0, 4), np.float64), "x")


def test_check_array_casts_and_copies_strided_input():
    x = np.arange(12, dtype=np.float64).reshape(3, 4)
    y = check_array(x, "x", dtype=np.float32)
    assert y.dtype == np.float32 and np.array_equal(y, x)
    s = check_array(x[:, ::2], "x")
    assert s.flags.c_contiguous and np.array_equal(s, x[:, ::2])
    assert check_array([[1, 2]], "x").dtype == np.float32
    with pytest.raises(TypeError, match="real-valued"):
        check_array(np.ones(2, np.complex64), "x")
    with pytest.raises(TypeError, match="numeric"):
        check_array(np.array(["a"]), "x")


def test_numpy_integers_are_accepted_wherever_ints_are():
    import numpy as np

    from pyssl import methods, nn, transfer

    enc = nn.MLP([4, 8])
    assert methods.MoCo(enc, queue_size=np.int64(32)).queue_size == 32
    assert type(methods.SimCLR(enc, projection_dim=np.int32(8)).projection_dim) is int
    assert methods.SwAV(enc, n_prototypes=np.int64(8)).n_prototypes == 8
    assert methods.DINO(enc, out_dim=np.uint8(8)).out_dim == 8
    assert transfer.KNN(enc, k=np.int64(3)).k == 3
    with pytest.raises(TypeError, match="an int"):
        methods.MoCo(enc, queue_size=True)
    with pytest.raises(TypeError, match="an int"):
        methods.MoCo(enc, queue_size=32.0)
