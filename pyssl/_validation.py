"""Input validation in one place (scikit-learn style): every public entry point checks its
arrays here, so that errors name the argument, its shape and dtype, and say what to do.

Policy: read-only inputs are cast to the working dtype (float32 unless float64 is given) and
made C-contiguous; buffers updated in place are never cast.
"""
from __future__ import annotations

import math
import numbers
import sys

import numpy as np

FLOAT_DTYPES = (np.float32, np.float64)
_FLOAT_MAX = sys.float_info.max
_FLOAT_DTYPE_SET = frozenset(np.dtype(t) for t in FLOAT_DTYPES)


class NonFiniteError(FloatingPointError, ValueError):
    """A computation on finite input produced NaN or Inf (an overflow: weights too large for the
    dtype, or a diverged training run). It is a FloatingPointError, as ``pretrain``'s check of the
    loss raises, and a ValueError, as every other bad-argument error."""


def describe(a) -> str:
    a = np.asarray(a)
    return f"shape {a.shape}, dtype {a.dtype}"


def _coerce(x, name: str, dtype):
    """np.asarray(x), checked to be real and numeric, and the float dtype it will be cast to."""
    try:
        arr = np.asarray(x)
    except Exception as exc:  # pragma: no cover - numpy raises for ragged input
        raise TypeError(f"{name} must be array-like, got {type(x).__name__}: {exc}") from exc
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise TypeError(f"{name} must be numeric, got dtype {arr.dtype}")
    if np.issubdtype(arr.dtype, np.complexfloating):
        raise TypeError(f"{name} must be real-valued, got dtype {arr.dtype}")
    if dtype is None:
        # a float array of non-native byte order keeps its precision: same values, native order
        native = arr.dtype.newbyteorder("=")
        target = native if native in _FLOAT_DTYPE_SET else np.dtype(np.float32)
    else:
        target = np.dtype(dtype)
    return arr, target


def check_array(x, name: str, *, ndim=None, min_ndim=None, dtype=None, allow_empty=False,
                finite=True, min_rows=None) -> np.ndarray:
    """Return `x` as a C-contiguous float32/float64 array, or raise a clear error.

    dtype: None keeps float32/float64 input as is and casts anything else to float32.

    ``name``: the argument's name, used in error messages. ``ndim``: required number of dimensions
    (None: any). ``min_ndim``: fewest dimensions (None: any). ``allow_empty``: accept arrays with no
    element. ``finite``: refuse NaN and Inf. ``min_rows``: fewest rows along axis 0 (None: any).
    """
    if x is None:
        raise TypeError(f"{name} must be an array, got None")
    if type(x) is np.ndarray and x.dtype in _FLOAT_DTYPE_SET and (dtype is None or x.dtype == np.dtype(dtype)):
        # fast path (a float array already of the working dtype): only the shape checks below
        # apply, so a kernel called once per batch does not pay ~10 µs of dtype logic
        arr, target = x, x.dtype
    else:
        arr, target = _coerce(x, name, dtype)
    if ndim is not None and arr.ndim != ndim:
        hint = ""
        if ndim == 2 and arr.ndim == 1:
            hint = "; reshape with x.reshape(-1, 1) for one feature or x.reshape(1, -1) for one sample"
        raise ValueError(f"{name} must be {ndim}-D, got {describe(arr)}{hint}")
    if min_ndim is not None and arr.ndim < min_ndim:
        raise ValueError(f"{name} must have at least {min_ndim} dimensions, got {describe(arr)}")
    if not allow_empty and arr.size == 0:
        raise ValueError(f"{name} must not be empty, got {describe(arr)}")
    if min_rows is not None and arr.ndim >= 1 and arr.shape[0] < min_rows:
        raise ValueError(f"{name} needs at least {min_rows} rows, got {describe(arr)}")
    arr = np.ascontiguousarray(arr, dtype=target)
    if finite and arr.size and not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or Inf ({describe(arr)}); clean or impute it first")
    return arr


def check_same_dtype(name_a: str, a: np.ndarray, name_b: str, b: np.ndarray) -> np.ndarray:
    """Cast `b` to `a`'s dtype (inputs only)."""
    return b if b.dtype == a.dtype else b.astype(a.dtype)


def check_scalar(value, name: str, *, kind=numbers.Real, low=None, high=None,
                 low_inclusive=True, high_inclusive=True):
    """Check a scalar parameter: type and interval. Message follows scikit-learn's form.

    ``kind=int`` means any integer (numpy's too, not bool); integers are returned as Python ints.

    ``value``: the scalar to check. ``name``: the parameter's name, used in error messages. ``low``:
    lower bound (None: unbounded). ``high``: upper bound (None: unbounded). ``low_inclusive``:
    whether ``low`` itself is accepted. ``high_inclusive``: whether ``high`` itself is accepted.
    """
    if kind is int:
        kind = numbers.Integral
    tv = type(value)
    # fast path for plain Python numbers (the abc isinstance checks below cost microseconds)
    if (tv is float and kind is numbers.Real) or (tv is int and kind in (numbers.Real, numbers.Integral, int)):
        if tv is float and not math.isfinite(value):
            raise ValueError(f"The '{name}' parameter must be finite, got {value!r}")
    elif isinstance(value, bool) or not isinstance(value, kind):
        raise TypeError(f"The '{name}' parameter must be {'an int' if kind is numbers.Integral else 'a real number'}, "
                        f"got {value!r} ({type(value).__name__})")
    elif isinstance(value, numbers.Real) and not _is_finite_real(value):
        raise ValueError(f"The '{name}' parameter must be finite, got {value!r}")
    if high is None and kind is not numbers.Real and isinstance(value, numbers.Integral) and not -2**63 <= int(value) < 2**63:
        # the kernels take 64-bit integers: a larger one would fail inside the binding
        raise ValueError(f"The '{name}' parameter must fit in a 64-bit integer (|value| < 2**63), got {value!r}")
    if kind is numbers.Real and isinstance(value, numbers.Integral) and abs(int(value)) > _FLOAT_MAX:
        raise ValueError(f"The '{name}' parameter must be a real number within the float range "
                         f"(|value| <= {_FLOAT_MAX:.4g}), got an integer with {len(str(abs(int(value))))} digits")
    if low is not None and (value < low or (value == low and not low_inclusive)):
        op = ">=" if low_inclusive else ">"
        raise ValueError(f"The '{name}' parameter must be {op} {low}, got {value!r}")
    if high is not None and (value > high or (value == high and not high_inclusive)):
        op = "<=" if high_inclusive else "<"
        raise ValueError(f"The '{name}' parameter must be {op} {high}, got {value!r}")
    if kind is numbers.Integral and type(value) is not int:
        return int(value)
    return value


def _is_finite_real(value) -> bool:
    """math.isfinite for any real, including integers too large for a float (always finite)."""
    if isinstance(value, numbers.Integral):
        return True
    try:
        return math.isfinite(value)
    except OverflowError:  # a Fraction or Decimal beyond the float range
        return False


def check_seed(seed, name: str = "seed") -> int:
    """A seed as a Python int: any integer in [0, 2**64), numpy integers included (TypeError or
    ValueError naming the argument otherwise).

    ``seed``: the seed to check. ``name``: the argument's name, used in error messages.
    """
    if type(seed) is int and 0 <= seed < 2**64:  # fast path
        return seed
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (numbers.Integral,)):
        raise TypeError(f"{name} must be a non-negative int, got {seed!r}")
    seed = int(seed)
    if seed < 0 or seed >= 2**64:
        raise ValueError(f"{name} must be in [0, 2**64), got {seed}")
    return seed


def check_inplace(buf, name: str, dtype=None, shape=None) -> np.ndarray:
    """A buffer the kernel writes into: must already be a contiguous, writeable float array."""
    if not isinstance(buf, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray (it is updated in place), got {type(buf).__name__}")
    if buf.dtype not in FLOAT_DTYPES or (dtype is not None and buf.dtype != np.dtype(dtype)):
        want = np.dtype(dtype) if dtype is not None else "float32 or float64"
        raise TypeError(f"{name} must have dtype {want} (it is updated in place and cannot be cast), got {describe(buf)}")
    if not buf.flags.c_contiguous:
        raise ValueError(f"{name} must be C-contiguous (it is updated in place), got a strided view with {describe(buf)}")
    if not buf.flags.writeable:
        raise ValueError(f"{name} must be writeable (it is updated in place)")
    if shape is not None and buf.shape != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)}, got {describe(buf)}")
    return buf


# --- declarative parameter constraints (scikit-learn's ``_parameter_constraints`` idea) -------------

class Interval:
    """A number in an interval; numpy numbers are accepted as Python ones are.

    Parameters
    ----------
    kind : {numbers.Real, numbers.Integral, int, float}
        Real (any finite real) or Integral (any integer, not bool; returned as a Python int).
    low, high : number, optional
        Bounds (None: unbounded).
    closed : {"both", "left", "right", "neither"}
        Which bounds belong to the interval.
    allow_none : bool
        Accept None (returned unchanged).
    """

    def __init__(self, kind=numbers.Real, low=None, high=None, closed: str = "both", allow_none: bool = False):
        if closed not in ("both", "left", "right", "neither"):
            raise ValueError(f"closed must be 'both', 'left', 'right' or 'neither', got {closed!r}")
        self.kind = numbers.Integral if kind is int else numbers.Real if kind is float else kind
        self.low, self.high, self.closed, self.allow_none = low, high, closed, allow_none

    def __call__(self, value, name: str):
        if value is None and self.allow_none:
            return None
        value = check_scalar(value, name, kind=self.kind, low=self.low, high=self.high,
                             low_inclusive=self.closed in ("both", "left"),
                             high_inclusive=self.closed in ("both", "right"))
        return value if self.kind is numbers.Integral else float(value)


class Options:
    """One of a fixed set of values (strings, usually).

    Parameters
    ----------
    *options
        The accepted values.
    """

    def __init__(self, *options):
        self.options = options

    def __call__(self, value, name: str):
        try:
            ok = value in self.options
        except TypeError:  # unhashable or incomparable
            ok = False
        if not ok:
            raise ValueError(f"The '{name}' parameter must be one of {list(self.options)}, got {value!r}")
        return value


class Boolean:
    """True or False (numpy booleans too); returned as a Python bool."""

    def __call__(self, value, name: str):
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(f"The '{name}' parameter must be True or False, got {value!r} ({type(value).__name__})")
        return bool(value)


class Seed:
    """A seed: a non-negative integer below 2**64 (numpy integers accepted; see :func:`check_seed`)."""

    def __call__(self, value, name: str):
        return check_seed(value, name)


def validate_params(params: dict, constraints: dict) -> dict:
    """Check every parameter of ``params`` named in ``constraints``; return them checked.

    Parameters
    ----------
    params : dict
        Parameter name → value (e.g. an estimator's ``get_params()``).
    constraints : dict
        Parameter name → a constraint called as ``constraint(value, name)`` (an :class:`Interval`,
        :class:`Options`, :class:`Boolean`, :class:`Seed` or any such callable) that returns the
        checked value or raises TypeError/ValueError naming the parameter.
    """
    return {name: (constraints[name](value, name) if name in constraints else value) for name, value in params.items()}
