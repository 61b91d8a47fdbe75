"""Joint-embedding methods with one network applied to two views: SimCLR, Barlow Twins, VICReg,
SCARF and DACL share the step; they differ in views, heads and the loss."""
from __future__ import annotations

import numpy as np

from .. import losses
from .._validation import check_scalar
from ..pretext.compose import Mixup, ScarfCorruption
from .base import Method, backward_chain, forward_chain, register_method


class JointEmbedding(Method):
    """Two views → encoder → projector → loss(z1, z2) → gradients for both views.

    The two views are concatenated into one batch of 2N rows, so each layer runs one kernel call
    per step (BatchNorm statistics are taken over the 2N rows).

    Parameters
    ----------
    encoder
        The feature extractor h_θ (any ``pyssl.nn.Module``).
    projector
        The projection head k_γ (default: an MLP [features, hidden_dim, projection_dim]).
    projection_dim
        Output width of the default projector.
    hidden_dim
        Hidden width of the default head(s) (None: a default from the feature size).
    views
        The view maker ``views(x, seed) -> x̃`` (default by input rank:
        :func:`pyssl.pretext.default_views`).
    seed
        Seed of the heads' initialisation.
    """

    trainable_names = ("encoder", "projector")

    def __init__(self, encoder, projector=None, projection_dim: int = 128, hidden_dim: int | None = None,
                 views=None, seed: int | None = 0):
        super().__init__(encoder, views=views, seed=seed)
        self.projector = projector
        self.projection_dim = int(check_scalar(projection_dim, "projection_dim", kind=int, low=1))
        self.hidden_dim = hidden_dim

    def build_heads(self, feature_dim, X):
        if self.projector is None:
            hidden = self.hidden_dim or max(feature_dim, self.projection_dim)
            self.projector = self.mlp([feature_dim, hidden, self.projection_dim], key=1)

    def pair_loss(self, z1, z2):
        """Return (loss, dz1, dz2)."""
        raise NotImplementedError

    def batch_pair_loss(self, z1, z2):
        """``pair_loss`` of the whole batch from this rank's rows (see :meth:`Method.global_loss`)."""
        return self.global_loss(self.pair_loss, z1, z2)

    def training_step(self, X, seed):
        x1, x2 = self.make_views(X, seed)
        n = x1.shape[0]
        chain = [self.encoder, self.projector]
        z, ctx = forward_chain(chain, np.concatenate([x1, x2]))
        loss, dz1, dz2 = self.batch_pair_loss(z[:n], z[n:])
        backward_chain(chain, np.concatenate([dz1, dz2]), ctx)
        return loss


@register_method("simclr", example=lambda e: SimCLR(e, temperature=0.5, projection_dim=16))
class SimCLR(JointEmbedding):
    """SimCLR (Chen et al., 2020, "A Simple Framework for Contrastive Learning of Visual
    Representations"): NT-Xent over 2N projected views at ``temperature`` (0.1 by default; 0.5 is
    common on small data).

    Also ``encoder``, ``projector``, ``projection_dim``, ``hidden_dim``, ``seed``:
    as in :class:`~pyssl.methods.JointEmbedding`.
    """

    def __init__(self, encoder, projector=None, temperature: float = 0.1, projection_dim: int = 128,
                 hidden_dim: int | None = None, views=None, seed: int | None = 0):
        super().__init__(encoder, projector, projection_dim, hidden_dim, views, seed)
        self.temperature = check_scalar(temperature, "temperature", low=0.0, low_inclusive=False)

    def pair_loss(self, z1, z2):
        return losses.nt_xent(z1, z2, temperature=self.temperature)

    def batch_pair_loss(self, z1, z2):
        # Each rank computes its own anchors' rows of the similarity matrix.
        return losses.nt_xent_distributed(self.group, z1, z2, temperature=self.temperature)


@register_method("barlow_twins", example=lambda e: BarlowTwins(e, projection_dim=32, hidden_dim=32))
class BarlowTwins(JointEmbedding):
    """Barlow Twins (Zbontar et al., 2021): cross-correlation of batch-standardised projections
    pushed to the identity; off-diagonal weight ``lambd`` = 0.0051 (paper) and an overall
    ``scale`` (1 in the paper; solo-learn's ``scale_loss``), see :func:`pyssl.losses.barlow_twins`.

    Parameters
    ----------
    encoder : pyssl.nn.Module
        h_θ.
    projector : Module, optional
        The projector k_γ (default: MLP [features, hidden_dim, projection_dim]).
    lambd : float
        Off-diagonal weight λ, >= 0.
    scale : float
        Overall loss scale, > 0 and finite.
    projection_dim, hidden_dim : int
        Widths of the default projector.
    views : callable, optional
        The view maker (default by input rank, :func:`pyssl.pretext.default_views`).
    seed : int
        Head initialisation.
    """

    def __init__(self, encoder, projector=None, lambd: float = 0.0051, projection_dim: int = 512,
                 hidden_dim: int | None = 512, views=None, seed: int | None = 0, scale: float = 1.0):
        super().__init__(encoder, projector, projection_dim, hidden_dim, views, seed)
        self.lambd = check_scalar(lambd, "lambd", low=0.0)
        self.scale = check_scalar(scale, "scale", low=0.0, low_inclusive=False)

    def pair_loss(self, z1, z2):
        return losses.barlow_twins(z1, z2, lambd=self.lambd, scale=self.scale)


@register_method("vicreg", example=lambda e: VICReg(e, projection_dim=32, hidden_dim=32))
class VICReg(JointEmbedding):
    """VICReg (Bardes et al., 2022): invariance + variance + covariance terms, weights 25/25/1.

    Parameters
    ----------
    sim_weight
        Weight of the invariance term.
    var_weight
        Weight of the variance term.
    cov_weight
        Weight of the covariance term.
    Also ``encoder``, ``projector``, ``projection_dim``, ``hidden_dim``, ``views``, ``seed``:
    as in :class:`~pyssl.methods.JointEmbedding`.
    """

    def __init__(self, encoder, projector=None, sim_weight: float = 25.0, var_weight: float = 25.0,
                 cov_weight: float = 1.0, projection_dim: int = 512, hidden_dim: int | None = 512,
                 views=None, seed: int | None = 0):
        super().__init__(encoder, projector, projection_dim, hidden_dim, views, seed)
        self.sim_weight = check_scalar(sim_weight, "sim_weight", low=0.0)
        self.var_weight = check_scalar(var_weight, "var_weight", low=0.0)
        self.cov_weight = check_scalar(cov_weight, "cov_weight", low=0.0)

    def pair_loss(self, z1, z2):
        return losses.vicreg(z1, z2, sim_weight=self.sim_weight, var_weight=self.var_weight,
                             cov_weight=self.cov_weight)


@register_method("scarf", example=lambda e: SCARF(e, projection_dim=16))
class SCARF(SimCLR):
    """SCARF (Bahri et al., ICLR 2022): the anchor is the clean row, the positive a copy with
    ``corruption`` of its features replaced by draws from their empirical marginals; InfoNCE at
    temperature 1.0 (paper).

    Also ``encoder``, ``projector``, ``projection_dim``, ``hidden_dim``, ``seed``:
    as in :class:`~pyssl.methods.JointEmbedding`.
    """

    def __init__(self, encoder, projector=None, temperature: float = 1.0, corruption: float = 0.6,
                 projection_dim: int = 128, hidden_dim: int | None = None, seed: int | None = 0):
        self.corruption = check_scalar(corruption, "corruption", low=0.0, high=1.0)
        super().__init__(encoder, projector, temperature, projection_dim, hidden_dim,
                         views=ScarfCorruption(self.corruption), seed=seed)

    def draw_views(self, X, seed, n_views=2):
        return [np.ascontiguousarray(X), self.views(X, seed)]


@register_method("dacl", example=lambda e: DACL(e, projection_dim=16))
class DACL(SimCLR):
    """DACL (Verma et al., ICML 2021, "Towards Domain-Agnostic Contrastive Learning"): positives
    are mixup combinations x̃ = λx + (1−λ)x′ with another row x′ of the batch, λ ≥ 0.5 so that the
    view stays closer to its anchor; NT-Xent over the two mixed views.

    Parameters
    ----------
    temperature
        NT-Xent temperature τ > 0.
    alpha
        Beta(α, α) parameter of the mixing weight λ, α > 0.
    Also ``encoder``, ``projector``, ``projection_dim``, ``hidden_dim``, ``seed``:
    as in :class:`~pyssl.methods.JointEmbedding`.
    """

    def __init__(self, encoder, projector=None, temperature: float = 0.1, alpha: float = 0.9,
                 projection_dim: int = 128, hidden_dim: int | None = None, seed: int | None = 0):
        super().__init__(encoder, projector, temperature, projection_dim, hidden_dim, views=None, seed=seed)
        self.alpha = check_scalar(alpha, "alpha", low=0.0, low_inclusive=False)
        self.views = Mixup(self.alpha, positive_only=True)
