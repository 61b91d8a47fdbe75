"""pyssl: self-supervised learning with C++ kernels behind a thin Python API.

A pretext task P turns unlabeled x into inputs and pseudolabels z; an encoder h_θ and a
head k_γ are trained on z by gradient descent; θ* is then transferred with a new head g_φ
to a labeled downstream task (linear probe, kNN, fine-tuning).
"""
from __future__ import annotations

import os as _os

# Matrix products run on pyssl's OpenMP team (csrc/blas/gemm.cpp), so no second pool of ours
# competes with it. The team still goes to sleep soon after a kernel: a team that keeps spinning
# takes the cores of anything else that runs between steps (numpy's OpenBLAS, other processes on
# a loaded machine).
# The OpenBLAS timeout matters when PYSSL_GEMM_SPLIT=0 gives the products back to OpenBLAS's
# threads (see shared/notes/build_facts.md, §6.4). Both must be set before the libraries are
# loaded; users can override them. (When another package loaded libgomp first, its policy holds.)
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
_split_gemm = _os.environ.get("PYSSL_GEMM_SPLIT") != "0"
if _os.environ["OMP_WAIT_POLICY"].strip().upper() == "PASSIVE" and _split_gemm:
    # ...after a short spin (~0.1 ms): a training step's kernels follow each other within tens of
    # microseconds, and a team that is still spinning starts the next one without a wake-up.
    _os.environ.setdefault("GOMP_SPINCOUNT", "10000")
_os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")

import scipy_openblas32 as _scipy_openblas32  # noqa: E402,F401  (loads libscipy_openblas.so first)

try:
    from . import _core  # noqa: E402
except ImportError as _exc:
    _here = _os.path.dirname(_os.path.abspath(__file__))
    if not any(f.startswith("_core.") and f.endswith((".so", ".pyd")) for f in _os.listdir(_here)):
        raise ImportError(
            f"pyssl's compiled extension (_core) is not in {_here}: Python imported the source folder, "
            "which is what happens when the current directory is the repository root. Install pyssl "
            "(pip install .) and run from another folder (cd elsewhere), or use an editable install "
            "(see Build options in README.md)") from None
    raise
from ._validation import NonFiniteError  # noqa: E402,F401

__version__ = _core.__version__


def _int_at_least(value, name: str, low: int, high: int = 2**63 - 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < low:
        raise ValueError(f"{name} must be >= {low}, got {value}")
    if value > high:
        raise ValueError(f"{name} must be <= {high}, got {value}")
    return value


#: the most threads set_num_threads accepts (OpenMP and OpenBLAS take a C int; far above any machine)
MAX_THREADS = 1024


def set_num_threads(n: int) -> None:
    """Set the number of threads used by pyssl's OpenMP kernels and its matrix products (one
    knob for both: one thread pool).

    A large product is cut into contiguous slices of its output, one per OpenMP thread, each
    computed by a single-threaded OpenBLAS call (OpenBLAS's own thread pool is not used, so it
    cannot compete with the OpenMP team for the cores, whichever package loaded OpenMP first).
    ``PYSSL_GEMM_SPLIT=0`` in the environment before import hands the products back to
    OpenBLAS's threads.

    Random draws never depend on the thread count, pyssl's own reductions run in a fixed order,
    and a slice's entries are computed exactly as in the whole product, so results — whole
    training runs included — are bit-identical for every thread count with the pinned OpenBLAS
    (with ``PYSSL_GEMM_SPLIT=0`` they agree across thread counts only to rounding).

    ``n``: number of threads, >= 1.
    """
    _core.set_num_threads(_int_at_least(n, "n", 1, MAX_THREADS))


def get_num_threads() -> int:
    """Number of threads pyssl's kernels use (see :func:`set_num_threads`)."""
    return _core.get_num_threads()


def buffer_cache_info() -> dict:
    """State of the cache of freed output buffers: ``cached_bytes``, ``cached_blocks``,
    ``limit_bytes``, and ``hits`` / ``misses`` counted over requests of at least 64 KiB.

    Every array a pyssl kernel returns is allocated from this cache, and its memory returns to
    it when the array is freed, so a loop that produces the same shapes each step reuses memory
    that is already mapped instead of having fresh pages faulted in (measured by
    ``benchmarks/bench_buffer_cache.py``: 540 page faults per call for 48 MiB outputs without the
    cache, none with it; ``hflip`` 3.7× faster).
    """
    return dict(_core.buffer_cache_info())


def set_buffer_cache_limit(nbytes: int) -> None:
    """Most bytes of freed buffers the cache keeps (default 1 GiB, or ``PYSSL_BUFFER_CACHE_MB``
    in the environment at import); 0 turns caching off. Empties the cache.

    ``nbytes``: largest total size in bytes the cache keeps (0 disables it).
    """
    _core.set_buffer_cache_limit(_int_at_least(nbytes, "nbytes", 0))


def empty_buffer_cache() -> None:
    """Return every cached (freed) buffer to the system. Live arrays are not affected."""
    _core.empty_buffer_cache()


from . import nn, optim, losses, pretext, methods, transfer, theory, data  # noqa: E402
from .train import pretrain, History  # noqa: E402
from .nn.init import manual_seed  # noqa: E402
from .pretrained import load_encoder  # noqa: E402
from ._log import log  # noqa: E402
from . import callbacks, distributed, export  # noqa: E402
from . import tables  # noqa: E402  (mixed-type DataFrames; pandas imported only when one is used)

__all__ = ["__version__", "set_num_threads", "get_num_threads", "buffer_cache_info", "set_buffer_cache_limit",
           "empty_buffer_cache", "manual_seed", "pretrain", "load_encoder", "History", "NonFiniteError", "nn",
           "optim", "losses", "pretext", "methods", "transfer", "theory", "data", "log", "callbacks", "export",
           "distributed"]
__all__ += ["tables"]
