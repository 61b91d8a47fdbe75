"""Deterministic seed derivation: every random draw in a run is keyed by a path from the user's
seed, e.g. ``derive_seed(seed, step)`` for a training step or ``derive_seed(seed, "view", v)`` for a
view. Each path element is folded into a 64-bit state with SplitMix64 (Steele et al., 2014);
strings enter through their FNV-1a 64-bit hash of the UTF-8 bytes (never Python's salted hash()).
"""
from __future__ import annotations

import numbers

from ._validation import check_seed

_MASK64 = (1 << 64) - 1


def _splitmix64(z: int) -> int:
    z = (z + 0x9E3779B97F4A7C15) & _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return z ^ (z >> 31)


def _fnv1a(s: str) -> int:
    h = 0xCBF29CE484222325
    for b in s.encode("utf-8"):
        h = ((h ^ b) * 0x100000001B3) & _MASK64
    return h


def derive_seed(seed: int, *path) -> int:
    """A child seed from ``seed`` and a path of ints / strings (deterministic, 64-bit).

    ``derive_seed(s, 0) != derive_seed(s, 1)``, and ``derive_seed(s, "view", 1)`` differs from
    ``derive_seed(s, "view", 2)``; the same arguments always give the same seed.
    """
    state = _splitmix64(check_seed(seed))
    for part in path:
        if isinstance(part, str):
            v = _fnv1a(part)
        elif isinstance(part, numbers.Integral) and not isinstance(part, bool):
            v = int(part) & _MASK64
        else:
            raise TypeError(f"derive_seed path elements must be int or str, got {part!r}")
        state = _splitmix64(state ^ v)
    return state
