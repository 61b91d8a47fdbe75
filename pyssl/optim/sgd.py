"""Stochastic gradient descent with (Nesterov) momentum, torch.optim.SGD semantics."""
from __future__ import annotations

from .. import _core
from .._validation import check_scalar
from .base import Optimizer, check_beta


class SGD(Optimizer):
    r"""SGD with momentum, exactly as torch.optim.SGD (one fused C++ pass per step).

    .. math::

        d_t &= g_t + \lambda \theta_{t-1} \\
        b_t &= \begin{cases} d_t & t = 1 \\ \mu b_{t-1} + (1 - \tau) d_t & t > 1 \end{cases} \\
        d_t &\leftarrow d_t + \mu b_t \ \text{(nesterov)} \quad\text{or}\quad d_t \leftarrow b_t \\
        \theta_t &= \theta_{t-1} - \alpha_t d_t

    Symbols: α = ``lr`` (float or schedule), μ = ``momentum``, τ = ``dampening``,
    λ = ``weight_decay`` (coupled L2: added to the gradient), g = accumulated gradient. With
    μ = 0 there is no buffer and the update is θ ← θ − α(g + λθ).

    Reference: Sutskever, Martens, Dahl & Hinton (2013), "On the importance of initialization
    and momentum in deep learning" (Nesterov form as in torch).

    .. warning:: Convention. As torch: the learning rate multiplies the buffer *after* it is
       accumulated, the buffer is initialised to the first (decayed) gradient and not to
       (1 − τ)·g, and weight decay is applied to the gradient before the momentum. Sutskever et
       al. and TensorFlow's ``MomentumOptimizer`` fold α into the buffer (v ← μv − αg, θ ← θ + v);
       the two agree for a constant α but differ when α is scheduled.

    ``exclude_bias_and_norm=True`` skips weight decay for parameters whose ``decay`` flag is
    False (biases, normalisation parameters); the default decays every parameter, as torch does
    for a single parameter group.

    ``params``: the parameters to update: a Module, or a list of Parameters (or of parameter
    groups).
    """

    hyperparameter_names = ("momentum", "dampening", "nesterov", "weight_decay", "exclude_bias_and_norm")
    # set by _set_hyperparameters
    momentum: float
    dampening: float
    nesterov: bool
    weight_decay: float
    exclude_bias_and_norm: bool
    state_names = ("momentum_buffer",)
    writes_bf16_copy = True

    def __init__(self, params, lr, momentum: float = 0.0, dampening: float = 0.0, nesterov: bool = False,
                 weight_decay: float = 0.0, exclude_bias_and_norm: bool = False):
        hp = self._check_hyperparameters(momentum=momentum, dampening=dampening, nesterov=nesterov,
                                         weight_decay=weight_decay, exclude_bias_and_norm=exclude_bias_and_norm)
        super().__init__(params, lr)
        self._set_hyperparameters(hp)

    @staticmethod
    def _check_hyperparameters(*, momentum, dampening, nesterov, weight_decay, exclude_bias_and_norm) -> dict:
        momentum = check_beta(momentum, "momentum")
        dampening = float(check_scalar(dampening, "dampening", low=0.0, high=1.0))
        weight_decay = float(check_scalar(weight_decay, "weight_decay", low=0.0))
        if not isinstance(nesterov, bool):
            raise TypeError(f"The 'nesterov' parameter must be a bool, got {nesterov!r}")
        if not isinstance(exclude_bias_and_norm, bool):
            raise TypeError(f"The 'exclude_bias_and_norm' parameter must be a bool, got {exclude_bias_and_norm!r}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError(f"nesterov momentum requires momentum > 0 and dampening == 0, got momentum={momentum}, "
                             f"dampening={dampening}")
        return {"momentum": momentum, "dampening": dampening, "nesterov": nesterov, "weight_decay": weight_decay,
                "exclude_bias_and_norm": exclude_bias_and_norm}

    def _update(self, lr: float) -> bool:
        f = self.flat
        buf = self.state["momentum_buffer"] if self.momentum != 0 else None
        return _core.optim.sgd_step(f.layout, f.data, f.grad, buf, lr, self.momentum, self.dampening, self.weight_decay,
                             self.nesterov, self.step_count == 0, self.exclude_bias_and_norm, f.bf16)
