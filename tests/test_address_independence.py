"""Same inputs at different addresses give the same bits.

Reductions inside the kernels must not change their association with the buffer's alignment
(e.g. loop peeling before a vectorised `omp simd reduction`): a training run has to repeat bit
for bit, and numpy places arrays at varying offsets. Each input is copied to every 4-byte offset
inside a 64-byte line (float32) or every 8-byte offset (float64), and every output is compared."""
import numpy as np
import pytest

import pyssl.losses as L
from pyssl import _core
from pyssl.nn.losses import cross_entropy, mse


def at_offset(a, offset_items):
    """A C-contiguous copy of `a` whose data starts `offset_items` elements after a 64-byte line."""
    buf = np.empty(a.size + 64, a.dtype)
    base = (-buf.__array_interface__["data"][0] % 64) // a.itemsize
    view = buf[base + offset_items: base + offset_items + a.size].reshape(a.shape)
    view[...] = a
    assert view.flags.c_contiguous
    return view


def flat_bits(out):
    if isinstance(out, (tuple, list)):
        return b"".join(flat_bits(o) for o in out)
    if isinstance(out, dict):
        return b"".join(flat_bits(out[k]) for k in sorted(out))
    return np.asarray(out).tobytes()


rng = np.random.default_rng(0)
N, D = 37, 53  # odd sizes: every vector loop has a remainder


def cases(dtype):
    x1 = rng.standard_normal((N, D)).astype(dtype)
    x2 = rng.standard_normal((N, D)).astype(dtype)
    mask = (rng.random((N, D)) < 0.4).astype(dtype)
    labels = rng.integers(0, D, N)
    center = rng.standard_normal(D).astype(dtype)
    s3 = rng.standard_normal((3, N, D)).astype(dtype)
    t3 = rng.standard_normal((2, N, D)).astype(dtype)
    return {
        "softmax": ((x1,), lambda a: _core.nn.softmax_forward(a, False)),
        "log_softmax": ((x1,), lambda a: _core.nn.softmax_forward(a, True)),
        "cross_entropy": ((x1,), lambda a: cross_entropy(a, labels, 0.1)),
        "mse": ((x1, x2), lambda a, b: mse(a, b)),
        "nt_xent": ((x1, x2), lambda a, b: L.nt_xent(a, b)),
        "negative_cosine": ((x1, x2), lambda a, b: L.negative_cosine(a, b)),
        "barlow_twins": ((x1, x2), lambda a, b: L.barlow_twins(a, b)),
        "vicreg": ((x1, x2), lambda a, b: L.vicreg(a, b)),
        "swav": ((x1, x2), lambda a, b: L.swav(a, b)),
        "dino": ((s3, t3), lambda a, b: L.dino(a, b, center)),
        "masked_mse": ((x1, x2), lambda a, b: L.masked_mse(a, b, mask)),
        "mask_bce": ((x1,), lambda a: L.mask_bce(a, mask)),
    }


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(cases(np.float32)))
def test_outputs_do_not_depend_on_input_alignment(name, dtype):
    inputs, f = cases(dtype)[name]
    step = 64 // np.dtype(dtype).itemsize
    ref = flat_bits(f(*[at_offset(a, 0) for a in inputs]))
    for off in range(1, step):
        got = flat_bits(f(*[at_offset(a, off) for a in inputs]))
        assert got == ref, f"{name} {np.dtype(dtype).name}: result changed with the input at +{off} elements"
