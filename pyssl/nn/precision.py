"""Compute precision of the layers: float32, or bfloat16 products with float32 sums.

``precision="bf16-mixed"`` (``pyssl.pretrain(precision=...)`` or the ``autocast`` context) is mixed
precision in the sense of Micikevicius et al. (2018, "Mixed Precision Training") with bfloat16
(Kalamkar et al., 2019, "A Study of BFLOAT16 for Deep Learning Training"): parameters, optimizer
state, normalisation layers, losses and every gradient stay float32; the matrix products of
``Linear`` layers read their operands rounded to bfloat16 and sum in float32
(``Y = b + bf16(X)·bf16(W)``; backward ``dX = bf16(dY)·bf16(W)ᵀ``, ``dW += bf16(X)ᵀ·bf16(dY)``),
and so do the convolutions of ``Conv2d`` / ``Conv1d`` (and the ResNet, ResNet1d, TS2Vec and T-Loss
encoders built from them): ``y = b + bf16(x) * bf16(W)``, ``dx = bf16(dy) *ᵀ bf16(W)``,
``dW += corr(bf16(x), bf16(dy))``, on oneDNN's convolution primitives.
bfloat16 has float32's exponent range, so no loss scaling is needed. The products run on oneDNN's
matmul (AVX512-BF16 or AMX-BF16 units where the CPU has them), threaded by the same OpenMP team as
pyssl's other kernels. float64 layers (gradient checks) are never affected.

On an x86 CPU without AVX-512 (AMD Zen 1–3, Intel before Skylake-SP) oneDNN has no bf16 matmul or
convolution; there ``"bf16-mixed"`` runs emulated — the operands are rounded to bfloat16 and
multiplied by the float32 engine, which gives the same products and float32 sums (in another
order) but no speed-up — and :func:`check_precision` says so once with an
:class:`EmulatedBF16Warning`. :func:`native` tells which case holds.
"""
from __future__ import annotations

import contextlib
import threading
import warnings

from .. import _core

PRECISIONS = ("32", "bf16-mixed")
_ALIASES = {"32": "32", "fp32": "32", "32-true": "32", "float32": "32", "bf16-mixed": "bf16-mixed",
            "bf16": "bf16-mixed"}
_state = threading.local()


def available() -> bool:
    """True when this build has the bf16 GEMM engine (oneDNN); ``"bf16-mixed"`` needs it."""
    return bool(_core.nn.has_bf16_gemm())


class EmulatedBF16Warning(UserWarning):
    """``precision="bf16-mixed"`` on a CPU without bf16 support in oneDNN: correct, but no faster."""


def native() -> bool:
    """True when oneDNN runs bf16 products on this CPU (AVX-512, AVX512-BF16 or AMX); False where
    ``"bf16-mixed"`` is emulated by float32 products on bf16-rounded operands (x86 without
    AVX-512), or pyssl has no oneDNN."""
    return bool(_core.nn.bf16_native())


def check_precision(precision) -> str:
    """The canonical name of ``precision`` (``"32"`` or ``"bf16-mixed"``; aliases ``"fp32"``,
    ``"32-true"``, ``"bf16"``), or a ValueError naming the choices; a RuntimeError when
    ``"bf16-mixed"`` is asked of a build without oneDNN, an :class:`EmulatedBF16Warning` when this
    CPU runs it emulated."""
    name = _ALIASES.get(precision) if isinstance(precision, str) else None
    if name is None:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if name == "bf16-mixed" and not available():
        raise RuntimeError("precision='bf16-mixed' needs pyssl built with oneDNN: pip install onednn-cpu-gomp "
                           "onednn-devel-cpu-gomp, then reinstall pyssl")
    if name == "bf16-mixed" and not native():
        warnings.warn("precision='bf16-mixed' runs emulated on this CPU (oneDNN has no bf16 matmul or "
                      "convolution without AVX-512): float32 products on bf16-rounded operands, the same "
                      "numerics but no speed-up; precision='32' is faster here", EmulatedBF16Warning,
                      stacklevel=3)
    return name


def current() -> str:
    """The precision layers compute in on this thread: ``"32"`` (default) or ``"bf16-mixed"``."""
    return getattr(_state, "precision", "32")


@contextlib.contextmanager
def autocast(precision: str = "bf16-mixed"):
    """Run the layers called inside the block at ``precision`` (this thread only; nests).

    Parameters
    ----------
    precision : ``"bf16-mixed"`` (default) or ``"32"``.

    A backward uses the precision its forward ran at (the forward's saved state says which), so the
    block needs to cover only the forwards.
    """
    name = check_precision(precision)
    previous = current()
    _state.precision = name
    try:
        yield
    finally:
        _state.precision = previous


@contextlib.contextmanager
def weight_copies(optimizers, precision: str):
    """Keep the optimizers' bfloat16 weight copies for the duration of a training loop.

    Under ``"bf16-mixed"`` each optimizer's flat buffer keeps a bfloat16 copy of the parameters
    that its fused update writes in the same pass (``FlatParams.keep_bf16_copy``); the next
    forward's bf16 products read it instead of casting every weight (for a 30M-parameter MLP that
    cast is a read of 118 MB and a write of 59 MB per step). The copies are dropped when the block
    ends, so nothing outside the loop sees them. At ``"32"`` this does nothing.
    """
    kept = []
    if check_precision(precision) == "bf16-mixed":
        for opt in optimizers:
            flat = getattr(opt, "flat", None)
            if flat is not None and flat.bf16 is None and flat.keep_bf16_copy(True):
                kept.append(flat)
    try:
        yield
    finally:
        for flat in kept:
            flat.keep_bf16_copy(False)
