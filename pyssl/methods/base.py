"""Method: an extractor h_θ, pretext heads k_γ, a view maker P and a loss, trained by
``pyssl.pretrain``. Subclasses implement ``build_heads`` and ``training_step``.

A training step is a handful of C++ calls: the views are made by the augmentation kernels, the
encoder and heads run their forward kernels on the views concatenated into one batch, the fused
loss kernel returns the loss and its gradients, and the backward kernels accumulate parameter
gradients. Everything random is keyed by the step's seed, so a run is reproducible bit for bit.
"""
from __future__ import annotations

import copy

import numpy as np

from .. import distributed as _distributed
from .._registry import Registry
from .._seeding import derive_seed
from ..nn.module import Module
from ..nn.mlp import MLP


#: name -> Method class. ``example(encoder)`` builds it with settings small enough for the contract
#: tests (tests/contracts/test_methods.py) and ``data`` says what it trains on ("any": rows,
#: sequences and images alike; "images"; "tokens": a tokenizing TransformerEncoder).
#: ``experiments.METHOD_NAMES``, ``make_method`` and the CLI read this table: one ``@register_method`` line adds a method everywhere.
METHODS = Registry("method")


def register_method(name: str, cls=None, *, example=None, data: str = "any", **meta):
    """Register a :class:`Method` subclass under ``name`` (usable as a class decorator).

    Parameters
    ----------
    name : str
        The registry key (the CLI's ``--method`` value).
    cls : type, optional
        The Method subclass; omit to decorate.
    example : callable, optional
        ``example(encoder) -> Method`` with small settings (default: ``cls(encoder)``).
    data : str
        "any" for domain-agnostic methods, else the input kind it needs ("images"; "tokens": an encoder
        that is a ``pyssl.nn.TransformerEncoder`` with a tokenizer, as MAE).
    **meta
        Further metadata (``moving_target=True`` for methods whose loss follows a moving target).
    """
    def add(c):
        return METHODS.register(name, c, example=example or c, data=data, **meta)

    return add if cls is None else add(cls)


def output_dim(module: Module, X: np.ndarray) -> int:
    """Feature size of ``module``: its ``out_features`` attribute, else measured on two samples."""
    d = getattr(module, "out_features", None)
    if d is not None:
        return int(d)
    was = module.training
    module.eval()
    try:
        return int(module(np.ascontiguousarray(X[:2])).reshape(min(2, X.shape[0]), -1).shape[1])
    finally:
        module.train(was)


def frozen_copy(module: Module) -> Module:
    """A deep copy used as a momentum (teacher / target) network: same weights, own buffers."""
    return copy.deepcopy(module)


def forward_chain(modules, x):
    ctxs = []
    for m in modules:
        x, c = m.forward(x)
        ctxs.append(c)
    return x, ctxs


def backward_chain(modules, grad, ctxs, need_input_grad: bool = False):
    for i in range(len(modules) - 1, -1, -1):
        grad = modules[i].backward(grad, ctxs[i], need_input_grad=need_input_grad or i > 0)
    return grad


class Method:
    """Base class of pretraining methods.

    Parameters common to all methods: ``encoder`` (h_θ, any ``pyssl.nn.Module``), ``views`` (a
    callable ``views(x, seed) -> x̃`` making one augmented view; each method has a sensible
    domain-agnostic default) and ``seed`` (head initialisation).
    """

    #: trainable module attribute names, in order (encoder first)
    trainable_names: tuple[str, ...] = ("encoder",)
    #: modules that are kept in the state but not trained by gradient (momentum networks)
    target_names: tuple[str, ...] = ()
    #: extra arrays saved in the state (queues, centers)
    buffer_names: tuple[str, ...] = ()
    #: the processes of a data-parallel run (``pretrain`` sets it for the run; one process otherwise)
    group: _distributed.ProcessGroup = _distributed._LOCAL
    #: buffer name -> the constructor settings its shape follows (named in shape-mismatch errors)
    buffer_settings: dict = {}

    def __init__(self, encoder: Module, views=None, seed: int | None = 0):
        if not isinstance(encoder, Module):
            raise TypeError(f"encoder must be a pyssl.nn.Module, got {type(encoder).__name__}")
        if views is not None and not callable(views):
            hint = (f"; the string {views!r} is not a view maker, pass e.g. pyssl.pretext.ScarfCorruption() or "
                    "pyssl.pretext.sequence_views()") if isinstance(views, str) else ""
            raise TypeError(f"views must be None or a callable views(x, seed) -> x̃, got {type(views).__name__}{hint}")
        self.encoder = encoder
        self.views = views
        self.seed = 0 if seed is None else int(seed)
        self._built = False

    # -- set-up ---------------------------------------------------------------------------------
    def setup(self, X: np.ndarray) -> None:
        """Called by ``pretrain`` with the training set before the first step."""
        if self.views is None:
            self.views = self.default_views(X.ndim)
        from ..tables import table_layout_of  # packed mixed-type rows: views corrupt whole table columns

        layout = table_layout_of(self.encoder)
        if layout is not None:
            from ..pretext.compose import _set_table_layout  # also the ScarfCorruption inside a Compose

            _set_table_layout(self.views, layout)
        if hasattr(self.views, "fit"):
            self.views.fit(X)
        if not self._built:
            self.build_heads(output_dim(self.encoder, self.example_input(X)), X)
            self._built = True
            for name in self.trainable_names[1:]:
                head = getattr(self, name, None)
                if head is not None and head.parameters() and head.dtype != self.dtype:
                    raise TypeError(f"{type(self).__name__}: {name} has dtype {head.dtype} but the encoder has "
                                    f"{self.dtype}; cast it with {name}.astype(np.{self.dtype})")

    def example_input(self, X: np.ndarray) -> np.ndarray:
        """A small batch shaped like what the encoder sees (task methods transform X first)."""
        return X[:2]

    def default_views(self, ndim: int = 2):
        """Views by input rank (:func:`pyssl.pretext.default_views`): SCARF corruption for (N, D)
        rows, crop/jitter/scaling/time masking for (N, C, T) sequences, crop/flip/colour jitter
        for (N, C, H, W) images.

        Parameters
        ----------
        ndim : int
            The rank of the training array.
        """
        from ..pretext.compose import default_views

        return default_views(ndim)

    def build_heads(self, feature_dim: int, X: np.ndarray) -> None:
        """Create the heads that were not passed in (sizes known only once data is seen)."""

    @property
    def dtype(self) -> np.dtype:
        """The encoder's dtype: heads, queues and centers are built in it, and ``pretrain`` casts
        X to it (cast an encoder with ``encoder.astype(np.float64)``)."""
        return np.dtype(self.encoder.dtype)

    def mlp(self, dims, key: int, norm="batch", act="relu") -> MLP:
        return MLP(dims, norm=norm, act=act, dtype=self.dtype, seed=derive_seed(self.seed, key))

    # -- training ---------------------------------------------------------------------------------
    def trainable_modules(self) -> list[Module]:
        return [getattr(self, n) for n in self.trainable_names if getattr(self, n, None) is not None]

    def target_modules(self) -> list[Module]:
        return [getattr(self, n) for n in self.target_names if getattr(self, n, None) is not None]

    def parameters(self):
        return [p for m in self.trainable_modules() for p in m.parameters()]

    def zero_grad(self) -> None:
        for m in self.trainable_modules():
            m.zero_grad()

    def train(self, mode: bool = True) -> "Method":
        for m in self.trainable_modules():
            m.train(mode)
        return self

    def make_views(self, X: np.ndarray, seed: int, n_views: int = 2) -> list[np.ndarray]:
        """``n_views`` views of the batch X (this rank's rows of each, see :meth:`local`).

        In a data-parallel run, per-sample views (``views.per_sample``) are drawn for this rank's
        rows alone, with the draws those rows get in the whole batch
        (:func:`pyssl.pretext.sample_offset`); other views are drawn for the whole batch and sliced.
        """
        if self.group.world_size > 1 and getattr(self.views, "per_sample", False):
            from ..pretext import sample_offset

            rows = self.group.shard(X.shape[0])
            with sample_offset(rows.start):
                return [np.ascontiguousarray(v) for v in self.draw_views(np.ascontiguousarray(X[rows]), seed, n_views)]
        return [self.local(v) for v in self.draw_views(X, seed, n_views)]

    def draw_views(self, X: np.ndarray, seed: int, n_views: int = 2) -> list[np.ndarray]:
        """The views of the whole batch: view v is ``views(X, derive_seed(seed, v))``."""
        return [self.views(X, derive_seed(seed, v)) for v in range(n_views)]

    # -- data parallelism -------------------------------------------------------------------------
    # ``training_step`` always receives the whole (global) batch; its views and pseudolabels get the
    # random draws a single process would make (``make_views``), the network runs on this rank's
    # rows (``local``) and the loss on the rows of all ranks (``global_loss``). With one process
    # both are the identity.
    def local(self, a: np.ndarray) -> np.ndarray:
        """This rank's rows of an array that covers the whole batch (all of it with one process)."""
        return self.group.local_rows(a)

    def global_loss(self, fn, *outputs):
        """The loss ``fn`` of the whole batch from this rank's ``outputs``; returns the loss and this
        rank's rows of each gradient (:meth:`pyssl.distributed.ProcessGroup.global_loss`)."""
        return self.group.global_loss(fn, *outputs)

    def training_step(self, X: np.ndarray, seed: int) -> float:
        """Compute the pretext loss on batch X, accumulate gradients; return the loss."""
        raise NotImplementedError

    def on_step_end(self, step: int, total_steps: int) -> None:
        """Hook after the optimizer update (momentum networks, centers, queues)."""

    # -- state ----------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, np.ndarray]:
        out = {}
        for name in self.trainable_names + self.target_names:
            m = getattr(self, name, None)
            if m is not None:
                out.update({f"{name}.{k}": v for k, v in m.state_dict().items()})
        for name in self.buffer_names:
            out[f"buffer.{name}"] = np.array(getattr(self, name), copy=True)
        return out

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Load a ``state_dict()``: module names and shapes, and every buffer's shape, must match
        (buffers are checked before anything is copied)."""
        buffers = {}
        for name in self.buffer_names:
            key = f"buffer.{name}"
            if key not in state:
                raise ValueError(f"state has no {key!r} for {type(self).__name__}")
            own, saved = getattr(self, name), np.asarray(state[key])
            if saved.shape != own.shape:
                setting = self.buffer_settings.get(name, "settings")
                raise ValueError(f"{type(self).__name__}: buffer {name!r} has shape {saved.shape} in the state but "
                                 f"{own.shape} here; build the method with the same {setting} as the run that "
                                 "saved it")
            buffers[name] = saved
        for name in self.trainable_names + self.target_names:
            m = getattr(self, name, None)
            if m is None:
                continue
            prefix = name + "."
            m.load_state_dict({k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)})
        for name, saved in buffers.items():
            getattr(self, name)[...] = saved

    def __repr__(self) -> str:
        return f"{type(self).__name__}(encoder={type(self.encoder).__name__}, built={self._built})"
