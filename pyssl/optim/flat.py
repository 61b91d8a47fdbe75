"""Flat parameter buffers: every parameter of a model as a view into one contiguous array.

A fused optimizer update then covers the whole model in one C++ call (one pass over memory,
one parallel region), instead of one call per parameter.
"""
from __future__ import annotations

import weakref

import numpy as np

from .. import _core
from .._validation import FLOAT_DTYPES


def _collect(params, name: str = "params") -> list:
    """A list of distinct Parameters, in order, from a Module, a FlatParams or an iterable."""
    from ..nn.module import Module, Parameter

    if isinstance(params, FlatParams):
        return list(params.params)
    if isinstance(params, Module):
        params = params.parameters()
    if isinstance(params, Parameter):
        raise TypeError(f"{name} must be a list of Parameters or a Module, got a single Parameter; wrap it: [p]")
    try:
        items = list(params)
    except TypeError:
        raise TypeError(f"{name} must be a list of Parameters or a Module, got {type(params).__name__}") from None
    out, seen = [], set()
    for i, p in enumerate(items):
        if not isinstance(p, Parameter):
            raise TypeError(f"{name}[{i}] must be a pyssl.nn.Parameter, got {type(p).__name__}")
        if id(p) not in seen:  # shared (tied) parameters are updated once
            seen.add(id(p))
            out.append(p)
    if not out:
        raise ValueError(f"{name} is empty: there is nothing to optimize")
    return out


class FlatParams:
    """Parameters re-pointed at views of one data buffer and one grad buffer.

    ``FlatParams(params)`` copies the values (and current gradients) of ``params`` (a list of
    :class:`pyssl.nn.Parameter` or a Module, all of one dtype) into a new contiguous ``data``
    buffer and ``grad`` buffer, then sets each ``p.data`` / ``p.grad`` to a view into them. Layers
    read ``param.data`` afresh at every call, so the model keeps working unchanged. Parameters
    already flattened by another FlatParams are re-pointed again (values are copied first); the
    older FlatParams is then stale, and :meth:`check` (called by every optimizer step) says so.
    Optimizers build theirs with :meth:`over`, which reuses the FlatParams that already holds the
    same parameters instead.

    Attributes
    ----------
    params : list of Parameter, in buffer order (duplicates removed).
    data, grad : 1-D arrays of ``size`` scalars.
    offsets : int64 (P+1,), parameter p is ``data[offsets[p]:offsets[p+1]]``.
    decay : uint8 (P,), 0 for parameters excluded from weight decay / LARS adaptation (biases,
        normalisation parameters: ``Parameter.decay`` False).
    layout : the C++ ``FlatLayout`` the kernels use (offsets and decay flags, copied).
    bf16 : None, or (after ``keep_bf16_copy(True)``, float32 only) a uint16 buffer of ``size``
        values that the optimizer kernels fill with bf16(data) in the same pass as the update;
        each parameter's bfloat16 copy is a view into it (``Parameter.bf16_operands``).
    """

    @classmethod
    def over(cls, params) -> "FlatParams":
        """The FlatParams for ``params``: the one that already holds exactly these parameters, in
        this order, with every one still pointing into its buffers (a second optimizer or a second
        ``pretrain`` call over the same model then shares the buffers: no copy, no new memory to
        fault in — 118 MB of values and gradients at 29.6 M parameters), else a new one."""
        items = _collect(params)
        base = items[0]._data.base
        owner = _OWNERS.get(id(base)) if isinstance(base, np.ndarray) else None
        if (owner is not None and owner.data is base and len(owner.params) == len(items)
                and all(p is q for p, q in zip(owner.params, items)) and owner.attached()
                and all(int(d) == int(bool(p.decay)) for d, p in zip(owner.decay, items))):
            return owner
        return cls(items)

    def __init__(self, params):
        params = _collect(params)
        dtypes = {p.data.dtype for p in params}
        if len(dtypes) != 1:
            raise TypeError(f"all parameters must share one dtype to be flattened, got {sorted(map(str, dtypes))}; "
                            f"cast the model first, e.g. module.astype(np.float32)")
        dtype = dtypes.pop()
        if dtype not in FLOAT_DTYPES:
            raise TypeError(f"parameters must be float32 or float64, got dtype {dtype}")
        self.params = params
        self.dtype = np.dtype(dtype)
        sizes = np.array([p.data.size for p in params], dtype=np.int64)
        self.offsets = np.zeros(len(params) + 1, dtype=np.int64)
        np.cumsum(sizes, out=self.offsets[1:])
        self.decay = np.array([1 if p.decay else 0 for p in params], dtype=np.uint8)
        self.offsets.flags.writeable = False
        self.decay.flags.writeable = False
        self.size = int(self.offsets[-1])
        self.data = np.empty(self.size, dtype=self.dtype)
        self.grad = np.zeros(self.size, dtype=self.dtype)
        self.layout = _core.optim.FlatLayout(self.offsets, self.decay)
        self.bf16: np.ndarray | None = None
        self._views = []
        for i, p in enumerate(params):
            a, b = int(self.offsets[i]), int(self.offsets[i + 1])
            if p.grad is not None and p.grad.shape != p.data.shape:
                raise ValueError(f"params[{i}] has data of shape {p.data.shape} but grad of shape {p.grad.shape}")
            self.data[a:b] = p.data.reshape(-1)
            if p.grad is not None:
                self.grad[a:b] = p.grad.reshape(-1)
            dv = self.data[a:b].reshape(p.data.shape)
            gv = self.grad[a:b].reshape(p.data.shape)
            p.data, p.grad = dv, gv
            self._views.append((dv, gv))
        _OWNERS[id(self.data)] = self

    def __len__(self) -> int:
        return len(self.params)

    # -- pickling / deep copy: the C++ layout is rebuilt, and the (copied) parameters re-pointed
    # at the copied buffers, so a copied model and its copied optimizer still share memory
    def __getstate__(self) -> dict:
        return {"params": self.params, "data": self.data, "grad": self.grad, "offsets": self.offsets,
                "decay": self.decay, "shapes": [dv.shape for dv, _ in self._views],
                "attached": [p.data is dv and p._grad is gv for p, (dv, gv) in zip(self.params, self._views)]}

    def __setstate__(self, state: dict) -> None:
        self.params = state["params"]
        self.offsets, self.decay = np.array(state["offsets"]), np.array(state["decay"])
        self.offsets.flags.writeable = False
        self.decay.flags.writeable = False
        self.dtype = np.dtype(state["data"].dtype)
        self.size = int(self.offsets[-1])
        self.data, self.grad = np.array(state["data"]), np.array(state["grad"])
        self.layout = _core.optim.FlatLayout(self.offsets, self.decay)
        self.bf16 = None  # a copy keeps no bf16 buffer (see keep_bf16_copy)
        self._views = []
        for i, p in enumerate(self.params):
            a, b = int(self.offsets[i]), int(self.offsets[i + 1])
            dv = self.data[a:b].reshape(state["shapes"][i])
            gv = self.grad[a:b].reshape(state["shapes"][i])
            if state["attached"][i]:  # the copy of a parameter that pointed here: point it here again
                zero = p._grad_zero
                p.data, p.grad = dv, gv
                p._grad_zero = zero
            self._views.append((dv, gv))
        _OWNERS[id(self.data)] = self

    def __repr__(self) -> str:
        return f"FlatParams({len(self.params)} parameters, {self.size} scalars, dtype={self.dtype})"

    def keep_bf16_copy(self, on: bool) -> bool:
        """Start (``on=True``) or stop keeping the bfloat16 copy of the values (``self.bf16``).

        While it is kept, every optimizer step writes bf16(θ_new) in its update pass, and a
        bf16-mixed product reads that copy instead of casting the weight (the training loops turn
        it on for ``precision="bf16-mixed"`` and off when they end). Only float32 buffers keep one;
        returns whether a copy is now kept. Stopping frees the buffer.
        """
        if on and self.dtype == np.float32:
            if self.bf16 is None:
                self.bf16 = np.empty(self.size, dtype=np.uint16)
                for i, p in enumerate(self.params):
                    a, b = int(self.offsets[i]), int(self.offsets[i + 1])
                    p._bf16, p._bf16_ok = self.bf16[a:b].reshape(p.shape), False
            return True
        self.bf16 = None
        for p in self.params:
            p._bf16, p._bf16_ok = None, False
        return False

    def mark_bf16_copy(self, written: bool) -> None:
        """Record whether the last update wrote ``self.bf16`` (True: the copies now hold the
        bfloat16 values of the parameters; False: they are stale and not used)."""
        ok = written and self.bf16 is not None
        for p in self.params:
            p._bf16_ok = ok

    def zero_grad(self) -> None:
        """Mark every parameter's gradient as zero (lazy, see :class:`pyssl.nn.Parameter`): the
        next backward overwrites it; :meth:`materialize_grads` fills what no backward wrote."""
        for p in self.params:
            p.zero_grad()

    def materialize_grads(self) -> None:
        """Zero-fill the gradients still marked zero, so that ``self.grad`` holds every true
        gradient (called before an optimizer step or a clip reads the flat buffer)."""
        for p in self.params:
            p.materialize_grad()

    def attached(self) -> bool:
        """Whether every parameter still points at this object's buffers."""
        return all(p._data is dv and p._grad is gv for p, (dv, gv) in zip(self.params, self._views))

    def check(self) -> None:
        """Raise RuntimeError if a parameter no longer points at this object's buffers."""
        for i, (p, (dv, gv)) in enumerate(zip(self.params, self._views)):
            if p._data is not dv or p._grad is not gv:
                raise RuntimeError(
                    f"parameter {i} ({p!r}) no longer points into this optimizer's flat buffer: it was re-pointed "
                    f"(by another FlatParams/optimizer over the same parameters, or by assigning p.data / p.grad). "
                    f"Updating the old buffer would silently do nothing; call .reattach() to copy the current values "
                    f"back in, or build the optimizer again")

    def reattach(self) -> None:
        """Copy each parameter's current data and grad into this buffer and re-point it here."""
        for i, (p, (dv, gv)) in enumerate(zip(self.params, self._views)):
            if p.data is not dv:
                if p.data.shape != dv.shape:
                    raise ValueError(f"parameter {i} changed shape from {dv.shape} to {p.data.shape}; build a new optimizer")
                dv[...] = p.data
                p.data = dv
            if p._grad is not gv:
                if p._grad is not None:
                    gv[...] = p.grad  # (the property: a gradient marked zero is copied as zeros)
                p.grad = gv


# id(data buffer) → the FlatParams that owns it (FlatParams.over); entries go with their owner.
_OWNERS: "weakref.WeakValueDictionary[int, FlatParams]" = weakref.WeakValueDictionary()


def flat_view(arrays) -> np.ndarray | None:
    """If ``arrays`` tile one contiguous 1-D buffer back to back (as the data or grad views of a
    FlatParams do, in order), return that region as one 1-D view; else None."""
    arrays = list(arrays)
    if not arrays:
        return None
    first = arrays[0]
    if not isinstance(first, np.ndarray):
        return None
    base = first.base
    if not isinstance(base, np.ndarray) or base.ndim != 1 or not base.flags.c_contiguous or base.dtype != first.dtype:
        return None
    item = first.itemsize
    base_addr = base.__array_interface__["data"][0]
    addr = first.__array_interface__["data"][0]
    start = addr - base_addr
    if start % item:
        return None
    for a in arrays:
        if (not isinstance(a, np.ndarray) or a.base is not base or a.dtype != first.dtype
                or not a.flags.c_contiguous or a.__array_interface__["data"][0] != addr):
            return None
        addr += a.nbytes
    lo = start // item
    hi = (addr - base_addr) // item
    if hi > base.size:
        return None
    return base[lo:hi]
