"""The pretraining loop: ``pretrain(method, X, epochs, batch_size, seed=0, optimizer=None, ...)``.

Each step: seeded batch → views (C++ augmentations) → encoder/head forward → fused loss and
gradient → backward → fused optimizer update → method hooks (EMA, queues, centers). The shuffle
of epoch e and every draw of step k are keyed by (seed, e) and (seed, k), so a run repeats bit for
bit at the same thread count, and a run resumed from a checkpoint continues exactly as if it had
not stopped.
"""
from __future__ import annotations

import math
import numbers
import time

import numpy as np

from ._seeding import derive_seed
from ._validation import NonFiniteError, check_array, check_scalar, check_seed
from .nn import precision as _precision


class History(dict):
    """Per-epoch records: ``history["loss"]`` (mean pretext loss per epoch), ``"epoch_time"``
    (seconds), ``"lr"`` (learning rate at the epoch's last step), plus whatever callbacks add."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


#: ``pretrain(epochs=None)``: about this many optimizer steps, whatever the size of X ...
DEFAULT_STEPS = 1500
#: ... with the epochs clipped to this range (tiny sets: at most 1000 passes; large sets: at least 20)
DEFAULT_EPOCH_RANGE = (20, 1000)


def default_epochs(n_samples: int, batch_size: int, drop_last: bool = True) -> int:
    """Epochs of ``pretrain(epochs=None)``: about ``DEFAULT_STEPS`` = 1500 optimizer steps,

        epochs = clip(round(1500 / steps_per_epoch), 20, 1000),  steps_per_epoch = N // B

    (⌈N / B⌉ without ``drop_last``; B is the global batch, lowered to N when larger). A fixed
    number of epochs gives a small set few updates (124 wine rows in batches of 32: 300 steps in
    100 epochs) and a large one many; a fixed step count held up better across the seven datasets
    of ``benchmarks/bench_defaults_sweep.py`` (benchmarks/results/defaults_sweep.md).

    Parameters
    ----------
    n_samples : int
        Rows of the pretraining set N.
    batch_size : int
        Rows per optimizer step B (all processes together).
    drop_last : bool
        Whether the last partial batch of an epoch is dropped (``pretrain``'s argument).
    """
    n_samples = int(check_scalar(n_samples, "n_samples", kind=numbers.Integral, low=1))
    batch_size = min(int(check_scalar(batch_size, "batch_size", kind=numbers.Integral, low=1)), n_samples)
    per_epoch = max(1, n_samples // batch_size if drop_last else math.ceil(n_samples / batch_size))
    low, high = DEFAULT_EPOCH_RANGE
    return int(min(high, max(low, round(DEFAULT_STEPS / per_epoch))))


def _default_optimizer(params, lr, weight_decay, total_steps, warmup_steps):
    from .optim import AdamW, LinearWarmupCosine

    sched = LinearWarmupCosine(lr, total_steps=max(total_steps, 1), warmup_steps=warmup_steps, final_lr=lr * 0.01)
    return AdamW(params, lr=sched, weight_decay=weight_decay)


def _check_pretrain_args(method, X, epochs, batch_size, lr, weight_decay, warmup_epochs, optimizer, callbacks,
                         progress, max_grad_norm):
    """Validate ``pretrain``'s arguments before any work; return ``(X, batch_size, callbacks)``.

    Errors name the argument and the fix; adjustments that change the run (a batch larger than X,
    a zero learning rate, schedule arguments an explicit optimizer ignores) warn once per call.
    """
    import warnings

    from .methods.base import Method
    from .nn.module import Module
    from .optim import Optimizer

    if not isinstance(method, Method):
        hint = (f"; wrap the encoder in a method, e.g. pyssl.pretrain(pyssl.methods.SimCLR(encoder), X)"
                if isinstance(method, Module) else "")
        raise TypeError(f"method must be a pyssl.methods.Method, got {type(method).__name__}{hint}")
    if isinstance(epochs, (np.ndarray, list, tuple)):
        raise TypeError("epochs must be an int, got an array: pretraining is self-supervised and takes no labels; "
                        "call pyssl.pretrain(method, X, epochs=100) and pass y to the downstream probe")
    if epochs is not None:
        check_scalar(epochs, "epochs", kind=numbers.Integral, low=1)
    check_scalar(batch_size, "batch_size", kind=numbers.Integral, low=2)
    for name, value in (("lr", lr), ("weight_decay", weight_decay)):
        if isinstance(value, str):
            raise TypeError(f"The '{name}' parameter must be a number, got the string {value!r}; "
                            f"pass it without quotes, e.g. {name}=1e-3")
        check_scalar(value, name, low=0.0)
    check_scalar(warmup_epochs, "warmup_epochs", kind=numbers.Integral, low=0)
    if epochs is not None and warmup_epochs > epochs:
        raise ValueError(f"The 'warmup_epochs' parameter must be <= epochs ({epochs}), got {warmup_epochs}")
    if max_grad_norm is not None:
        check_scalar(max_grad_norm, "max_grad_norm", low=0.0, low_inclusive=False)
    if progress is not None and not isinstance(progress, bool):
        raise TypeError(f"progress must be True, False or None (on when stderr is a terminal), got {progress!r}")
    if optimizer is not None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"optimizer must be a pyssl.optim optimizer, e.g. pyssl.optim.AdamW(method.parameters()), "
                            f"or None for the default AdamW; got {type(optimizer).__name__}")
        import inspect

        defaults = inspect.signature(pretrain).parameters
        ignored = [k for k, v in (("lr", lr), ("weight_decay", weight_decay), ("warmup_epochs", warmup_epochs))
                   if v != defaults[k].default]
        if ignored:
            warnings.warn(f"{', '.join(ignored)} configure the default optimizer and are ignored when optimizer is "
                          "given; set them on the optimizer (its lr may be a schedule such as "
                          "pyssl.optim.LinearWarmupCosine)", UserWarning, stacklevel=3)
    elif lr == 0:
        warnings.warn("lr=0: the default optimizer will leave the weights unchanged", UserWarning, stacklevel=3)
    if callable(callbacks) or isinstance(callbacks, (str, bytes)):
        raise TypeError(f"callbacks must be a list of callables, got one {type(callbacks).__name__}; "
                        "wrap it in a list: callbacks=[cb]")
    try:
        callbacks = list(callbacks or ())
    except TypeError:
        raise TypeError(f"callbacks must be a list of callables, got {type(callbacks).__name__}") from None
    for i, cb in enumerate(callbacks):
        if not callable(cb):
            raise TypeError(f"callbacks[{i}] must be a callable cb(epoch, history, method), got {type(cb).__name__}")
    from .tables import as_model_input  # a DataFrame: packed by the encoder's table schema (fitted here)

    X = as_model_input(method.encoder, X, fit=True)
    X = check_array(X, "X", dtype=method.dtype, min_ndim=2)
    n = X.shape[0]
    if n < 2:
        raise ValueError(f"X needs at least 2 samples for self-supervised pretraining, got {n}")
    if batch_size > n:
        warnings.warn(f"batch_size={batch_size} is larger than the {n} samples of X; using batch_size={n} "
                      "(one step per epoch)", UserWarning, stacklevel=3)
        batch_size = n
    return X, int(batch_size), callbacks


def _check_optimizer_covers(optimizer, method) -> None:
    """An explicit optimizer must update every trainable parameter of the built method."""
    own = {id(p) for p in optimizer.flat.params}
    missing = [p for p in method.parameters() if id(p) not in own]
    if missing:
        raise ValueError(f"optimizer does not update {len(missing)} of the {len(method.parameters())} parameters of "
                         f"{type(method).__name__} (heads are built from the data): call method.setup(X) before "
                         "building the optimizer over method.parameters()")


def pretrain(method, X, epochs: int | None = None, batch_size: int = 256, seed: int = 0, optimizer=None,
             lr: float = 1e-3, weight_decay: float = 1e-4, warmup_epochs: int = 0, callbacks=(),
             progress: bool | None = None, checkpoint=None, resume=None, max_grad_norm: float | None = None,
             drop_last: bool = True, distributed=None, sync_batchnorm: bool = True,
             precision: str = "32") -> History:
    """Pretrain ``method`` (encoder h_θ + heads k_γ) on unlabeled ``X``.

    Parameters
    ----------
    method : pyssl.methods.Method
    X : array (N, ...) of unlabeled samples (cast to the encoder's dtype, float32 unless the encoder
        was cast with ``encoder.astype(np.float64)``), or a pandas DataFrame with numeric, categorical
        and missing entries when the encoder is a :class:`pyssl.tables.TabularEncoder` (its schema is
        fitted on this frame if it is not yet).
    epochs, batch_size : passes over X and samples per step (the last partial batch is dropped
        when ``drop_last``; batches smaller than 2 are always dropped). A batch_size larger than N
        is lowered to N with a warning. ``epochs=None`` (default): about 1500 optimizer steps,
        ``clip(round(1500 / steps_per_epoch), 20, 1000)`` epochs (:func:`default_epochs`; 100
        epochs before the sweep of ``benchmarks/bench_defaults_sweep.py``).
    seed : fixes the shuffles, the views and every other random draw of the run.
    optimizer : a ``pyssl.optim`` optimizer over ``method.parameters()``; default AdamW with
        linear warmup (``warmup_epochs``) and cosine decay from ``lr`` to ``lr/100``.
    lr, weight_decay, warmup_epochs : peak learning rate, decoupled weight decay and warmup length
        (in epochs) of the default optimizer; ignored (with a warning) when ``optimizer`` is given.
    callbacks : list of callables ``cb(epoch, history, method)`` run after each epoch, in order;
        returning the string ``"stop"`` ends training. ``pyssl.callbacks`` ships EarlyStopping,
        KNNMonitor, CSVLogger and TensorBoardLogger.
    progress : tqdm progress bar with the running loss (default: on when stderr is a terminal).
    checkpoint : path; the full training state is written there (atomically) after each epoch.
    resume : path of a checkpoint written by a run with the same arguments; training continues
        from the epoch after it, bit-exactly.
    max_grad_norm : clip the global gradient norm before each update.
    distributed : data parallelism over MPI processes (see :mod:`pyssl.distributed`). ``None``
        (default): on when the script was started by ``mpiexec -n W`` with W > 1; ``False``: off;
        ``True``: the world group; or a ``ProcessGroup``. With W processes every step takes a
        *global* batch of ``W × batch_size`` rows from the same seeded permutation on every rank;
        each rank runs the network on its ``batch_size`` rows, losses are computed over the global
        batch, and the ranks' gradients are summed before the update — the same update as one
        process with ``batch_size=W × batch_size`` (to float32 rounding). Rank 0 alone writes
        checkpoints and draws the progress bar; every rank resumes from the same file; callbacks run
        on every rank and see the global loss.
    sync_batchnorm : with W > 1, BatchNorm layers normalise with the statistics of the global
        batch (default; required for the equivalence above). ``False`` keeps per-rank statistics.
    precision : ``"32"`` (default, float32 throughout) or ``"bf16-mixed"``: the Linear layers'
        matrix products read bfloat16 operands and sum in float32 (oneDNN, on the CPU's
        AVX512-BF16/AMX units); parameters, optimizer state, norms and losses stay float32
        (:mod:`pyssl.nn.precision`). Like PyTorch's bf16 autocast, losses differ from a float32
        run in the third or fourth significant digit.

    Returns
    -------
    History with ``loss`` per epoch.
    """
    from . import distributed as _distributed
    from .nn.checkpoint import load_state, save_state
    from .optim import clip_grad_norm

    X, batch_size, callbacks = _check_pretrain_args(method, X, epochs, batch_size, lr, weight_decay, warmup_epochs,
                                                    optimizer, callbacks, progress, max_grad_norm)
    seed = check_seed(seed)
    precision = _precision.check_precision(precision)
    if precision == "bf16-mixed" and X.dtype != np.float32:
        raise ValueError(f"precision='bf16-mixed' applies to float32 encoders, got X of dtype {X.dtype}; "
                         "use precision='32' for float64 runs")
    group = _distributed.resolve(distributed)
    world = group.world_size
    n = X.shape[0]
    if epochs is None:
        epochs = default_epochs(n, min(int(batch_size) * world, n), drop_last)
        if warmup_epochs > epochs:
            raise ValueError(f"The 'warmup_epochs' parameter must be <= epochs ({epochs}, the default for {n} samples "
                             f"in batches of {batch_size}), got {warmup_epochs}")
    if world > 1:
        if n < 2 * world:
            raise ValueError(f"X has {n} samples, too few for {world} processes (each needs at least 2 rows a step)")
        group.check_same([*X.shape, _distributed.checksum(X), seed, int(batch_size), int(epochs), int(drop_last)],
                         "X (shape, contents), seed, batch_size, epochs or drop_last")
    # The global batch: world × batch_size rows (one process: batch_size).
    batch_size = min(int(batch_size) * world, n)
    steps_per_epoch = n // batch_size if drop_last else math.ceil(n / batch_size)
    if not drop_last and 0 < n % batch_size < 2 * world:
        steps_per_epoch -= 1  # never a batch of one (on any rank)
    total_steps = epochs * steps_per_epoch

    method.group = group
    method.setup(X)
    method.train(True)
    if optimizer is None:
        optimizer = _default_optimizer(method.parameters(), lr, weight_decay, total_steps,
                                       warmup_epochs * steps_per_epoch)
    else:
        _check_optimizer_covers(optimizer, method)

    history = History(loss=[], epoch_time=[], lr=[])
    start_epoch = 0
    if resume is not None:
        arrays, meta = load_state(resume)
        if meta.get("kind") != "pretrain":
            raise ValueError(f"{resume!r} is not a pretraining checkpoint")
        if meta.get("seed") != seed or meta.get("batch_size") != batch_size or meta.get("n") != n:
            raise ValueError("resume: the checkpoint was written with a different seed, global batch size or data "
                             f"size ({meta.get('seed')}, {meta.get('batch_size')}, {meta.get('n')}) than this call "
                             f"({seed}, {batch_size}, {n})")
        if meta.get("world_size", 1) != world:
            raise ValueError(f"resume: the checkpoint was written by {meta.get('world_size', 1)} process(es), this run "
                             f"has {world}; resume with the same number of processes")
        method.load_state_dict({k[7:]: v for k, v in arrays.items() if k.startswith("method.")})
        optimizer.load_state_arrays({k[4:]: v for k, v in arrays.items() if k.startswith("opt.")},
                                    meta["optimizer_state"])
        history = History(meta["history"])
        start_epoch = int(meta["epoch"]) + 1

    bar = None
    if progress is None:
        import sys

        progress = sys.stderr.isatty()
    if progress and group.is_main:
        from tqdm.auto import tqdm

        bar = tqdm(total=total_steps, initial=start_epoch * steps_per_epoch, desc=type(method).__name__,
                   unit="step", leave=False)
    previous_bn_group = _distributed.set_batch_norm_group(group if sync_batchnorm else None)
    copies = _precision.weight_copies([optimizer], precision)
    copies.__enter__()
    try:
        for epoch in range(start_epoch, epochs):
            t0 = time.perf_counter()
            order = np.random.default_rng(derive_seed(seed, 0x5EED, epoch)).permutation(n)
            total = 0.0
            for b in range(steps_per_epoch):
                step = epoch * steps_per_epoch + b
                idx = np.sort(order[b * batch_size:(b + 1) * batch_size])
                xb = X[idx]
                method.zero_grad()
                with _precision.autocast(precision):
                    loss = float(method.training_step(xb, derive_seed(seed, step)))
                if not math.isfinite(loss):
                    raise NonFiniteError(
                        f"{type(method).__name__}: the pretext loss became {loss} at epoch {epoch}, step {step}; "
                        "lower the learning rate, raise the temperature, or clip gradients (max_grad_norm)")
                group.sum_gradients(optimizer)  # data parallel: Σ over ranks (no-op for one)
                if max_grad_norm is not None:
                    clip_grad_norm(method.parameters(), max_grad_norm)
                optimizer.step()
                optimizer.check_finite(f"at epoch {epoch}, step {step}")
                method.on_step_end(step, total_steps)
                total += loss
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(epoch=epoch, loss=f"{loss:.4f}", refresh=False)  # redrawn by update
            history["loss"].append(total / steps_per_epoch)
            history["epoch_time"].append(time.perf_counter() - t0)
            history["lr"].append(float(optimizer.lr_now))
            if checkpoint is not None and group.is_main:
                arrays = {f"method.{k}": v for k, v in method.state_dict().items()}
                opt_arrays, opt_meta = optimizer.state_arrays()
                arrays.update({f"opt.{k}": v for k, v in opt_arrays.items()})
                save_state(checkpoint, arrays, meta={"kind": "pretrain", "epoch": epoch, "seed": seed,
                                                     "optimizer_state": opt_meta,
                                                     "batch_size": batch_size, "n": n, "history": dict(history),
                                                     "world_size": world,
                                                     "method": type(method).__name__})
            if checkpoint is not None:
                group.barrier()  # the file is complete before any rank may read it
            stop = False
            for cb in callbacks:
                if cb(epoch, history, method) == "stop":
                    stop = True
            if stop:
                break
    finally:
        copies.__exit__(None, None, None)
        _distributed.set_batch_norm_group(previous_bn_group)
        method.group = _distributed._LOCAL
        if bar is not None:
            bar.close()
    method.train(False)
    return history
