"""pyssl: self-supervised learning with C++ kernels behind a thin Python API.

A pretext task P turns unlabeled x into inputs and pseudolabels z; an encoder h_θ and a
head k_γ are trained on z by gradient descent; θ* is then transferred with a new head g_φ
to a labeled downstream task (linear probe, kNN, fine-tuning).
"""
from __future__ import annotations

import os as _os

# Both thread pools (our libgomp and OpenBLAS's pthreads) spin after a call by default; on a
# small machine the idle spinner steals the core the other pool needs, and a training step that
# alternates BLAS and OpenMP kernels runs several times slower (see shared/notes/build_facts.md,
# §6.4). These must be set before either library is loaded; users can override them.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
_os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")

import scipy_openblas32 as _scipy_openblas32  # noqa: E402,F401  (loads libscipy_openblas.so first)

from . import _core  # noqa: E402

__version__ = _core.__version__


def set_num_threads(n: int) -> None:
    """Set the number of threads used by pyssl's OpenMP kernels and its BLAS (one knob for both).

    Random draws never depend on the thread count. Results of kernels that only use pyssl's own
    reductions are bit-identical for every thread count; OpenBLAS's GEMM rounds differently with
    different thread counts for small and medium shapes, so whole training runs agree across
    thread counts only to rounding (they repeat bit for bit at the same thread count).
    """
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"n must be an int, got {type(n).__name__}")
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    _core.set_num_threads(n)


def get_num_threads() -> int:
    """Number of threads pyssl's kernels use (see :func:`set_num_threads`)."""
    return _core.get_num_threads()


from . import nn, optim, losses, pretext, methods, transfer, theory, data  # noqa: E402
from .train import pretrain, History  # noqa: E402
from .nn.init import manual_seed  # noqa: E402

__all__ = ["__version__", "set_num_threads", "get_num_threads", "manual_seed", "pretrain", "History", "nn",
           "optim", "losses", "pretext", "methods", "transfer", "theory", "data"]
