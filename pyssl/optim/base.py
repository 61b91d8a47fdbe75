"""Optimizer base: flat buffers, learning-rate (schedule) handling, step counting, state dicts.

Every rule (SGD, Adam, AdamW, LARS) is one fused C++ call per step over the whole model's flat
parameter buffer (see :class:`~pyssl.optim.flat.FlatParams`).
"""
from __future__ import annotations

import numbers

from typing import Any

import numpy as np

from .._validation import NonFiniteError, check_scalar
from .flat import FlatParams
from . import schedules as _schedules

STATE_FORMAT = "pyssl-optimizer"
STATE_VERSION = 1


def check_lr(lr, name: str = "lr"):
    """A non-negative finite float, or a schedule: a callable ``step -> lr``."""
    if callable(lr) and not isinstance(lr, numbers.Number):
        return lr
    return float(check_scalar(lr, name, low=0.0))


def check_beta(value, name: str) -> float:
    return float(check_scalar(value, name, low=0.0, high=1.0, high_inclusive=False))


class Optimizer:
    """Base class: ``Optimizer(params, lr)``.

    params : list of Parameters, a Module (its ``.parameters()``) or a FlatParams. The parameters
        are re-pointed at one flat buffer (see FlatParams); build the optimizer once, after the
        model, and keep using the model as before.
    lr : float ≥ 0, or a schedule — a callable ``step -> lr`` such as
        :class:`~pyssl.optim.schedules.LinearWarmupCosine`. Step k (0-based: the first update is
        k = 0) uses ``lr(k)``.

    ``step()`` applies one update from the accumulated gradients and increments ``step_count``;
    ``zero_grad()`` clears the gradients; ``state_dict()`` / ``load_state_dict()`` save and restore
    the step count, the state arrays and the hyperparameters so that a resumed run continues bit
    for bit like an uninterrupted one.
    """

    #: names of the per-scalar state arrays (each a flat buffer like the parameters)
    state_names: tuple[str, ...] = ()

    def __init__(self, params, lr):
        lr = check_lr(lr)  # validate before re-pointing any parameter
        self.flat = params if isinstance(params, FlatParams) else FlatParams.over(params)
        self.lr = lr
        self.step_count = 0
        self.state = {name: np.zeros(self.flat.size, dtype=self.flat.dtype) for name in self.state_names}

    # -- hyperparameters ----------------------------------------------------------------------
    #: names of the scalar hyperparameters (besides lr), stored as attributes
    hyperparameter_names: tuple[str, ...] = ()

    def hyperparameters(self) -> dict:
        """Scalar hyperparameters (not lr), as passed to the constructor."""
        return {k: getattr(self, k) for k in self.hyperparameter_names}

    @staticmethod
    def _check_hyperparameters(*args: Any, **hp: Any) -> dict:
        """Validate and normalise the hyperparameters; subclasses override (keyword-only)."""
        return hp

    def _set_hyperparameters(self, hp: dict) -> None:
        unknown = sorted(set(hp) - set(self.hyperparameter_names))
        if unknown:
            raise ValueError(f"unknown hyperparameters for {type(self).__name__}: {unknown}")
        current = self.hyperparameters() if all(hasattr(self, k) for k in self.hyperparameter_names) else {}
        merged = {**current, **hp}
        for k, v in self._check_hyperparameters(**merged).items():
            setattr(self, k, v)

    @property
    def lr(self):
        """The learning rate: a float ≥ 0 or a schedule ``step -> lr`` (validated on assignment)."""
        return self._lr

    @lr.setter
    def lr(self, value) -> None:
        self._lr = check_lr(value)

    @property
    def params(self) -> list:
        return self.flat.params

    @property
    def lr_now(self) -> float:
        """The learning rate the next ``step()`` will use."""
        if callable(self.lr):
            value = self.lr(self.step_count)
            return float(check_scalar(value, "lr (from the schedule)", low=0.0))
        return self.lr

    # -- the update -----------------------------------------------------------------------------
    def step(self) -> None:
        """Apply one update θ ← θ − (rule's direction) using the accumulated gradients.

        Sets ``last_step_finite``: False when the update left a parameter NaN or ±Inf (the fused
        kernels report it at no extra pass over memory; see :meth:`check_finite`).
        """
        self.flat.check()
        self.flat.materialize_grads()
        lr = self._last_lr = self.lr_now
        self.flat.mark_bf16_copy(False)  # stale from here until a rule writes it
        finite = self._update(lr)
        self.flat.mark_bf16_copy(self.writes_bf16_copy)
        # a rule that does not report (a user subclass returning None) is checked with one pass
        self.last_step_finite = bool(np.isfinite(self.flat.data).all()) if finite is None else bool(finite)
        self.step_count += 1

    #: True for rules whose kernel also writes ``flat.bf16`` (when kept) in its update pass; a
    #: rule without it leaves the bfloat16 copies stale, and bf16 products cast the weights again
    writes_bf16_copy: bool = False

    def _update(self, lr: float) -> bool | None:
        """Apply the rule in place; return whether every updated parameter is finite (or None).
        A rule with ``writes_bf16_copy`` passes ``self.flat.bf16`` to its kernel."""
        raise NotImplementedError

    #: False after a ``step()`` that left a parameter non-finite
    last_step_finite: bool = True

    def check_finite(self, where: str = "") -> None:
        """Raise :class:`pyssl.NonFiniteError` (a FloatingPointError and a ValueError) if the last
        ``step()`` left a parameter NaN or ±Inf.

        The message names the parameters (index, shape) and what to change; ``where`` (e.g.
        ``"at epoch 3, step 40"``) is added to it.
        """
        if self.last_step_finite:
            return
        bad = [f"{i} {tuple(p.data.shape)}" for i, p in enumerate(self.params) if not np.isfinite(p.data).all()]
        raise NonFiniteError(
            f"{type(self).__name__}: the update {where + ' ' if where else ''}made {len(bad)} of {len(self.params)} "
            f"parameters NaN or Inf (index, shape: {', '.join(bad)}); the training diverged: lower the learning "
            f"rate (this step used {self._last_lr:g}) or the momentum, clip gradients (max_grad_norm), or use a larger batch")

    def zero_grad(self) -> None:
        """Mark every gradient as zero. Lazy (see :class:`pyssl.nn.Parameter`): the next backward
        overwrites the gradient instead of adding to a zero-filled buffer, ``p.grad`` reads as
        zeros until then, and :meth:`step` treats gradients no backward wrote as zero. Only the raw
        flat buffer (``self.flat.grad``) keeps stale values until then."""
        self.flat.zero_grad()

    # -- state ------------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """Everything needed to resume bit-exactly (arrays are copies)."""
        if callable(self.lr):
            get = getattr(self.lr, "get_config", None)
            lr = {"schedule": get()} if get is not None else {"schedule": None}
        else:
            lr = self.lr
        return {"format": STATE_FORMAT, "version": STATE_VERSION, "optimizer": type(self).__name__,
                "step_count": int(self.step_count), "lr": lr, "hyperparameters": dict(self.hyperparameters()),
                "dtype": str(self.flat.dtype), "offsets": self.flat.offsets.copy(),
                "state": {k: v.copy() for k, v in self.state.items()}}

    def load_state_dict(self, state: dict) -> None:
        """Restore a ``state_dict()``: the layout (parameter sizes) and dtype must match.

        The step count, state arrays and hyperparameters are restored. A saved float lr replaces
        the current one; a saved pyssl schedule is rebuilt from its config; a saved custom
        callable cannot be stored, so the current lr is kept.
        """
        if not isinstance(state, dict):
            raise TypeError(f"state must be a dict from state_dict(), got {type(state).__name__}")
        if state.get("format") != STATE_FORMAT:
            raise ValueError(f"not a pyssl optimizer state (format {state.get('format')!r})")
        if int(state.get("version", 0)) > STATE_VERSION:
            raise ValueError(f"optimizer state version {state['version']} is newer than this pyssl understands "
                             f"({STATE_VERSION}); upgrade pyssl")
        if state.get("optimizer") != type(self).__name__:
            raise ValueError(f"state was saved by {state.get('optimizer')!r}, cannot load it into {type(self).__name__}")
        offsets = np.asarray(state.get("offsets"))
        if offsets.shape != self.flat.offsets.shape or not np.array_equal(offsets, self.flat.offsets):
            raise ValueError(f"parameter layout mismatch: saved sizes {np.diff(offsets).tolist()}, "
                             f"optimizer has {np.diff(self.flat.offsets).tolist()}")
        arrays = state.get("state", {})
        if set(arrays) != set(self.state):
            raise ValueError(f"state arrays {sorted(arrays)} do not match {type(self).__name__}'s {sorted(self.state)}")
        for k, v in arrays.items():
            v = np.asarray(v)
            if v.shape != self.state[k].shape or v.dtype != self.state[k].dtype:
                raise ValueError(f"state array {k!r} has {v.shape} {v.dtype}, expected {self.state[k].shape} "
                                 f"{self.state[k].dtype}")
        step_count = check_scalar(state.get("step_count"), "step_count", kind=numbers.Integral, low=0)
        self._set_hyperparameters(dict(state.get("hyperparameters", {})))
        lr = state.get("lr")
        if isinstance(lr, dict):
            cfg = lr.get("schedule")
            if cfg is not None:
                self.lr = _schedules.from_config(cfg)
        elif lr is not None:
            self.lr = check_lr(lr)
        for k, v in arrays.items():
            self.state[k][...] = v
        self.step_count = int(step_count)

    def state_arrays(self) -> tuple[dict, dict]:
        """``state_dict()`` split into (arrays, JSON-able meta) for an .npz checkpoint."""
        import json

        sd = self.state_dict()
        arrays = {"state." + k: v for k, v in sd.pop("state").items()}
        arrays["offsets"] = sd.pop("offsets")
        return arrays, json.loads(json.dumps(sd))

    def load_state_arrays(self, arrays: dict, meta: dict) -> None:
        """Inverse of :meth:`state_arrays`."""
        sd = dict(meta)
        sd["offsets"] = arrays.get("offsets")
        sd["state"] = {k[len("state."):]: v for k, v in arrays.items() if k.startswith("state.")}
        self.load_state_dict(sd)

    def save(self, path) -> None:
        """Write ``state_dict()`` to ``path`` as a versioned .npz checkpoint (atomic)."""
        from ..nn.checkpoint import save_state

        arrays, meta = self.state_arrays()
        save_state(path, arrays, meta={"optimizer_state": meta})

    def load(self, path) -> None:
        """Read a checkpoint written by :meth:`save` and ``load_state_dict`` it."""
        from ..nn.checkpoint import load_state

        arrays, meta = load_state(path)
        if "optimizer_state" not in meta:
            raise ValueError(f"{path!r} holds no optimizer state (was it written by Optimizer.save?)")
        self.load_state_arrays(arrays, meta["optimizer_state"])

    def __repr__(self) -> str:
        hp = ", ".join(f"{k}={v!r}" for k, v in self.hyperparameters().items())
        return f"{type(self).__name__}(lr={self.lr!r}, {hp}; {self.flat!r})"
