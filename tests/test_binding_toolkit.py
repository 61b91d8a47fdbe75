"""The binding toolkit (csrc/python/bind_toolkit.hpp) as the extension shows it: integer arrays
are accepted by dtype equivalence (an unpickled or re-built int64 dtype is a different object from
numpy's canonical one) and refused by name otherwise; one float32/float64 dispatch names the
argument it inspects; kernel workspaces come from the buffer cache (csrc/memory), not from a fresh
allocation per call."""

from __future__ import annotations

import gc
import pickle

import numpy as np
import pytest

import pyssl
from pyssl import _core

KIB = 1024


def _equal_but_distinct_int64(values) -> list[np.ndarray]:
    a = np.asarray(values, dtype=np.int64)
    variants = [pickle.loads(pickle.dumps(a)), a.astype(np.dtype(np.int64).newbyteorder("="))]
    for v in variants:  # the premise: these dtypes equal int64 but are not numpy's canonical object
        assert v.dtype == np.int64 and v.dtype is not np.dtype(np.int64)
    return variants


def test_int64_arrays_pass_by_dtype_equivalence():
    rng = np.random.default_rng(0)
    z = rng.standard_normal((6, 3))
    for labels in _equal_but_distinct_int64([0, 1, 0, 1, 2, 2]):
        loss, _ = _core.losses.sup_con(z, labels, 0.5)
        assert loss == _core.losses.sup_con(z, np.array([0, 1, 0, 1, 2, 2]), 0.5)[0]
        ce, _ = _core.nn.cross_entropy(z, labels % 3)
        assert np.isfinite(ce)
    for offsets in _equal_but_distinct_int64([0, 4, 10]):
        assert _core.optim.FlatLayout(offsets).size == 10
    images = rng.standard_normal((2, 1, 3, 3)).astype(np.float32)
    for flags in _equal_but_distinct_int64([1, 0]):
        np.testing.assert_array_equal(_core.augment.hflip(images, flags)[0], images[0, :, :, ::-1])


@pytest.mark.parametrize("dtype", [np.int32, np.float64, np.dtype(">i8")])
def test_other_integer_dtypes_are_refused_by_name(dtype):
    z = np.ones((4, 2))
    labels = np.array([0, 1, 0, 1]).astype(dtype)
    with pytest.raises(TypeError, match=r"labels must have dtype int64, got shape \(4,\)"):
        _core.losses.sup_con(z, labels, 0.5)
    with pytest.raises(TypeError, match=r"offsets must have dtype int64"):
        _core.optim.FlatLayout(np.array([0, 4]).astype(dtype))


def test_float_dispatch_names_the_argument_and_the_partner_must_match():
    z16 = np.ones((4, 2), np.float16)
    with pytest.raises(TypeError, match=r"z1 must be float32 or float64, got shape \(4, 2\), dtype float16"):
        _core.losses.nt_xent(z16, z16, 0.5)
    with pytest.raises(TypeError, match=r"grad_output must be float32 or float64"):
        _core.nn.dropout_backward(np.ones(3, np.int64), np.ones(3, np.uint8), 0.5)
    z = np.ones((4, 2), np.float32)
    with pytest.raises(TypeError, match=r"z2 must have dtype float32, got shape \(4, 2\), dtype float64"):
        _core.losses.nt_xent(z, z.astype(np.float64), 0.5)
    with pytest.raises(ValueError, match=r"z2 \(must match z1\) must have shape \(4, 2\), got shape \(4, 3\)"):
        _core.losses.nt_xent(z, np.ones((4, 3), np.float32), 0.5)


@pytest.fixture
def fresh_cache():
    info = pyssl.buffer_cache_info()
    pyssl.empty_buffer_cache()
    yield
    pyssl.set_buffer_cache_limit(info["limit_bytes"])


@pytest.mark.parametrize("call, outputs", [
    # (N, D) = (256, 128) float32: outputs 128 KiB each, workspace > 1 MiB (the 512 x 512 similarities)
    (lambda z1, z2: _core.losses.nt_xent(z1, z2, 0.5), 2),
    (lambda z1, z2: _core.losses.vicreg(z1, z2, 25.0, 25.0, 1.0, 1e-4), 2),
    (lambda z1, z2: _core.losses.barlow_twins(z1, z2, 5e-3, 1.0, 1e-5), 2),
    (lambda z1, z2: _core.losses.swav(z1, z2, 0.1, 0.05, 3), 2),
])
def test_loss_workspaces_come_from_the_buffer_cache(fresh_cache, call, outputs):
    rng = np.random.default_rng(1)
    z1, z2 = (rng.standard_normal((256, 128)).astype(np.float32) for _ in range(2))
    call(z1, z2)  # warm: outputs and workspace are cached when freed
    gc.collect()
    before = pyssl.buffer_cache_info()
    for _ in range(3):
        out = call(z1, z2)
        del out
        gc.collect()
    after = pyssl.buffer_cache_info()
    assert after["misses"] == before["misses"]
    # every output and the one workspace block of each call were served by the cache
    assert after["hits"] - before["hits"] == 3 * (outputs + 1)


def test_conv2d_input_grad_scratch_is_one_cached_workspace(fresh_cache):
    # dx plus one workspace block (dytmp and dcols carved from it by the kernel), both cached
    rng = np.random.default_rng(2)
    w = rng.standard_normal((32, 16, 3, 3)).astype(np.float32)
    dy = rng.standard_normal((8, 32, 16, 16)).astype(np.float32)
    x_shape = [8, 16, 16, 16]
    first = _core.nn.conv2d_input_grad(w, dy, x_shape, padding=(1, 1)).copy()  # warm; copy frees dx
    gc.collect()
    before = pyssl.buffer_cache_info()
    for _ in range(3):
        dx = _core.nn.conv2d_input_grad(w, dy, x_shape, padding=(1, 1))
        np.testing.assert_array_equal(dx, first)
        del dx
        gc.collect()
    after = pyssl.buffer_cache_info()
    assert after["misses"] == before["misses"]
    assert after["hits"] - before["hits"] == 3 * 2
