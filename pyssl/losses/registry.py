"""The loss registry: name → fused loss ``fn(*arrays, **hyper) -> (loss, *grads)``.

Every loss of :mod:`pyssl.losses` (and the supervised ``cross_entropy`` and ``mse`` of
:mod:`pyssl.nn`) is registered with one decorator line next to its definition::

    @register_loss("vicreg", inputs=pair(scale=0.5))
    def vicreg(z1, z2, ...): ...

The metadata is what the contract suites (``tests/contracts/test_losses.py``) need to check every
entry without a per-loss table: ``inputs(rng, dtype, n, d)`` makes example arguments, ``wrt`` the
indices of the arguments the returned gradients belong to (default: the first ``len(grads)``),
``fd`` False where a finite difference cannot check the gradient (SwAV's codes are treated as
constants), and ``task(out, z)`` adapts the loss to a pretext task's pseudolabels z
(:class:`pyssl.methods.PretextTaskMethod` resolves ``task.loss`` through it).

Tuple losses (VIME's mask and feature terms) are a weighted sum: :func:`task_loss` accepts a tuple
of names with weights and returns one ``(loss, douts)`` callable.
"""
from __future__ import annotations

import numpy as np

from .._registry import Registry

LOSSES = Registry("loss")


def register_loss(name: str, fn=None, **meta):
    """Register a fused loss under ``name`` (usable as a decorator); see the module docstring.

    Parameters
    ----------
    name : str
        The registry key, e.g. ``"nt_xent"``.
    fn : callable, optional
        ``fn(*arrays, **hyper) -> (loss, *grads)``; omit to decorate.
    **meta
        ``inputs``, ``wrt``, ``fd``, ``f32_rtol`` and ``task`` (see the module docstring).
    """
    return LOSSES.register(name, fn, **meta)


# --- example inputs for the contract checks: ``make(rng, dtype, n, d) -> list of arguments`` --------

def pair(scale: float = 1.0, uniform: bool = False):
    """Two (n, d) arrays of standard normals times ``scale`` (uniform in [-1, 1] when ``uniform``).

    Parameters
    ----------
    scale : float
        Multiplies both arrays.
    uniform : bool
        Draw from U(-1, 1) instead of N(0, 1).
    """
    def make(rng, dtype, n, d):
        draw = (lambda: rng.uniform(-1, 1, (n, d))) if uniform else (lambda: rng.standard_normal((n, d)))
        return [(scale * draw()).astype(dtype), (scale * draw()).astype(dtype)]
    return make


def with_mask(arity: int, p: float = 0.4):
    """``arity`` (n, d) normal arrays followed by a 0/1 mask of the same shape (P(1) = ``p``).

    Parameters
    ----------
    arity : int
        Number of value arrays before the mask.
    p : float
        Probability of a one in the mask.
    """
    def make(rng, dtype, n, d):
        values = [rng.standard_normal((n, d)).astype(dtype) for _ in range(arity)]
        return values + [(rng.random((n, d)) < p).astype(dtype)]
    return make


def with_labels(classes: int | None = None, views: int | None = None):
    """An (n, d) normal array and (n,) int64 labels: ``classes`` classes, or the sample index of
    ``views`` stacked views (rows with equal labels are positives).

    Parameters
    ----------
    classes : int, optional
        Number of classes (default: d).
    views : int, optional
        Label the rows as ``views`` views of n // views samples instead.
    """
    def make(rng, dtype, n, d):
        if views:  # n rounded down to whole views
            labels = np.tile(np.arange(max(n // views, 1)), views)
        else:
            labels = rng.integers(0, classes or d, n)
        z = rng.standard_normal((labels.shape[0], d)).astype(dtype)
        return [z, np.ascontiguousarray(labels, dtype=np.int64)]
    return make


def with_queue(size: int = 16):
    """Query and key (n, d) normals and a (``size``, d) queue of negatives (MoCo's InfoNCE).

    Parameters
    ----------
    size : int
        Rows of the queue.
    """
    def make(rng, dtype, n, d):
        return [rng.standard_normal((n, d)).astype(dtype), rng.standard_normal((n, d)).astype(dtype),
                rng.standard_normal((size, d)).astype(dtype)]
    return make


def multi_crop(student_views: int = 3, teacher_views: int = 2):
    """DINO's student (Vs, n, d) and teacher (Vt, n, d) outputs and a (d,) centre.

    Parameters
    ----------
    student_views, teacher_views : int
        Views of the student and of the teacher.
    """
    def make(rng, dtype, n, d):
        return [rng.standard_normal((student_views, n, d)).astype(dtype),
                rng.standard_normal((teacher_views, n, d)).astype(dtype),
                (0.1 * rng.standard_normal(d)).astype(dtype)]
    return make


# --- pretext-task adapters: ``task(out, z) -> (loss, dout)`` ------------------------------------

def like(z, out):
    """``z`` reshaped to ``out``'s shape, C-contiguous in ``out``'s dtype (a task's dense target)."""
    return np.ascontiguousarray(np.asarray(z).reshape(out.shape), dtype=out.dtype)


def instance_task(out, z):
    """Instance discrimination over V stacked views (z = sample index): NT-Xent for two views,
    its V-view generalisation (SupCon with the sample index as the label) otherwise."""
    from .nt_xent import nt_xent
    from .sup_con import sup_con

    z = np.asarray(z)
    n = z.shape[0] // 2
    if z.shape[0] == 2 * n and np.array_equal(z[:n], np.arange(n)) and np.array_equal(z[n:], np.arange(n)):
        loss, d1, d2 = nt_xent(out[:n], out[n:])
        return loss, np.concatenate([d1, d2])
    return sup_con(out, z)


def task_loss(name, weights=None):
    """One ``fn(outs, z) -> (loss, douts)`` for a pretext task's ``loss`` (and ``loss_weights``).

    A single name gives ``fn(out, z) -> (loss, dout)``; a tuple of names, the weighted sum
    L = Σ_i w_i L_i(out_i, z_i) as ``fn(outs, zs) -> (loss, [dout_i])``.

    Parameters
    ----------
    name : str or tuple of str
        Registered loss names with a task adapter.
    weights : sequence of float, optional
        One weight per name for a tuple (default: all 1).
    """
    if isinstance(name, (tuple, list)):
        fns = [task_loss(n) for n in name]
        w = [1.0] * len(fns) if weights is None else [float(v) for v in weights]
        if len(w) != len(fns):
            raise ValueError(f"loss_weights must have one weight per loss {tuple(name)}, got {tuple(w)}")

        def combined(outs, zs):
            total, grads = 0.0, []
            for f, wi, o, zi in zip(fns, w, outs, zs):
                loss, g = f(o, zi)
                total += wi * loss
                grads.append(wi * g if wi != 1.0 else g)
            return total, grads
        return combined
    entry = LOSSES.entry(name)
    if entry.task is None:
        with_task = sorted(e.name for e in LOSSES.entries(lambda e: e.task is not None))
        raise ValueError(f"loss {name!r} cannot score a pretext task's pseudolabels; a task's loss must be "
                         f"one of {with_task}")
    return entry.task


def _register_supervised():
    from ..nn.losses import cross_entropy, mse

    register_loss("cross_entropy", cross_entropy, inputs=with_labels(),
                  task=lambda out, z: cross_entropy(out, np.ascontiguousarray(z, dtype=np.int64)))
    register_loss("mse", mse, inputs=pair(), wrt=(0,), task=lambda out, z: mse(out, like(z, out)))


_register_supervised()
