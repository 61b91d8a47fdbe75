"""Data parallelism (pyssl.distributed).

The property that proves it: with the same seed, ``mpiexec -n 2`` with ``batch_size=B`` gives the
parameters one process gets with ``batch_size=2B`` (to float32 rounding), for every method whose
loss couples the rows of the batch, with synchronised BatchNorm, and the ranks stay identical bit
for bit. Without mpi4py / mpiexec those tests skip; CI installs the ``mpi`` extra so they run.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from pyssl import _core, distributed
from pyssl.distributed import ProcessGroup, combine_moments

WORKER = str(Path(__file__).with_name("mpi_worker.py"))


def _mpiexec():
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return None
    exe = shutil.which("mpiexec") or str(Path(sys.executable).with_name("mpiexec"))
    return exe if os.path.exists(exe) else None


MPIEXEC = _mpiexec()
if MPIEXEC is None and os.environ.get("PYSSL_REQUIRE_MPI"):
    raise RuntimeError("PYSSL_REQUIRE_MPI is set but mpi4py or mpiexec is missing: pip install '.[test]'")
needs_mpi = pytest.mark.skipif(MPIEXEC is None, reason="needs mpi4py and mpiexec: pip install 'pyssl[mpi]'")


def _env():
    env = dict(os.environ)
    env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", OMP_NUM_THREADS="1",
               PYTHONUNBUFFERED="1")
    for var in ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "PMIX_SIZE"):
        env.pop(var, None)
    return env


def _run(args, ranks=None, timeout=120):
    cmd = [sys.executable, WORKER, *map(str, args)]
    if ranks is not None:
        cmd = [MPIEXEC, "-n", str(ranks), "--oversubscribe", *cmd]
    return subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=timeout)


def _load(path):
    with np.load(path) as f:
        return {k: f[k] for k in f.files}


# -- without MPI ---------------------------------------------------------------------------------

def test_local_group_is_identity():
    g = ProcessGroup()
    assert (g.rank, g.world_size, g.is_main) == (0, 1, True)
    a = np.arange(12, dtype=np.float32).reshape(4, 3)
    out, rows = g.allgather_rows(a)
    assert out is a and rows == slice(0, 4)
    b = a.copy()
    assert g.allreduce_sum_(b) is b and np.array_equal(b, a)
    assert g.local_rows(a) is a
    g.barrier()
    g.check_same([1, 2, 3], "anything")
    assert g.global_loss(lambda x: (float(x.sum()), 2 * x), a)[0] == float(a.sum())


def test_init_without_launcher_is_one_process(monkeypatch):
    for var in distributed._LAUNCHER_SIZE_VARS + ("PMIX_RANK", "OMPI_COMM_WORLD_RANK"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(distributed, "_WORLD", None)
    g = distributed.init()
    assert g.world_size == 1 and distributed.world_size() == 1 and distributed.rank() == 0
    assert distributed.is_main()
    distributed.barrier()


def test_launched_without_mpi4py_raises(monkeypatch):
    monkeypatch.setenv("OMPI_COMM_WORLD_SIZE", "4")
    monkeypatch.setattr(distributed, "_WORLD", None)
    monkeypatch.setitem(sys.modules, "mpi4py", None)
    with pytest.raises(ImportError, match=r"pyssl\[mpi\]"):
        distributed.init()
    monkeypatch.setattr(distributed, "_WORLD", None)


def test_resolve_and_bad_arguments():
    assert distributed.resolve(False).world_size == 1
    g = ProcessGroup()
    assert distributed.resolve(g) is g
    with pytest.raises(TypeError, match="distributed must be"):
        distributed.resolve("yes")
    with pytest.raises(ValueError, match="timeout"):
        ProcessGroup(timeout=0)


@given(n=st.integers(0, 500), world=st.integers(1, 9))
def test_shards_tile_the_batch(n, world):
    parts = []
    for r in range(world):
        g = ProcessGroup()
        g.rank, g.world_size = r, world
        parts.append(g.shard(n))
    sizes = [s.stop - s.start for s in parts]
    assert parts[0].start == 0 and parts[-1].stop == n
    assert all(a.stop == b.start for a, b in zip(parts, parts[1:]))
    assert max(sizes) - min(sizes) <= 1


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(st.integers(0, 7), min_size=1, max_size=5).filter(lambda r: sum(r) >= 2),
       d=st.integers(1, 6), seed=st.integers(0, 2**31), scale=st.sampled_from([1e-3, 1.0, 1e3]),
       shift=st.sampled_from([0.0, 5.0, -1e3]))
def test_combine_moments_matches_numpy(rows, d, seed, scale, shift):
    x = np.random.default_rng(seed).standard_normal((sum(rows), d)) * scale + shift
    stats, lo = [], 0
    for r in rows:
        part = x[lo:lo + r]
        lo += r
        if r:
            mean, m2 = _core.nn.batch_norm_moments(part)
        else:
            mean, m2 = np.zeros(d), np.zeros(d)
        stats.append(np.concatenate([[r], mean, m2]))
    n, mean, var = combine_moments(np.array(stats))
    assert n == x.shape[0]
    np.testing.assert_allclose(mean, x.mean(0), rtol=1e-12, atol=1e-12 * (abs(shift) + scale))
    np.testing.assert_allclose(var, x.var(0), rtol=1e-9, atol=1e-12 * scale**2)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_batch_norm_with_given_statistics_equals_batch_statistics(dtype):
    """The synchronised path's kernels, given the statistics and sums of the whole batch, compute
    what the plain kernels compute on it."""
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((9, 5)) * 3 + 1).astype(dtype)
    dy = rng.standard_normal((9, 5)).astype(dtype)
    w, b = (rng.random(5) + 0.5).astype(dtype), rng.standard_normal(5).astype(dtype)
    rm0, rv0 = np.zeros(5, dtype), np.ones(5, dtype)
    rm1, rv1 = rm0.copy(), rv0.copy()
    y0, m0, r0 = _core.nn.batch_norm_forward(x, w, b, rm0, rv0, training=True, momentum=0.3)
    mean, m2 = _core.nn.batch_norm_moments(x)
    y1, m1, r1 = _core.nn.batch_norm_forward(x, w, b, rm1, rv1, training=True, momentum=0.3, given_mean=mean,
                                             given_var=m2 / 9, given_count=9)
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    for a, c in ((y0, y1), (m0, m1), (r0, r1), (rm0, rm1), (rv0, rv1)):
        np.testing.assert_allclose(a, c, **tol)
    s2, s1 = np.empty(5, dtype), np.empty(5, dtype)
    _core.nn.batch_norm_backward(x, m0, r0, dy, w, s2, s1, accumulate=False, need_dx=False)
    gw0, gb0, gw1, gb1 = (np.zeros(5, dtype) for _ in range(4))
    dx0 = _core.nn.batch_norm_backward(x, m0, r0, dy, w, gw0, gb0, accumulate=False)
    dx1 = _core.nn.batch_norm_backward(x, m0, r0, dy, w, gw1, gb1, accumulate=False,
                                       given_sums=np.concatenate([s1, s2]).astype(np.float64), given_count=9)
    np.testing.assert_allclose(dx0, dx1, **tol)
    assert np.array_equal(gw0, gw1) and np.array_equal(gb0, gb1)


def test_batch_norm_given_statistics_are_checked():
    x = np.ones((4, 3), np.float32)
    with pytest.raises(ValueError, match="given_count"):
        _core.nn.batch_norm_forward(x, given_mean=np.zeros(3), given_var=np.ones(3), given_count=1)
    with pytest.raises(ValueError, match="given_mean and given_var"):
        _core.nn.batch_norm_forward(x, given_mean=np.zeros(3))
    with pytest.raises(ValueError, match="given_var"):
        _core.nn.batch_norm_forward(x, given_mean=np.zeros(3), given_var=np.ones(2), given_count=4)
    with pytest.raises(ValueError, match="training mode"):
        _core.nn.batch_norm_forward(x, running_mean=np.zeros(3, np.float32), running_var=np.ones(3, np.float32),
                                    training=False, given_mean=np.zeros(3), given_var=np.ones(3), given_count=4)
    with pytest.raises(ValueError, match="given_sums"):
        _core.nn.batch_norm_backward(x, np.zeros(3, np.float32), np.ones(3, np.float32), x,
                                     given_sums=np.zeros(3), given_count=4)


# -- under mpiexec ---------------------------------------------------------------------------------

EQUIVALENT = ["simclr", "barlow_twins", "vicreg", "byol", "simsiam", "moco", "swav", "dino", "masked", "vime",
              "finetune", "supcon", "sklearn"]


@needs_mpi
@pytest.mark.parametrize("method", EQUIVALENT)
def test_two_ranks_equal_one_process_with_twice_the_batch(method, tmp_path):
    """2 ranks × B = 1 process × 2B after 4 SGD-momentum steps (2 epochs of 64 rows), with
    synchronised BatchNorm: every parameter, buffer (BatchNorm running statistics, MoCo's queue,
    DINO's center) and the per-epoch loss agree to 2e-6 relative to the array's largest entry
    (float32 rounding of sums taken in another order), and the ranks agree bit for bit.

    SGD, because Adam turns the rounding noise of gradients that are zero in exact arithmetic (a
    bias followed by BatchNorm) into ±lr steps — in one process at another thread count as much as
    across ranks."""
    single = _run([method, 32, 2, tmp_path / "single"])
    assert single.returncode == 0, single.stderr
    dist = _run([method, 16, 2, tmp_path / "dist"], ranks=2)
    assert dist.returncode == 0, dist.stdout + dist.stderr
    ref = _load(tmp_path / "single" / "rank0.npz")
    r0, r1 = _load(tmp_path / "dist" / "rank0.npz"), _load(tmp_path / "dist" / "rank1.npz")
    assert ref.keys() == r0.keys() == r1.keys()
    for k in ref:
        assert np.array_equal(r0[k], r1[k]), f"{k} differs between the ranks"
        if k.startswith("rank_only."):
            continue
        scale = max(float(np.abs(ref[k]).max()), 1e-6) if ref[k].size else 1.0
        err = float(np.abs(r0[k].astype(np.float64) - ref[k]).max()) / scale if ref[k].size else 0.0
        assert err < 2e-6, f"{method}: {k} differs from the single-process run by {err:.2e} (relative)"


@needs_mpi
def test_progress_bar_on_rank_zero_only(tmp_path):
    script = tmp_path / "bar.py"
    script.write_text(
        "import numpy as np, pyssl\n"
        "from pyssl import methods, nn\n"
        "X = np.random.default_rng(0).standard_normal((32, 4)).astype(np.float32)\n"
        "pyssl.pretrain(methods.SimCLR(nn.MLP([4, 8])), X, epochs=2, batch_size=8, progress=True)\n")
    res = subprocess.run([MPIEXEC, "-n", "2", "--oversubscribe", "--tag-output", sys.executable, str(script)],
                         env=_env(), capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    out = res.stdout + res.stderr
    assert "[1,0]<stderr>" in out and "SimCLR" in out
    assert not any("SimCLR" in line for line in out.splitlines() if line.startswith("[1,1]"))


@needs_mpi
def test_per_rank_batch_norm_is_not_equivalent(tmp_path):
    """The equivalence test has teeth: with per-rank BatchNorm statistics the runs differ."""
    single = _run(["simclr", 32, 1, tmp_path / "single"])
    dist = _run(["simclr", 16, 1, tmp_path / "dist", "--sync-bn", 0], ranks=2)
    assert single.returncode == 0 and dist.returncode == 0, dist.stderr
    ref, r0 = _load(tmp_path / "single" / "rank0.npz"), _load(tmp_path / "dist" / "rank0.npz")
    assert max(float(np.abs(ref[k] - r0[k]).max()) for k in ref) > 1e-4


@needs_mpi
def test_a_rank_that_dies_ends_the_job(tmp_path):
    res = _run(["simclr", 16, 3, tmp_path, "--die-rank", 1], ranks=2, timeout=60)
    assert res.returncode != 0
    assert not (tmp_path / "rank0.npz").exists()


@needs_mpi
def test_a_rank_that_stalls_times_out_with_a_clear_error(tmp_path):
    res = _run(["simclr", 16, 3, tmp_path, "--stall-rank", 1, "--timeout", 3], ranks=2, timeout=60)
    assert res.returncode != 0
    assert "waited 3 s for the collective" in res.stderr and "another rank has died, stalled" in res.stderr


@needs_mpi
def test_ranks_with_different_data_are_refused(tmp_path):
    script = tmp_path / "bad.py"
    script.write_text(
        "import numpy as np, pyssl\n"
        "from pyssl import distributed, methods, nn\n"
        "g = distributed.init()\n"
        "X = np.random.default_rng(g.rank).standard_normal((32, 4)).astype(np.float32)\n"
        "try:\n"
        "    pyssl.pretrain(methods.SimCLR(nn.MLP([4, 8])), X, epochs=1, batch_size=8)\n"
        "except ValueError as e:\n"
        "    print('REFUSED', e)\n")
    res = subprocess.run([MPIEXEC, "-n", "2", "--oversubscribe", sys.executable, str(script)], env=_env(),
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.count("REFUSED") == 2 and "differs between ranks" in res.stdout


@needs_mpi
def test_checkpoint_written_by_rank_zero_and_resumed_by_all(tmp_path):
    ck = tmp_path / "ck.pyssl"
    script = tmp_path / "resume.py"
    script.write_text(
        "import sys, numpy as np, pyssl\n"
        "from pyssl import distributed, methods, nn\n"
        "pyssl.set_num_threads(1)\n"
        "g = distributed.init()\n"
        "X = np.random.default_rng(0).standard_normal((48, 6)).astype(np.float32)\n"
        "def run(epochs, resume=None, stop_after=None):\n"
        "    m = methods.SimCLR(nn.MLP([6, 16, 8], norm='batch', seed=1), projection_dim=4)\n"
        "    cb = [lambda e, h, m: 'stop' if e == stop_after else None]\n"
        f"    pyssl.pretrain(m, X, epochs=epochs, batch_size=8, checkpoint={str(ck)!r}, resume=resume, callbacks=cb)\n"
        "    return m\n"
        "full = run(4)\n"
        "run(4, stop_after=1)\n"
        f"again = run(4, resume={str(ck)!r})\n"
        "same = all(np.array_equal(a, b) for a, b in zip(full.state_dict().values(), again.state_dict().values()))\n"
        "print('RANK', g.rank, 'SAME', same)\n")
    res = subprocess.run([MPIEXEC, "-n", "2", "--oversubscribe", sys.executable, str(script)], env=_env(),
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert "RANK 0 SAME True" in res.stdout and "RANK 1 SAME True" in res.stdout
    assert ck.exists() and not list(tmp_path.glob("*.tmp*"))


# -- the sharded contrastive kernel (no MPI needed: shards are simulated in one process) --------

def _shard_parts(zhat, labels, shards, tau):
    total_loss = total_count = 0.0
    dz = np.zeros_like(zhat)
    for anchors in shards:
        loss_sum, count, part = _core.losses.sup_con_shard(zhat, labels, np.asarray(anchors, np.int64), tau)
        total_loss += loss_sum
        total_count += count
        dz += part
    return total_loss / total_count, dz / (tau * total_count)


@settings(max_examples=40, deadline=None)
@given(r=st.integers(2, 24), d=st.integers(1, 9), n_labels=st.integers(1, 8), n_shards=st.integers(1, 4),
       tau=st.sampled_from([0.05, 0.3, 1.0]), seed=st.integers(0, 2**31))
def test_sup_con_shards_add_up_to_the_full_loss(r, d, n_labels, n_shards, tau, seed):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((r, d))
    zhat = z / np.linalg.norm(z, axis=1, keepdims=True)
    labels = rng.integers(0, n_labels, r).astype(np.int64)
    if np.bincount(labels).max() < 2:
        labels[1] = labels[0]
    cuts = np.sort(rng.integers(0, r + 1, n_shards - 1))
    shards = np.split(rng.permutation(r), cuts)
    loss, dzhat = _shard_parts(zhat, labels, shards, tau)
    from pyssl.losses import sup_con

    ref_loss, ref_dz = sup_con(zhat, labels, tau)  # through the normalisation at |z| = 1
    assert np.isclose(loss, ref_loss, rtol=1e-10, atol=1e-12)
    projected = dzhat - zhat * np.sum(zhat * dzhat, axis=1, keepdims=True)
    np.testing.assert_allclose(projected, ref_dz, rtol=1e-8, atol=1e-10)


@settings(max_examples=20, deadline=None)
@given(r=st.integers(3, 12), d=st.integers(1, 6), seed=st.integers(0, 2**31))
def test_sup_con_shard_gradient_finite_differences(r, d, seed):
    """float64 central differences of the kernel's loss in its input rows (taken as given)."""
    rng = np.random.default_rng(seed)
    zhat = rng.standard_normal((r, d)) * 0.5
    labels = (np.arange(r) % max(r // 2, 1)).astype(np.int64)
    shards = [np.arange(0, r // 2), np.arange(r // 2, r)]
    _, grad = _shard_parts(zhat, labels, shards, 0.4)
    eps = 1e-6
    num = np.zeros_like(zhat)
    for idx in np.ndindex(*zhat.shape):
        zp, zm = zhat.copy(), zhat.copy()
        zp[idx] += eps
        zm[idx] -= eps
        num[idx] = (_shard_parts(zp, labels, shards, 0.4)[0] - _shard_parts(zm, labels, shards, 0.4)[0]) / (2 * eps)
    np.testing.assert_allclose(grad, num, rtol=1e-5, atol=1e-7)


def test_sup_con_shard_bad_inputs():
    zhat = np.ones((4, 3), np.float32)
    labels = np.zeros(4, np.int64)
    with pytest.raises(ValueError, match="out of range"):
        _core.losses.sup_con_shard(zhat, labels, np.array([0, 7], np.int64), 0.1)
    with pytest.raises(ValueError, match="labels"):
        _core.losses.sup_con_shard(zhat, labels[:3], np.array([0], np.int64), 0.1)
    with pytest.raises(TypeError, match="anchors"):
        _core.losses.sup_con_shard(zhat, labels, np.array([0.0]), 0.1)
    with pytest.raises(ValueError, match="temperature"):
        _core.losses.sup_con_shard(zhat, labels, np.array([0], np.int64), 0.0)
