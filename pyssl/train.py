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


class History(dict):
    """Per-epoch records: ``history["loss"]`` (mean pretext loss per epoch), ``"epoch_time"``
    (seconds), ``"lr"`` (learning rate at the epoch's last step), plus whatever callbacks add."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def _default_optimizer(params, lr, weight_decay, total_steps, warmup_steps):
    from .optim import AdamW, LinearWarmupCosine

    sched = LinearWarmupCosine(lr, total_steps=max(total_steps, 1), warmup_steps=warmup_steps, final_lr=lr * 0.01)
    return AdamW(params, lr=sched, weight_decay=weight_decay)


def pretrain(method, X, epochs: int = 100, batch_size: int = 256, seed: int = 0, optimizer=None,
             lr: float = 1e-3, weight_decay: float = 1e-4, warmup_epochs: int = 0, callbacks=(),
             progress: bool | None = None, checkpoint=None, resume=None, max_grad_norm: float | None = None,
             drop_last: bool = True) -> History:
    """Pretrain ``method`` (encoder h_θ + heads k_γ) on unlabeled ``X``.

    Parameters
    ----------
    method : pyssl.methods.Method
    X : array (N, ...) of unlabeled samples (cast to float32).
    epochs, batch_size : passes over X and samples per step (the last partial batch is dropped
        when ``drop_last``; batches smaller than 2 are always dropped).
    seed : fixes the shuffles, the views and every other random draw of the run.
    optimizer : a ``pyssl.optim`` optimizer over ``method.parameters()``; default AdamW with
        linear warmup (``warmup_epochs``) and cosine decay from ``lr`` to ``lr/100``.
    callbacks : callables ``cb(epoch, history, method)`` run after each epoch; returning the
        string ``"stop"`` ends training.
    progress : tqdm progress bar with the running loss (default: on when stderr is a terminal).
    checkpoint : path; the full training state is written there (atomically) after each epoch.
    resume : path of a checkpoint written by a run with the same arguments; training continues
        from the epoch after it, bit-exactly.
    max_grad_norm : clip the global gradient norm before each update.

    Returns
    -------
    History with ``loss`` per epoch.
    """
    from .nn.checkpoint import load_state, save_state
    from .optim import clip_grad_norm

    X = check_array(X, "X", dtype=np.float32, min_ndim=2)
    check_scalar(epochs, "epochs", kind=numbers.Integral, low=1)
    check_scalar(batch_size, "batch_size", kind=numbers.Integral, low=2)
    seed = check_seed(seed)
    n = X.shape[0]
    if n < 2:
        raise ValueError(f"X needs at least 2 samples for self-supervised pretraining, got {n}")
    batch_size = min(int(batch_size), n)
    steps_per_epoch = n // batch_size if drop_last else math.ceil(n / batch_size)
    if not drop_last and n % batch_size == 1:
        steps_per_epoch -= 1  # never a batch of one
    total_steps = epochs * steps_per_epoch

    method.setup(X)
    method.train(True)
    if optimizer is None:
        optimizer = _default_optimizer(method.parameters(), lr, weight_decay, total_steps,
                                       warmup_epochs * steps_per_epoch)

    history = History(loss=[], epoch_time=[], lr=[])
    start_epoch = 0
    if resume is not None:
        arrays, meta = load_state(resume)
        if meta.get("kind") != "pretrain":
            raise ValueError(f"{resume!r} is not a pretraining checkpoint")
        if meta.get("seed") != seed or meta.get("batch_size") != batch_size or meta.get("n") != n:
            raise ValueError("resume: the checkpoint was written with a different seed, batch_size or data size "
                             f"({meta.get('seed')}, {meta.get('batch_size')}, {meta.get('n')}) than this call "
                             f"({seed}, {batch_size}, {n})")
        method.load_state_dict({k[7:]: v for k, v in arrays.items() if k.startswith("method.")})
        optimizer.load_state_arrays({k[4:]: v for k, v in arrays.items() if k.startswith("opt.")},
                                    meta["optimizer_state"])
        history = History(meta["history"])
        start_epoch = int(meta["epoch"]) + 1

    bar = None
    if progress is None:
        import sys

        progress = sys.stderr.isatty()
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=total_steps, initial=start_epoch * steps_per_epoch, desc=type(method).__name__,
                   unit="step", leave=False)
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
                loss = float(method.training_step(xb, derive_seed(seed, step)))
                if not math.isfinite(loss):
                    raise NonFiniteError(
                        f"{type(method).__name__}: the pretext loss became {loss} at epoch {epoch}, step {step}; "
                        "lower the learning rate, raise the temperature, or clip gradients (max_grad_norm)")
                if max_grad_norm is not None:
                    clip_grad_norm(method.parameters(), max_grad_norm)
                optimizer.step()
                optimizer.check_finite(f"at epoch {epoch}, step {step}")
                method.on_step_end(step, total_steps)
                total += loss
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(epoch=epoch, loss=f"{loss:.4f}")
            history["loss"].append(total / steps_per_epoch)
            history["epoch_time"].append(time.perf_counter() - t0)
            history["lr"].append(float(optimizer.lr_now))
            if checkpoint is not None:
                arrays = {f"method.{k}": v for k, v in method.state_dict().items()}
                opt_arrays, opt_meta = optimizer.state_arrays()
                arrays.update({f"opt.{k}": v for k, v in opt_arrays.items()})
                save_state(checkpoint, arrays, meta={"kind": "pretrain", "epoch": epoch, "seed": seed,
                                                     "optimizer_state": opt_meta,
                                                     "batch_size": batch_size, "n": n, "history": dict(history),
                                                     "method": type(method).__name__})
            stop = False
            for cb in callbacks:
                if cb(epoch, history, method) == "stop":
                    stop = True
            if stop:
                break
    finally:
        if bar is not None:
            bar.close()
    method.train(False)
    return history
