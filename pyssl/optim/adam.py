"""Adam (Kingma & Ba 2015) and AdamW (Loshchilov & Hutter 2019): one fused C++ kernel, two flags."""
from __future__ import annotations

import math

from .. import _core
from .._validation import check_scalar
from .base import Optimizer, check_beta


def _check_adam(betas, eps, weight_decay, exclude_bias_and_norm) -> dict:
    try:
        b1, b2 = betas
    except (TypeError, ValueError):
        raise TypeError(f"The 'betas' parameter must be a pair (beta1, beta2), got {betas!r}") from None
    b1 = check_beta(b1, "betas[0]")
    b2 = check_beta(b2, "betas[1]")
    eps = float(check_scalar(eps, "eps", low=0.0, low_inclusive=False))
    weight_decay = float(check_scalar(weight_decay, "weight_decay", low=0.0))
    if not isinstance(exclude_bias_and_norm, bool):
        raise TypeError(f"The 'exclude_bias_and_norm' parameter must be a bool, got {exclude_bias_and_norm!r}")
    return {"betas": (b1, b2), "eps": eps, "weight_decay": weight_decay,
            "exclude_bias_and_norm": exclude_bias_and_norm}


class Adam(Optimizer):
    r"""Adam with bias correction, Kingma & Ba (2015) Algorithm 1, as torch.optim.Adam.

    .. math::

        g_t &\leftarrow g_t + \lambda \theta_{t-1} \quad \text{(coupled L2, only if } \lambda > 0) \\
        m_t &= \beta_1 m_{t-1} + (1 - \beta_1) g_t \\
        v_t &= \beta_2 v_{t-1} + (1 - \beta_2) g_t^2 \\
        \theta_t &= \theta_{t-1} - \frac{\alpha_t}{1 - \beta_1^t} \,
                    \frac{m_t}{\sqrt{v_t} / \sqrt{1 - \beta_2^t} + \epsilon}

    Symbols: α = ``lr`` (float or schedule), (β₁, β₂) = ``betas``, ε = ``eps``,
    λ = ``weight_decay``, t = step (1 at the first update), m, v = state ``exp_avg``,
    ``exp_avg_sq`` (zero-initialised). The bias corrections are computed once per step here and
    passed to the fused kernel as scalars.

    .. warning:: Conventions. ε is added *outside* the square root of the bias-corrected v
       (Algorithm 1, torch, optax); TensorFlow/Keras's Adam adds an ε̂ to √v before bias
       correction, which differs early in training. ``weight_decay`` here is coupled L2
       (added to the gradient, then rescaled by Adam), which is *not* decoupled weight decay —
       use :class:`AdamW` for that.

    ``exclude_bias_and_norm=True`` skips weight decay for parameters whose ``decay`` flag is
    False (the DINO / MoCo v3 parameter groups); the default decays all parameters, as torch does.

    ``params``: the parameters to update: a Module, or a list of Parameters (or of parameter
    groups).
    """

    hyperparameter_names = ("betas", "eps", "weight_decay", "exclude_bias_and_norm")
    # set by _set_hyperparameters
    betas: tuple[float, float]
    eps: float
    weight_decay: float
    exclude_bias_and_norm: bool
    state_names = ("exp_avg", "exp_avg_sq")
    _decoupled = False
    writes_bf16_copy = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0,
                 exclude_bias_and_norm: bool = False):
        hp = self._check_hyperparameters(betas=betas, eps=eps, weight_decay=weight_decay,
                                         exclude_bias_and_norm=exclude_bias_and_norm)
        super().__init__(params, lr)
        self._set_hyperparameters(hp)

    @staticmethod
    def _check_hyperparameters(*, betas, eps, weight_decay, exclude_bias_and_norm) -> dict:
        return _check_adam(betas, eps, weight_decay, exclude_bias_and_norm)

    def _update(self, lr: float) -> bool:
        t = self.step_count + 1
        b1, b2 = self.betas
        bc1 = 1.0 - b1 ** t
        bc2 = 1.0 - b2 ** t
        f = self.flat
        return _core.optim.adam_step(f.layout, f.data, f.grad, self.state["exp_avg"], self.state["exp_avg_sq"], lr, b1, b2,
                                     self.eps, self.weight_decay, lr / bc1, math.sqrt(bc2), self._decoupled,
                                     self.exclude_bias_and_norm, f.bf16)


class AdamW(Adam):
    r"""AdamW: Adam with decoupled weight decay, Loshchilov & Hutter (2019) Algorithm 2, in
    torch.optim.AdamW's order:

    .. math::

        \theta_{t-1} &\leftarrow \theta_{t-1} - \alpha_t \lambda \theta_{t-1}
            \quad (\text{i.e. } \theta \cdot (1 - \alpha_t\lambda)) \\
        m_t &= \beta_1 m_{t-1} + (1 - \beta_1) g_t, \qquad
        v_t = \beta_2 v_{t-1} + (1 - \beta_2) g_t^2 \\
        \theta_t &= \theta_{t-1} - \frac{\alpha_t}{1 - \beta_1^t} \,
                    \frac{m_t}{\sqrt{v_t} / \sqrt{1 - \beta_2^t} + \epsilon}

    Symbols as in :class:`Adam`; λ = ``weight_decay`` (default 1e-2 as torch).

    .. warning:: Convention. The decay is multiplied by the *scheduled* learning rate α_t (torch,
       optax ``adamw``); the paper writes it with a separate schedule multiplier η_t and
       unscaled λ, and Keras/TF-addons' ``AdamW`` uses λ without α. So λ = 0.05 here (DINO,
       torch) equals λ·α in the paper's notation.

    ``params``: the parameters to update: a Module, or a list of Parameters (or of parameter
    groups). ``lr``: learning rate α (a float or a schedule). ``betas``: (β₁, β₂) of the moment
    averages. ``eps``: ε of the denominator. ``exclude_bias_and_norm``: apply no weight decay to
    biases and normalisation parameters.
    """

    _decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 1e-2,
                 exclude_bias_and_norm: bool = False):
        super().__init__(params, lr, betas, eps, weight_decay, exclude_bias_and_norm)
