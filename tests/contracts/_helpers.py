"""Shared pieces of the contract suites: bit comparison and inputs at shifted addresses."""
import numpy as np

import pyssl


def flat_bits(out) -> bytes:
    """All arrays and floats of a (nested) result as one byte string."""
    if isinstance(out, (tuple, list)):
        return b"".join(flat_bits(o) for o in out)
    if isinstance(out, dict):
        return b"".join(flat_bits(out[k]) for k in sorted(out))
    return np.asarray(out).tobytes()


def at_offset(a, offset_items):
    """A C-contiguous copy of `a` whose data starts `offset_items` elements after a 64-byte line."""
    a = np.asarray(a)
    buf = np.empty(a.size + 64, a.dtype)
    base = (-buf.__array_interface__["data"][0] % 64) // a.itemsize
    view = buf[base + offset_items: base + offset_items + a.size].reshape(a.shape)
    view[...] = a
    assert view.flags.c_contiguous
    return view


def assert_alignment_independent(f, inputs, label):
    """``f(*inputs)`` gives the same bits with the float inputs at every element offset inside a
    64-byte line: reductions must not change association with the buffer's alignment."""
    floats = [np.issubdtype(np.asarray(a).dtype, np.floating) for a in inputs]
    step = 64 // max(np.asarray(a).itemsize for a, fl in zip(inputs, floats) if fl)
    ref = flat_bits(f(*[at_offset(a, 0) if fl else a for a, fl in zip(inputs, floats)]))
    for off in range(1, step):
        got = flat_bits(f(*[at_offset(a, off) if fl else a for a, fl in zip(inputs, floats)]))
        assert got == ref, f"{label}: result changed with the inputs at +{off} elements"


def assert_thread_identical(f, label, threads=(1, 2, 3)):
    """``f()`` gives the same bits for every thread count (restored afterwards)."""
    before = pyssl.get_num_threads()
    try:
        runs = []
        for t in threads:
            pyssl.set_num_threads(t)
            runs.append(flat_bits(f()))
    finally:
        pyssl.set_num_threads(before)
    for t, r in zip(threads[1:], runs[1:]):
        assert r == runs[0], f"{label}: {t} threads differ from {threads[0]}"


def assert_every_public_class_registered(module, base, registry, exclude=()):
    """Every subclass of ``base`` in ``module.__all__`` (but ``base`` and ``exclude``) is an entry of
    ``registry``: a new one that forgot its registration line fails here."""
    registered = {registry.get(n) for n in registry.names()}
    for name in module.__all__:
        obj = getattr(module, name)
        if isinstance(obj, type) and issubclass(obj, base) and obj is not base and obj not in exclude:
            assert obj in registered, f"{module.__name__}.{name} is not registered in its registry"
