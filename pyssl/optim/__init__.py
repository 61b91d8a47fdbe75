"""Gradient-descent updates θ ← θ − α ∇L(θ) as fused in-place C++ kernels, and LR schedules.

Every optimizer flattens its parameters into one buffer (:class:`FlatParams`) and applies one
fused C++ call per ``step()`` over the whole model.

Example::

    opt = pyssl.optim.LARS(model, lr=LinearWarmupCosine(0.3, total_steps=1000, warmup_steps=100))
    for x in batches:
        opt.zero_grad()
        ...                       # forward, loss, backward: gradients accumulate in p.grad
        clip_grad_norm(opt, 3.0)  # optional
        opt.step()
"""
from .flat import FlatParams, flat_view
from .base import Optimizer
from .sgd import SGD
from .adam import Adam, AdamW
from .lars import LARS
from .clip import clip_grad_norm
from .ema import ema_update, cosine_momentum
from .schedules import Schedule, Constant, StepLR, LinearWarmupCosine
from . import schedules

__all__ = ["FlatParams", "flat_view", "Optimizer", "SGD", "Adam", "AdamW", "LARS", "clip_grad_norm", "ema_update",
           "cosine_momentum", "Schedule", "Constant", "StepLR", "LinearWarmupCosine", "schedules"]
