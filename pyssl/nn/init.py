"""Parameter initialisation, seeded.

Modules take ``seed=None``; ``None`` draws from one process-wide generator that
:func:`manual_seed` resets, so a script that never passes seeds is still reproducible.
"""
from __future__ import annotations

import numpy as np

_GLOBAL = np.random.default_rng(0)


def manual_seed(seed: int) -> None:
    """Reset the generator used for parameter initialisation when no seed is passed."""
    global _GLOBAL
    _GLOBAL = np.random.default_rng(seed)


def rng(seed=None) -> np.random.Generator:
    return _GLOBAL if seed is None else np.random.default_rng(seed)


def uniform_fan_in(shape, fan_in: int, dtype, generator: np.random.Generator) -> np.ndarray:
    """U(−1/√fan_in, 1/√fan_in): PyTorch's default for nn.Linear weights and biases
    (kaiming_uniform with a = √5)."""
    bound = 1.0 / np.sqrt(max(fan_in, 1))
    return generator.uniform(-bound, bound, size=shape).astype(dtype)
