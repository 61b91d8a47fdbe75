"""LARS: layer-wise adaptive rate scaling (You, Gitman & Ginsburg 2017), SimCLR / BYOL form."""
from __future__ import annotations

import numpy as np

from .. import _core
from .._validation import check_scalar
from .base import Optimizer, check_beta


class LARS(Optimizer):
    r"""LARS as in the SimCLR (google-research/simclr ``lars_optimizer.py``) and BYOL
    (deepmind/byol ``optimizers.py``) reference code, with classic momentum:

    .. math::

        g &\leftarrow g + \lambda \theta \\
        r &= \begin{cases} \eta \, \lVert\theta\rVert / (\lVert g\rVert + \epsilon)
              & \lVert\theta\rVert > 0 \text{ and } \lVert g\rVert > 0 \\ 1 & \text{otherwise} \end{cases} \\
        v &\leftarrow \mu v + \alpha_t \, r \, g \\
        \theta &\leftarrow \theta - v

    for every parameter θ (one tensor; the norms are over that tensor). Parameters excluded by
    ``exclude_bias_and_norm`` (``Parameter.decay`` False: biases, normalisation parameters) get
    neither decay nor adaptation: v ← μv + α g. Symbols: α = ``lr`` (float or schedule),
    μ = ``momentum``, λ = ``weight_decay``, η = ``trust_coefficient``, ε = ``eps``, v = state
    ``velocity`` (zero-initialised). ε = 0 reproduces the TensorFlow/JAX code bit for bit in
    formula; the default 1e-8 only matters when ‖g‖ is itself tiny.

    The norms are reductions, summed per fixed-size block in double and then in block order, so
    the update is bit-identical for any thread count. :attr:`trust_ratios` holds the last step's
    r per parameter.

    .. warning:: Conventions differ between libraries (not numerically identical):

       * here (SimCLR/BYOL): r uses ‖g + λθ‖; α is inside the momentum (v accumulates α r g).
       * official Barlow Twins / VICReg: same r = η‖θ‖/‖g + λθ‖, but μ ← mμ + r(g + λθ) and
         θ ← θ − α μ (α outside the momentum; equal to ours for constant α);
         1-D parameters excluded.
       * lightly / solo-learn: r = η‖θ‖ / (‖g‖ + λ‖θ‖ + ε) (norms added, not the norm of the
         sum), d = r (g + λθ), then torch-SGD momentum with the buffer initialised to d; solo-learn
         can also clip r/α at 1 (LARC, ``clip_lr``).
    """

    hyperparameter_names = ("momentum", "weight_decay", "trust_coefficient", "eps", "exclude_bias_and_norm")
    # set by _set_hyperparameters
    momentum: float
    weight_decay: float
    trust_coefficient: float
    eps: float
    exclude_bias_and_norm: bool
    state_names = ("velocity",)
    writes_bf16_copy = True

    def __init__(self, params, lr, momentum: float = 0.9, weight_decay: float = 1e-6,
                 trust_coefficient: float = 0.001, eps: float = 1e-8, exclude_bias_and_norm: bool = True):
        hp = self._check_hyperparameters(momentum=momentum, weight_decay=weight_decay,
                                         trust_coefficient=trust_coefficient, eps=eps,
                                         exclude_bias_and_norm=exclude_bias_and_norm)
        super().__init__(params, lr)
        self._set_hyperparameters(hp)
        self.trust_ratios: np.ndarray | None = None

    @staticmethod
    def _check_hyperparameters(*, momentum, weight_decay, trust_coefficient, eps, exclude_bias_and_norm) -> dict:
        if not isinstance(exclude_bias_and_norm, bool):
            raise TypeError(f"The 'exclude_bias_and_norm' parameter must be a bool, got {exclude_bias_and_norm!r}")
        return {"momentum": check_beta(momentum, "momentum"),
                "weight_decay": float(check_scalar(weight_decay, "weight_decay", low=0.0)),
                "trust_coefficient": float(check_scalar(trust_coefficient, "trust_coefficient", low=0.0,
                                                        low_inclusive=False)),
                "eps": float(check_scalar(eps, "eps", low=0.0)),
                "exclude_bias_and_norm": exclude_bias_and_norm}

    def _update(self, lr: float) -> bool:
        f = self.flat
        self.trust_ratios, finite = _core.optim.lars_step(f.layout, f.data, f.grad, self.state["velocity"], lr,
                                                          self.momentum, self.weight_decay, self.trust_coefficient,
                                                          self.eps, self.exclude_bias_and_norm, f.bf16)
        return finite
