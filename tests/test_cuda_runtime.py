"""pyssl.cuda without a GPU: import, availability, clear errors, argument validation, and the
device Philox header (host build) against an independent numpy Philox4x32-10 written from
Salmon et al. (SC'11). These run everywhere; GPU parity is in test_cuda_parity.py."""
import ctypes.util

import numpy as np
import pytest

import pyssl
import pyssl.cuda as cuda
from pyssl import _core

needs_compiled = pytest.mark.skipif(not cuda.compiled, reason="pyssl built without CUDA")
no_gpu = pytest.mark.skipif(cuda.is_available(), reason="a CUDA device is present")


# ---- independent Philox4x32-10 (numpy, uint64 arithmetic) -------------------------------------

M0, M1 = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57)
W0, W1 = np.uint64(0x9E3779B9), np.uint64(0xBB67AE85)
MASK = np.uint64(0xFFFFFFFF)


def philox_numpy(counter_lo, counter_hi, key):
    """Philox4x32-10 on arrays of 64-bit counters (little-endian word order), one key."""
    counter_lo = np.asarray(counter_lo, dtype=np.uint64)
    c0, c1 = counter_lo & MASK, counter_lo >> np.uint64(32)
    hi = np.uint64(counter_hi)
    c2 = np.full_like(c0, hi & MASK)
    c3 = np.full_like(c0, hi >> np.uint64(32))
    k0, k1 = np.uint64(key) & MASK, np.uint64(key) >> np.uint64(32)
    for _ in range(10):
        p0, p1 = M0 * c0, M1 * c2
        hi0, lo0 = p0 >> np.uint64(32), p0 & MASK
        hi1, lo1 = p1 >> np.uint64(32), p1 & MASK
        c0, c1, c2, c3 = hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0
        k0, k1 = (k0 + W0) & MASK, (k1 + W1) & MASK
    return np.stack([c0, c1, c2, c3], axis=-1).astype(np.uint32)


def stream_bits_numpy(seed, stream, n):
    """Word i of Stream(seed, stream): word i % 4 of block i // 4 (counter = (i // 4, stream))."""
    nblocks = (n + 3) // 4
    return philox_numpy(np.arange(nblocks, dtype=np.uint64), stream, seed).reshape(-1)[:n]


def feature_mask_numpy(x, p, seed, stream):
    """keep[i, j] = uniform24(bits(i·D + j)) >= p."""
    bits = stream_bits_numpy(seed, stream, x.size).reshape(x.shape)
    u = (bits >> 8).astype(np.float32) * np.float32(1.0 / 16777216.0)
    keep = u >= np.float32(p)
    return np.where(keep, x, 0).astype(np.float32), keep.astype(np.float32)


def test_philox_known_answer():
    # Random123 known-answer vectors for philox4x32-10 (kat_vectors): counter 0, key 0, and
    # counter = key = all ones.
    out = philox_numpy([0], 0, 0)[0]
    assert list(out) == [0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8]
    ones = np.uint64(0xFFFFFFFFFFFFFFFF)
    out = philox_numpy([ones], ones, 0xFFFFFFFFFFFFFFFF)[0]
    assert list(out) == [0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD]


@needs_compiled
@pytest.mark.parametrize("seed,stream", [(0, 0), (12345, 7), (2**64 - 1, 2**63 + 5)])
def test_device_philox_header_matches_cpu_and_numpy(seed, stream):
    n = 1031
    dev = _core.cuda.philox_bits(seed, stream, n, True)
    cpu = _core.cuda.philox_bits(seed, stream, n, False)
    ref = stream_bits_numpy(seed, stream, n)
    np.testing.assert_array_equal(dev, cpu)
    np.testing.assert_array_equal(cpu, ref)


# ---- availability and errors ------------------------------------------------------------------

def test_module_imports_and_reports():
    assert isinstance(cuda.compiled, bool)
    assert cuda.compiled == bool(_core.cuda.compiled)
    assert isinstance(cuda.is_available(), bool)
    assert cuda.device_count() >= 0
    assert cuda.is_available() == (cuda.device_count() > 0 and cuda.compiled)
    assert pyssl._core.built_with_cuda == cuda.compiled


@pytest.mark.skipif(ctypes.util.find_library("cuda") is not None, reason="a CUDA driver library is installed")
def test_not_available_without_driver():
    assert cuda.is_available() is False
    assert cuda.device_count() == 0
    reason = cuda.unavailable_reason()
    assert reason  # says why
    if cuda.compiled:
        assert "driver" in reason.lower() or "device" in reason.lower()
    else:
        assert "without CUDA" in reason


ENTRY_POINTS = [
    ("to_device", lambda: cuda.to_device(np.ones((2, 2), np.float32))),
    ("empty", lambda: cuda.empty((2, 3))),
    ("zeros", lambda: cuda.zeros(4)),
    ("synchronize", lambda: cuda.synchronize()),
    ("load_cublas", lambda: cuda.load_cublas()),
    ("matmul", lambda: cuda.matmul(None, None)),
    ("dense_forward", lambda: cuda.dense_forward(None, None)),
    ("dense_backward", lambda: cuda.dense_backward(None, None, None, None)),
    ("column_sum", lambda: cuda.column_sum(None)),
    ("relu", lambda: cuda.relu(None)),
    ("gelu", lambda: cuda.gelu(None)),
    ("activation_backward", lambda: cuda.activation_backward(None, None, "relu")),
    ("sgd_momentum_", lambda: cuda.sgd_momentum_(None, None, None, 0.1)),
    ("adam_", lambda: cuda.adam_(None, None, None, None, 1)),
    ("ema_", lambda: cuda.ema_(None, None, 0.99)),
    ("nt_xent", lambda: cuda.nt_xent(None, 0.5)),
    ("feature_mask", lambda: cuda.feature_mask(None, 0.5, 0)),
    ("SimCLRStep", lambda: cuda.SimCLRStep((8, 16, 16), (16, 8, 4))),
]


@no_gpu
@pytest.mark.parametrize("name,call", ENTRY_POINTS, ids=[n for n, _ in ENTRY_POINTS])
def test_entry_points_raise_clear_runtime_error(name, call):
    with pytest.raises(RuntimeError, match=r"pyssl.cuda is not available: .+is_available"):
        call()


@no_gpu
@needs_compiled
def test_core_calls_raise_runtime_error_not_crash():
    # The private bindings refuse too (no segfault when called directly).
    with pytest.raises(RuntimeError, match="no usable CUDA device"):
        _core.cuda.from_numpy(np.ones(3, np.float32))
    with pytest.raises(RuntimeError, match="no usable CUDA device"):
        _core.cuda.zeros([2])
    with pytest.raises(RuntimeError, match="no usable CUDA device"):
        _core.cuda.device_name(0)


@needs_compiled
def test_tf32_flag_round_trip():
    before = cuda.get_tf32()
    assert before is False  # off unless asked
    try:
        cuda.set_tf32(True)
        assert cuda.get_tf32() is True
    finally:
        cuda.set_tf32(False)
    assert cuda.get_tf32() is False
    with pytest.raises(TypeError, match="bool"):
        cuda.set_tf32(1)


# ---- validation that needs no device ----------------------------------------------------------

class FakeCAI:
    def __init__(self, **kw):
        d = {"shape": (4, 3), "typestr": "<f4", "data": (1 << 20, False), "version": 3, "strides": None}
        d.update(kw)
        self.__cuda_array_interface__ = d


def test_as_device_rejects_numpy_with_fix():
    with pytest.raises(TypeError, match="to_device"):
        cuda.as_device(np.ones(3, np.float32))


def test_as_device_rejects_objects_without_interface():
    with pytest.raises(TypeError, match="__cuda_array_interface__"):
        cuda.as_device([1.0, 2.0])


@pytest.mark.parametrize("kw,exc,match", [
    ({"typestr": "<f8"}, TypeError, "float32"),
    ({"typestr": "<i4"}, TypeError, "float32"),
    ({"strides": (4, 16)}, ValueError, "C-contiguous"),
    ({"mask": object()}, ValueError, "masked"),
    ({"data": (1 << 20, True)}, ValueError, "read-only"),
    ({"shape": (2, -1)}, ValueError, "non-negative"),
])
def test_as_device_validates_interface(kw, exc, match):
    with pytest.raises(exc, match=match):
        cuda.as_device(FakeCAI(**kw))


@no_gpu
def test_as_device_valid_interface_needs_device():
    # C-contiguous strides given explicitly are accepted; then the device is required.
    with pytest.raises(RuntimeError, match="not available"):
        cuda.as_device(FakeCAI(strides=(12, 4)))


@pytest.mark.parametrize("kw,exc,match", [
    ({"projector_dims": (8, 4)}, ValueError, "projector_dims\\[0\\]"),
    ({"encoder_dims": (16,)}, ValueError, "at least two"),
    ({"optimizer": "lamb"}, ValueError, "optimizer must be one of"),
    ({"temperature": 0.0}, ValueError, "temperature"),
    ({"lr": -1.0}, ValueError, "lr"),
    ({"betas": (0.9,)}, ValueError, "betas"),
])
def test_simclr_step_validates_before_touching_device(kw, exc, match):
    args = {"encoder_dims": (8, 16, 16), "projector_dims": (16, 8, 4)}
    args.update(kw)
    with pytest.raises(exc, match=match):
        cuda.SimCLRStep(**args)


def test_feature_mask_numpy_reference_statistics():
    # The reference used by the GPU parity test keeps ~(1 - p) of entries and is seeded.
    x = np.ones((64, 100), np.float32)
    out, keep = feature_mask_numpy(x, 0.3, seed=3, stream=1)
    assert abs(keep.mean() - 0.7) < 0.02
    np.testing.assert_array_equal(out, keep)
    out2, _ = feature_mask_numpy(x, 0.3, seed=3, stream=2)
    assert (out2 != out).any()


def test_cublas_search_order_starts_with_env(monkeypatch, tmp_path):
    lib = tmp_path / "libcublas.so.13"
    monkeypatch.setenv("PYSSL_CUBLAS", str(lib))
    assert cuda._cublas_candidates()[0] == str(lib)
    monkeypatch.delenv("PYSSL_CUBLAS")
    assert str(lib) not in cuda._cublas_candidates()


class DLPackOnly:
    """Exposes only the DLPack protocol of the wrapped array."""

    def __init__(self, a):
        self._a = a

    def __dlpack__(self, stream=None):
        return self._a.__dlpack__()

    def __dlpack_device__(self):
        return self._a.__dlpack_device__()


def test_as_device_dlpack_host_memory_rejected():
    with pytest.raises(TypeError, match="not in CUDA memory"):
        cuda.as_device(DLPackOnly(np.ones((2, 3), np.float32)))


@needs_compiled
def test_core_from_dlpack_checks_device_and_keeps_capsule_unused():
    cap = np.ones((2, 3), np.float32).__dlpack__()
    with pytest.raises(ValueError, match="not in CUDA memory"):
        _core.cuda.from_dlpack(cap)
    with pytest.raises(TypeError):
        _core.cuda.from_dlpack(object())  # not a capsule: pybind11 refuses the argument
