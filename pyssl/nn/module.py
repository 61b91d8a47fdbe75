"""Module, Parameter and Sequential: the composition layer over the C++ kernels.

Forward and backward are explicit and functional about their saved state: ``forward(x)``
returns ``(y, ctx)`` and ``backward(grad_y, ctx)`` returns ``grad_x`` and *accumulates* the
parameter gradients. Two forwards can therefore be in flight at once (two views through one
encoder, or a student and a teacher) without one overwriting what the other's backward needs
(DESIGN.md, "One training step, as data").
"""
from __future__ import annotations

import numbers
from typing import Iterator

import numpy as np

from .._registry import Registry
from .._validation import check_array, check_scalar


def layer_input(layer, x, dtype=None) -> np.ndarray:
    """The input of a layer's ``forward``, as an array the kernels accept.

    A numpy array of native byte order is returned as is (the kernels then check its shape and
    layout). Lists, scalars and other array-likes become C-contiguous arrays of the layer's dtype;
    an array of non-native byte order becomes the same values in native order, float64 staying
    float64 (the policy of every pyssl function, see ``pyssl._validation``). ``dtype``: the dtype
    of the layer's weights, for layers whose kernel needs the input in it (a TypeError says how to
    cast otherwise).
    """
    if type(x) is np.ndarray and x.dtype.isnative and x.dtype.kind in "biuc":
        raise TypeError(f"{type(layer).__name__} needs x of dtype float32 or float64, got {x.dtype}; cast with "
                        f"x.astype(np.float32)")
    if type(x) is not np.ndarray or not x.dtype.isnative or x.dtype.kind != "f":
        x = check_array(x, "x", dtype=None if isinstance(x, np.ndarray) else (dtype or layer.dtype),
                        allow_empty=True, finite=False)
    if dtype is not None and x.dtype != dtype and x.dtype.kind == "f":
        raise TypeError(f"{type(layer).__name__} has dtype {dtype} but x has dtype {x.dtype}; cast with "
                        f"x.astype(np.{dtype}) or build the layer with dtype=np.{x.dtype}")
    return x


#: name -> layer class. ``example(dtype)`` builds a small instance and ``input`` is the shape of an
#: example batch; ``fd=False`` marks layers a finite difference cannot check (Dropout redraws its
#: mask on every forward), ``fd="parameters"`` layers whose integer-code input it cannot perturb, and
#: ``sample(rng, shape)`` draws a valid input where standard normal entries are not one. The contract suite (tests/contracts/test_contract_layers.py) checks every
#: entry — gradients, float32 ≈ float64, thread and alignment bit identity, checkpoint round trip —
#: so one ``@register_layer`` line adds a layer to all of them.
LAYERS = Registry("layer")


def register_layer(name: str, cls=None, *, example=None, input=(5, 4), **meta):
    """Register a :class:`Module` subclass under ``name`` (usable as a class decorator).

    Parameters
    ----------
    name : str
        The registry key.
    cls : type, optional
        The layer class; omit to decorate.
    example : callable, optional
        ``example(dtype) -> Module``, small (default: ``cls()``, cast to dtype).
    input : tuple of int
        Shape of an example batch.
    **meta
        ``fd=False`` where finite differences do not apply, ``fd="parameters"`` where they apply to
        the parameters only (an input of integer codes); ``sample(rng, shape) -> array`` draws a
        valid example input (default: standard normal entries).
    """
    def add(c):
        return LAYERS.register(name, c, example=example or (lambda dtype: c().astype(dtype)), input=tuple(input),
                               **meta)

    return add if cls is None else add(cls)


class Parameter:
    """A trainable array and its gradient buffer (same shape and dtype).

    ``decay`` is False for biases and normalisation parameters: optimizers that exclude them
    from weight decay or from LARS adaptation (SimCLR, BYOL) read this flag.
    Optimizers may re-point ``data`` and ``grad`` at views of one flat buffer so that a fused
    update covers every parameter in one call; layers always read ``param.data`` afresh.

    ``zero_grad()`` is lazy (like PyTorch's ``set_to_none``, without reallocating): it marks the
    gradient as zero, and the next backward kernel *writes* its gradient instead of adding it to
    a buffer of zeros — no separate pass over the buffer (12 ms per step for a 25M-parameter MLP)
    and no read of it in the weight-gradient GEMM. Reading ``p.grad`` while it is marked zero
    fills the buffer with zeros first, so code that reads it always sees the true gradient.

    Under ``precision="bf16-mixed"`` the training loops ask the optimizer to write a bfloat16
    copy of the updated values in the same pass as the update (``FlatParams.keep_bf16_copy``), so
    that the next forward's products need not cast every weight again. The copy is trusted only
    until someone may have changed the values: reading or assigning ``p.data`` retires it (the
    next bf16 product casts afresh), so code that writes parameters in place — ``p.data[...] = v``,
    ``p.data /= n`` — always gets products of the values it wrote.
    """

    __slots__ = ("_data", "_grad", "_grad_zero", "decay", "_bf16", "_bf16_ok")

    def __init__(self, data: np.ndarray, decay: bool = True):
        try:
            data = np.ascontiguousarray(data)
        except (TypeError, ValueError) as exc:  # ragged nested lists, non-numbers
            raise TypeError(f"Parameter data must be a rectangular numeric array, got {type(data).__name__}: "
                            f"{exc}") from None
        if data.dtype.hasobject:
            raise TypeError(f"Parameter data must be numeric, got dtype {data.dtype}")
        self._data = data
        self._grad = np.zeros_like(data)
        self._grad_zero = False
        self.decay = bool(decay)
        self._bf16: np.ndarray | None = None  # uint16 (same shape): bf16(data) when _bf16_ok
        self._bf16_ok = False

    @property
    def data(self) -> np.ndarray:
        """The values (an array the caller may write in place: reading it retires the bfloat16
        copy, see the class docstring)."""
        self._bf16_ok = False
        return self._data

    @data.setter
    def data(self, value: np.ndarray) -> None:
        self._data = value
        self._bf16_ok = False

    def bf16_operands(self):
        """``(values, copy)`` for a bfloat16 product that only reads the values: ``copy`` is
        bf16(values) as uint16 bit patterns when the last optimizer step wrote it and nothing may
        have changed the values since, else None (the caller casts). Retires nothing."""
        return self._data, (self._bf16 if self._bf16_ok else None)

    # copies (pickle, copy.deepcopy: a BYOL target network) never share or trust the bf16 copy
    def __getstate__(self):
        return {"data": self._data, "grad": self._grad, "grad_zero": self._grad_zero, "decay": self.decay}

    def __setstate__(self, state) -> None:
        self._data, self._grad = state["data"], state["grad"]
        self._grad_zero, self.decay = state["grad_zero"], state["decay"]
        self._bf16, self._bf16_ok = None, False

    @property
    def grad(self) -> np.ndarray:
        self.materialize_grad()
        return self._grad

    @grad.setter
    def grad(self, value) -> None:
        self._grad = value
        self._grad_zero = False

    def zero_grad(self) -> None:
        """Mark the gradient as zero (see the class docstring)."""
        self._grad_zero = True

    def materialize_grad(self) -> None:
        """If the gradient is marked zero, fill its buffer with zeros and clear the mark."""
        if self._grad_zero:
            self._grad.fill(0)
            self._grad_zero = False

    @property
    def shape(self):
        return self._data.shape

    @property
    def dtype(self):
        return self._data.dtype

    def __repr__(self) -> str:
        return f"Parameter(shape={self._data.shape}, dtype={self._data.dtype}, decay={self.decay})"


def grads_for_backward(*params):
    """Gradient buffers for one backward kernel call, and whether the kernel must accumulate.

    Returns ``(grads, accumulate)`` with ``grads[i]`` the buffer of ``params[i]`` (None for None).
    When every parameter is marked zero, ``accumulate`` is False and the kernel overwrites the
    buffers; otherwise the marked ones are zero-filled and the kernel accumulates. Either way the
    parameters are unmarked: after the call their buffers hold the true gradients.
    """
    live = [p for p in params if p is not None]
    accumulate = not all(p._grad_zero for p in live) if live else True
    for p in live:
        if accumulate:
            p.materialize_grad()
        p._grad_zero = False
    return [p._grad if p is not None else None for p in params], accumulate


def in_eval_batches(module, X: np.ndarray, batch_size: int, per_batch) -> np.ndarray:
    """``per_batch(x)`` for consecutive batches x of ``batch_size`` rows of X (C-contiguous), with
    ``module`` in evaluation mode (its mode is restored after), the results concatenated along
    axis 0 — the loop behind every ``transform``."""
    batch_size = check_scalar(batch_size, "batch_size", kind=numbers.Integral, low=1)
    was_training = module.training
    module.eval()
    try:
        outs = [per_batch(np.ascontiguousarray(X[i:i + batch_size])) for i in range(0, X.shape[0], batch_size)]
    finally:
        module.train(was_training)
    return np.concatenate(outs, axis=0)


class Module:
    """Base class. Subclasses implement ``forward(x) -> (y, ctx)`` and
    ``backward(grad_y, ctx, need_input_grad=True) -> grad_x``."""

    #: a ReLU: a Sequential runs it inside the kernel of the layer before it when that layer
    #: ``fuses_relu`` (see Sequential.forward)
    is_relu: bool = False
    #: the layer can apply a following ReLU in its own kernel: ``forward_relu(x) -> (y, ctx)``
    #: returns relu(forward(x)), and ``backward(grad, ctx)`` with that ctx differentiates both
    fuses_relu: bool = False

    # Set in __init__ through object.__setattr__ (before __setattr__'s registration works).
    _parameters: dict[str, Parameter]
    _modules: dict[str, Module]
    _buffers: dict[str, np.ndarray]
    training: bool

    def __init__(self):
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_modules", {})
        object.__setattr__(self, "_buffers", {})
        object.__setattr__(self, "training", True)

    # -- registration ---------------------------------------------------------------------
    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"call Module.__init__() in {type(self).__name__}.__init__ before assigning attributes")
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        object.__setattr__(self, name, value)

    def register_buffer(self, name: str, value: np.ndarray) -> None:
        """A non-trainable state array saved in ``state_dict`` (e.g. BatchNorm running stats)."""
        self._buffers[name] = value
        object.__setattr__(self, name, value)

    # -- traversal --------------------------------------------------------------------------
    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        for name, p in self._parameters.items():
            yield prefix + name, p
        for mname, m in self._modules.items():
            yield from m.named_parameters(prefix + mname + ".")

    def parameters(self) -> list[Parameter]:
        return [p for _, p in self.named_parameters()]

    def named_buffers(self, prefix: str = "") -> Iterator[tuple[str, np.ndarray]]:
        for name, b in self._buffers.items():
            yield prefix + name, b
        for mname, m in self._modules.items():
            yield from m.named_buffers(prefix + mname + ".")

    def modules(self) -> Iterator["Module"]:
        yield self
        for m in self._modules.values():
            yield from m.modules()

    def num_parameters(self) -> int:
        return int(sum(p.data.size for p in self.parameters()))

    # -- modes and gradients ------------------------------------------------------------------
    def train(self, mode: bool = True) -> "Module":
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self) -> "Module":
        return self.train(False)

    def zero_grad(self) -> None:
        """Mark every parameter's gradient as zero (lazy: see :class:`Parameter`)."""
        for p in self.parameters():
            p.zero_grad()

    # -- computation --------------------------------------------------------------------------
    def forward(self, x: np.ndarray):
        raise NotImplementedError

    def backward(self, grad_output: np.ndarray, ctx, need_input_grad: bool = True):
        raise NotImplementedError

    def __call__(self, x):
        """Forward only (no context kept): ``module(x) == module.forward(x)[0]``."""
        return self.forward(x)[0]

    @property
    def dtype(self):
        ps = self.parameters()
        return ps[0].data.dtype if ps else np.dtype(np.float32)

    def astype(self, dtype) -> "Module":
        """Cast every floating parameter (and its gradient) and floating buffer of this module and
        its children to ``dtype`` (float32 or float64), in place; returns the module.

        Integer buffers (Dropout's random-stream counter) are kept. Call it before building an
        optimizer: optimizers point the parameters at one flat buffer of the old dtype. A copy
        in another dtype is ``copy.deepcopy(module).astype(dtype)``.
        """
        dtype = np.dtype(dtype)
        if dtype not in (np.float32, np.float64):
            raise TypeError(f"astype: dtype must be np.float32 or np.float64, got {dtype}")
        for m in self.modules():
            m._astype_local(dtype)
        return self

    def _astype_local(self, dtype: np.dtype) -> None:
        """Cast this module's own parameters and floating buffers (not its children's)."""
        for p in self._parameters.values():
            if p is not None and p.data.dtype != dtype:
                p.data = np.ascontiguousarray(p.data, dtype=dtype)
                p._grad = np.ascontiguousarray(p._grad, dtype=dtype)
        for name, b in list(self._buffers.items()):
            if isinstance(b, np.ndarray) and np.issubdtype(b.dtype, np.floating) and b.dtype != dtype:
                self.register_buffer(name, np.ascontiguousarray(b, dtype=dtype))

    def transform(self, X, batch_size: int = 1024) -> np.ndarray:
        """Embeddings h(X) in evaluation mode, computed in batches; the mode is restored after.
        A pandas DataFrame is packed by the module's :class:`pyssl.tables.TabularEncoder`."""
        if not isinstance(X, np.ndarray):
            from ..tables import as_model_input

            X = as_model_input(self, X)
        X = check_array(X, "X", dtype=self.dtype, min_ndim=2)
        return in_eval_batches(self, X, batch_size, lambda x: self.forward(x)[0])

    # -- state ----------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, np.ndarray]:
        """Parameters and buffers by dotted name (copies)."""
        out = {name: p.data.copy() for name, p in self.named_parameters()}
        out.update({name: np.array(b, copy=True) for name, b in self.named_buffers()})
        return out

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Copy arrays into this module's parameters and buffers; names and shapes must match."""
        own_p = dict(self.named_parameters())
        own_b = dict(self.named_buffers())
        expected = set(own_p) | set(own_b)
        missing = sorted(expected - set(state))
        unexpected = sorted(set(state) - expected)
        if missing or unexpected:
            raise ValueError(f"state does not match {type(self).__name__}: missing keys {missing}, unexpected keys {unexpected}")
        for name, value in state.items():
            value = np.asarray(value)
            target = own_p[name].data if name in own_p else own_b[name]
            if value.shape != target.shape:
                raise ValueError(f"shape mismatch for {name!r}: checkpoint has {value.shape}, module has {target.shape}")
            target[...] = value

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__}({self.extra_repr()}"]
        for name, m in self._modules.items():
            sub = repr(m).replace("\n", "\n  ")
            lines.append(f"  ({name}): {sub}")
        return lines[0] + (")" if len(lines) == 1 else "\n" + "\n".join(lines[1:]) + "\n)")


def _small_linear(dtype, out=4):
    from .linear import Linear

    return Linear(4, out, dtype=dtype, seed=0)


def _sequential_example(dtype):
    from .activation import Tanh

    return Sequential(_small_linear(dtype, 3), Tanh())


@register_layer("sequential", example=_sequential_example)
class Sequential(Module):
    """Modules applied in order; the context is the list of the children's contexts."""

    def __init__(self, *layers: Module):
        super().__init__()
        for i, layer in enumerate(layers):
            if not isinstance(layer, Module):
                raise TypeError(f"Sequential takes Modules, got {type(layer).__name__} at position {i}")
            setattr(self, str(i), layer)

    @property
    def layers(self) -> list[Module]:
        return list(self._modules.values())

    def __len__(self) -> int:
        return len(self._modules)

    def __getitem__(self, i: int) -> Module:
        return self.layers[i]

    def forward(self, x):
        """Each layer's ``forward`` in order; a ReLU that follows a layer which ``fuses_relu``
        (BatchNorm1d) runs inside that layer's kernel (one pass over the activations instead of
        two, forward and backward; the ReLU's place in the context holds ``FUSED``)."""
        x = layer_input(self, x)
        layers = self.layers
        ctxs = []
        i = 0
        while i < len(layers):
            layer = layers[i]
            if i + 1 < len(layers) and layer.fuses_relu and layers[i + 1].is_relu and type(x) is np.ndarray:
                x, c = layer.forward_relu(x)
                ctxs += [c, FUSED]  # the ReLU ran inside the layer before it
                i += 2
            else:
                x, c = layer.forward(x)
                ctxs.append(c)
                i += 1
        return x, ctxs

    def backward(self, grad_output, ctx, need_input_grad: bool = True):
        layers = self.layers
        g = grad_output
        for i in range(len(layers) - 1, -1, -1):
            if ctx[i] is FUSED:
                continue  # differentiated by the layer before it, with the ReLU's mask
            g = layers[i].backward(g, ctx[i], need_input_grad=need_input_grad or i > 0)
        return g


class _Fused:
    """Placeholder context of a layer that ran fused into the layer before it."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "FUSED"


FUSED = _Fused()


@register_layer("identity")
class Identity(Module):
    """y = x (a placeholder layer, e.g. a head that keeps the features)."""

    def forward(self, x):
        return layer_input(self, x), None

    def backward(self, grad_output, ctx, need_input_grad: bool = True):
        return grad_output


class ShortcutSum(Module):
    """Base of residual blocks with an optional shortcut projection:
    ``y = body(x) + (shortcut(x) if shortcut else x)`` (He et al., 2016). Backward:
    dx = body'(x)ᵀ g + (shortcut'(x)ᵀ g or g). Subclasses set ``self.body`` (a Module) and
    ``self.shortcut`` (a Module, or None for the identity) in their ``__init__``.
    """

    body: Module
    shortcut: Module | None

    def forward(self, x):
        x = layer_input(self, x)
        y, cb = self.body.forward(x)
        if self.shortcut is None:
            return y + x, (cb, None)
        r, cr = self.shortcut.forward(x)
        return y + r, (cb, cr)

    def backward(self, grad_output, ctx, need_input_grad: bool = True):
        cb, cr = ctx
        dx = self.body.backward(grad_output, cb, need_input_grad=True)
        if self.shortcut is None:
            return dx + grad_output
        return dx + self.shortcut.backward(grad_output, cr, need_input_grad=True)


@register_layer("residual", example=lambda dt: Residual(_small_linear(dt)))
class Residual(Module):
    """Skip connection ``y = x + f(x)`` (He et al., 2016); ``f`` must keep the shape.
    Backward: dx = g + f'(x)ᵀ g.

    ``inner``: the wrapped module f (output shape = input shape).
    """

    def __init__(self, inner: Module):
        super().__init__()
        if not isinstance(inner, Module):
            raise TypeError(f"Residual wraps a Module, got {type(inner).__name__}")
        self.inner = inner

    def forward(self, x):
        x = layer_input(self, x)
        y, ctx = self.inner.forward(x)
        if y.shape != x.shape:
            raise ValueError(f"Residual: the inner module changed the shape {x.shape} -> {y.shape}")
        return x + y, ctx

    def backward(self, grad_output, ctx, need_input_grad: bool = True):
        g = self.inner.backward(grad_output, ctx, need_input_grad=True)
        return grad_output + g
