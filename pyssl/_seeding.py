"""Deterministic seed derivation: every random draw in a run is keyed by (seed, step, view, ...)."""
from __future__ import annotations

import numpy as np


def derive_seed(seed: int, *keys: int) -> int:
    """A 63-bit seed that depends only on ``seed`` and the integer ``keys`` (order matters)."""
    ss = np.random.SeedSequence([int(seed) & 0xFFFFFFFFFFFFFFFF, *[int(k) & 0xFFFFFFFFFFFFFFFF for k in keys]])
    return int(ss.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))
