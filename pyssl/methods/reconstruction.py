"""Reconstruction pretext methods over :mod:`pyssl.pretext` tasks: masked modeling over features
(MAE-style), the denoising autoencoder, and VIME (mask estimation + feature reconstruction). Each
is :class:`~pyssl.methods.PretextTaskMethod` over one task, with named heads."""
from __future__ import annotations

import numpy as np

from .._validation import check_scalar
from ..pretext.tasks import Denoising, MaskedFeaturePrediction, VIMETask
from .base import register_method
from .tasks import PretextTaskMethod


class _EncoderDecoder(PretextTaskMethod):
    """A decoder head reconstructing the input; its default hidden width is max(features, input)."""

    head_names = ("decoder",)

    def __init__(self, encoder, task, decoder=None, hidden_dim: int | None = None, seed: int | None = 0):
        super().__init__(encoder, task, decoder, hidden_dim, seed)

    def build_heads(self, feature_dim, X):
        if self.decoder is None:
            d_in = int(np.prod(X.shape[1:]))
            self.decoder = self.mlp([feature_dim, self.hidden_dim or max(feature_dim, d_in), d_in], key=1)


@register_method("masked", example=lambda e: MaskedModeling(e))
class MaskedModeling(_EncoderDecoder):
    """Masked feature modeling (MAE, He et al., CVPR 2022, applied to feature vectors): mask a
    ``mask_ratio`` of the entries (set to 0), reconstruct the input, MSE over masked entries only
    (:class:`pyssl.pretext.MaskedFeaturePrediction` with the ``masked_mse`` loss).

    Parameters
    ----------
    encoder : pyssl.nn.Module
        h_θ.
    decoder : Module, optional
        The reconstruction head (default: MLP [features, hidden_dim, input size]).
    mask_ratio : float
        Fraction of entries masked, in (0, 1].
    hidden_dim : int, optional
        The default decoder's hidden width (default: max(features, input size)).
    seed : int
        Head initialisation.
    """

    def __init__(self, encoder, decoder=None, mask_ratio: float = 0.5, hidden_dim: int | None = None,
                 seed: int | None = 0):
        self.mask_ratio = check_scalar(mask_ratio, "mask_ratio", low=0.0, high=1.0, low_inclusive=False)
        super().__init__(encoder, MaskedFeaturePrediction(ratio=self.mask_ratio), decoder, hidden_dim, seed)


@register_method("denoising", example=lambda e: DenoisingAutoencoder(e))
class DenoisingAutoencoder(_EncoderDecoder):
    """Denoising autoencoder (Vincent et al., ICML 2008): reconstruct x from x + N(0, σ²)
    (:class:`pyssl.pretext.Denoising` with the ``mse`` loss).

    ``noise_std``: σ, >= 0; ``encoder``, ``decoder``, ``hidden_dim`` and ``seed`` as in
    :class:`MaskedModeling`.
    """

    def __init__(self, encoder, decoder=None, noise_std: float = 0.5, hidden_dim: int | None = None,
                 seed: int | None = 0):
        self.noise_std = check_scalar(noise_std, "noise_std", low=0.0)
        super().__init__(encoder, Denoising(std=self.noise_std), decoder, hidden_dim, seed)


@register_method("vime", example=lambda e: VIME(e))
class VIME(PretextTaskMethod):
    """VIME self-supervision (Yoon et al., NeurIPS 2020): mask m ~ Bernoulli(p_m) per entry,
    masked entries swapped with the same feature of a random row of the batch (the empirical
    marginal); one head estimates the mask (BCE), another reconstructs the clean features (MSE);
    L = L_mask + α·L_feature with α = 2 (paper default). :class:`PretextTaskMethod` over
    :class:`pyssl.pretext.VIMETask`. With a :class:`pyssl.tables.TabularEncoder` whole table
    columns are swapped and reconstructed by type (MSE for numeric, cross-entropy for categorical
    columns; :mod:`pyssl.tables.vime`): the heads and the step then follow the table's layout.

    Parameters
    ----------
    encoder : pyssl.nn.Module
        h_θ.
    p_m : float
        Corruption probability, in (0, 1].
    alpha : float
        Weight α of the feature term, >= 0.
    mask_head, feature_head : Module, optional
        The two heads (default: linear with BatchNorm, input size outputs each).
    seed : int
        Head initialisation.
    """

    head_names = ("mask_head", "feature_head")

    def __init__(self, encoder, p_m: float = 0.3, alpha: float = 2.0, mask_head=None, feature_head=None,
                 seed: int | None = 0):
        self.p_m = check_scalar(p_m, "p_m", low=0.0, high=1.0, low_inclusive=False)
        self.alpha = check_scalar(alpha, "alpha", low=0.0)
        super().__init__(encoder, VIMETask(p_m=self.p_m, alpha=self.alpha), (mask_head, feature_head), seed=seed)
        self._table_layout = None

    def build_heads(self, feature_dim, X):
        from ..tables import table_layout_of, vime as table_vime  # mixed-type tables: per-column heads

        self._table_layout = table_layout_of(self.encoder)
        if self._table_layout is not None:
            return table_vime.build_heads(self, feature_dim, self._table_layout)
        return super().build_heads(feature_dim, X)

    def training_step(self, X, seed):
        if getattr(self, "_table_layout", None) is not None:
            from ..tables import vime as table_vime

            return table_vime.training_step(self, X, seed, self._table_layout)
        return super().training_step(X, seed)
