"""Learning-rate schedules: callables ``sched(step) -> lr`` with ``step`` = 0, 1, 2, … the
optimizer's step count (the first update uses ``sched(0)``).

Each schedule validates its arguments, has a ``get_config()`` (saved in optimizer state dicts)
and is rebuilt by :func:`from_config`.
"""
from __future__ import annotations

import math
import numbers

from .._validation import check_scalar


def _check_step(step) -> int:
    return int(check_scalar(step, "step", kind=numbers.Integral, low=0))


class Schedule:
    """Base class of the built-in schedules."""

    def __call__(self, step) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def get_config(self) -> dict:
        return {"type": type(self).__name__, **self._config()}

    def _config(self) -> dict:  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(" + ", ".join(f"{k}={v!r}" for k, v in self._config().items()) + ")"

    def __eq__(self, other) -> bool:
        return isinstance(other, Schedule) and self.get_config() == other.get_config()

    __hash__ = None  # type: ignore[assignment]


class Constant(Schedule):
    """``lr(k) = lr`` for every step."""

    def __init__(self, lr: float):
        self.lr = float(check_scalar(lr, "lr", low=0.0))

    def __call__(self, step) -> float:
        _check_step(step)
        return self.lr

    def _config(self) -> dict:
        return {"lr": self.lr}


class StepLR(Schedule):
    """Step decay, torch.optim.lr_scheduler.StepLR semantics:

    .. math:: \\alpha_k = \\alpha_0 \\, \\gamma^{\\lfloor k / s \\rfloor}

    with ``base_lr`` = α₀, ``step_size`` = s (in optimizer steps), ``gamma`` = γ.
    """

    def __init__(self, base_lr: float, step_size: int, gamma: float = 0.1):
        self.base_lr = float(check_scalar(base_lr, "base_lr", low=0.0))
        self.step_size = int(check_scalar(step_size, "step_size", kind=numbers.Integral, low=1))
        self.gamma = float(check_scalar(gamma, "gamma", low=0.0))

    def __call__(self, step) -> float:
        k = _check_step(step)
        return self.base_lr * self.gamma ** (k // self.step_size)

    def _config(self) -> dict:
        return {"base_lr": self.base_lr, "step_size": self.step_size, "gamma": self.gamma}


class LinearWarmupCosine(Schedule):
    """Linear warmup then cosine decay (Goyal et al. 2017 warmup; Loshchilov & Hutter 2017 SGDR
    cosine without restarts), the BYOL / SimCLR schedule:

    .. math::

        \\alpha_k = \\begin{cases}
          \\alpha_s + (\\alpha_0 - \\alpha_s)\\, k / W & k < W \\\\
          \\alpha_f + (\\alpha_0 - \\alpha_f)\\, \\tfrac12\\bigl(1 + \\cos(\\pi \\min(k - W, K - W)/(K - W))\\bigr) & k \\ge W
        \\end{cases}

    with ``base_lr`` = α₀, ``total_steps`` = K, ``warmup_steps`` = W, ``final_lr`` = α_f,
    ``warmup_start_lr`` = α_s. So lr(0) = α_s, lr(W) = α₀ (the peak), lr(K) = α_f, and steps
    past K stay at α_f.

    .. warning:: Convention. This is deepmind/byol ``schedules.learning_schedule`` (with
       α_s = α_f = 0): the warmup reaches α₀ at step W. lightning-bolts' / solo-learn's
       ``LinearWarmupCosineAnnealingLR`` steps per epoch and reaches α₀ at W − 1; timm's cosine
       scheduler starts the cosine at W as here but counts in epochs by default.
    """

    def __init__(self, base_lr: float, total_steps: int, warmup_steps: int = 0, final_lr: float = 0.0,
                 warmup_start_lr: float = 0.0):
        self.base_lr = float(check_scalar(base_lr, "base_lr", low=0.0))
        self.total_steps = int(check_scalar(total_steps, "total_steps", kind=numbers.Integral, low=1))
        self.warmup_steps = int(check_scalar(warmup_steps, "warmup_steps", kind=numbers.Integral, low=0,
                                             high=self.total_steps))
        self.final_lr = float(check_scalar(final_lr, "final_lr", low=0.0))
        self.warmup_start_lr = float(check_scalar(warmup_start_lr, "warmup_start_lr", low=0.0))

    def __call__(self, step) -> float:
        k = _check_step(step)
        W, K = self.warmup_steps, self.total_steps
        if k < W:
            return self.warmup_start_lr + (self.base_lr - self.warmup_start_lr) * k / W
        progress = 1.0 if K == W else min(k - W, K - W) / (K - W)
        return self.final_lr + (self.base_lr - self.final_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))

    def _config(self) -> dict:
        return {"base_lr": self.base_lr, "total_steps": self.total_steps, "warmup_steps": self.warmup_steps,
                "final_lr": self.final_lr, "warmup_start_lr": self.warmup_start_lr}


_REGISTRY = {cls.__name__: cls for cls in (Constant, StepLR, LinearWarmupCosine)}


def from_config(config: dict) -> Schedule:
    """Rebuild a schedule from ``get_config()``."""
    if not isinstance(config, dict) or config.get("type") not in _REGISTRY:
        raise ValueError(f"unknown schedule config {config!r}; known types: {sorted(_REGISTRY)}")
    kwargs = {k: v for k, v in config.items() if k != "type"}
    return _REGISTRY[config["type"]](**kwargs)
