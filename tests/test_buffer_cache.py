"""The cache of freed output buffers (csrc/memory/buffer_cache.cpp): freed arrays' memory is
reused for the next output of the same size class, live arrays are never handed out twice, and
the limit bounds what is kept."""
import gc

import numpy as np
import pytest

import pyssl
import pyssl.pretext as P

KIB = 1024


@pytest.fixture
def fresh_cache():
    info = pyssl.buffer_cache_info()
    pyssl.empty_buffer_cache()
    yield
    pyssl.set_buffer_cache_limit(info["limit_bytes"])


def addr(a):
    return a.__array_interface__["data"][0]


def test_freed_output_memory_is_reused(fresh_cache):
    x = np.ones((64, 1024), np.float32)  # 256 KiB outputs
    a = P.gaussian_noise(x, 0.1, 0)
    p = addr(a)
    del a
    gc.collect()
    info = pyssl.buffer_cache_info()
    assert info["cached_blocks"] >= 1 and info["cached_bytes"] >= 256 * KIB
    hits = info["hits"]
    b = P.gaussian_noise(x, 0.1, 0)
    assert addr(b) == p
    assert pyssl.buffer_cache_info()["hits"] == hits + 1
    assert addr(b) % 64 == 0 and b.flags.writeable and b.flags.c_contiguous


def test_live_arrays_never_share_memory_and_keep_their_values(fresh_cache):
    x = np.random.default_rng(0).random((32, 2048)).astype(np.float32)
    outs = [P.gaussian_noise(x, 0.1, s) for s in range(6)]
    assert len({addr(o) for o in outs}) == 6
    ref = [o.copy() for o in outs]
    del outs[::2]
    more = [P.gaussian_noise(x, 0.1, 100 + s) for s in range(3)]  # reuse the freed blocks
    for o, r in zip(outs, ref[1::2]):
        np.testing.assert_array_equal(o, r)
    for s, o in enumerate(more):
        np.testing.assert_array_equal(o, P.gaussian_noise(x, 0.1, 100 + s))


def test_reused_memory_gives_the_same_results(fresh_cache):
    x = np.random.default_rng(1).random((16, 3, 32, 32)).astype(np.float32)
    first = [a.copy() for a in P.scarf_corrupt(x, x, 0.3, 5)]
    for _ in range(3):  # outputs land in recycled, dirty blocks
        again = P.scarf_corrupt(x, x, 0.3, 5)
        for u, v in zip(first, again):
            assert u.tobytes() == v.tobytes()


def test_limit_zero_disables_and_limit_bounds_the_cache(fresh_cache):
    x = np.ones((64, 1024), np.float32)
    pyssl.set_buffer_cache_limit(0)
    P.gaussian_noise(x, 0.1, 0)
    gc.collect()
    assert pyssl.buffer_cache_info()["cached_bytes"] == 0
    pyssl.set_buffer_cache_limit(300 * KIB)  # room for one 256 KiB block, not two
    a, b = P.gaussian_noise(x, 0.1, 0), P.gaussian_noise(x, 0.1, 1)
    del a, b
    gc.collect()
    info = pyssl.buffer_cache_info()
    assert info["cached_blocks"] == 1 and info["cached_bytes"] <= info["limit_bytes"] == 300 * KIB
    pyssl.empty_buffer_cache()
    assert pyssl.buffer_cache_info()["cached_bytes"] == 0


def test_small_outputs_are_not_cached(fresh_cache):
    P.gaussian_noise(np.ones((4, 8), np.float32), 0.1, 0)
    gc.collect()
    assert pyssl.buffer_cache_info()["cached_blocks"] == 0


@pytest.mark.parametrize("bad,err", [(-1, ValueError), (1.5, TypeError), (True, TypeError)])
def test_bad_limits_raise(bad, err):
    with pytest.raises(err):
        pyssl.set_buffer_cache_limit(bad)


def test_concurrent_python_threads(fresh_cache):
    """Kernels release the GIL; outputs allocated and freed from several threads at once must
    stay distinct and correct."""
    from concurrent.futures import ThreadPoolExecutor

    x = np.random.default_rng(2).random((32, 4096)).astype(np.float32)  # 512 KiB outputs
    want = {s: P.gaussian_noise(x, 0.1, s).tobytes() for s in range(8)}

    def work(s):
        for _ in range(20):
            out = P.gaussian_noise(x, 0.1, s)
            if out.tobytes() != want[s]:
                return False
        return True

    with ThreadPoolExecutor(4) as pool:
        assert all(pool.map(work, range(8)))
    assert pyssl.buffer_cache_info()["hits"] > 0
