"""Reconstruction pretext methods: masked modeling over features (MAE-style), denoising
autoencoder, and VIME (mask estimation + feature reconstruction)."""
from __future__ import annotations

import numpy as np

from .. import losses
from .._validation import check_scalar
from ..nn.losses import mse
from .base import Method, backward_chain, forward_chain
from .views import IdentityView


class _EncoderDecoder(Method):
    trainable_names = ("encoder", "decoder")

    def __init__(self, encoder, decoder=None, hidden_dim: int | None = None, seed: int | None = 0):
        super().__init__(encoder, views=None, seed=seed)
        self.decoder, self.hidden_dim = decoder, hidden_dim

    def setup(self, X):
        self.views = self.views or IdentityView()
        super().setup(X)

    def build_heads(self, feature_dim, X):
        if self.decoder is None:
            d_in = int(np.prod(X.shape[1:]))
            self.decoder = self.mlp([feature_dim, self.hidden_dim or max(feature_dim, d_in), d_in], key=1)

    def _reconstruct(self, x_in):
        chain = [self.encoder, self.decoder]
        pred, ctx = forward_chain(chain, x_in)
        return pred, chain, ctx


class MaskedModeling(_EncoderDecoder):
    """Masked feature modeling (MAE, He et al., CVPR 2022, applied to feature vectors): mask a
    ``mask_ratio`` of the entries (set to 0), reconstruct the input, MSE over masked entries only."""

    def __init__(self, encoder, decoder=None, mask_ratio: float = 0.5, hidden_dim: int | None = None,
                 seed: int | None = 0):
        super().__init__(encoder, decoder, hidden_dim, seed)
        self.mask_ratio = check_scalar(mask_ratio, "mask_ratio", low=0.0, high=1.0, low_inclusive=False)

    def training_step(self, X, seed):
        from .. import pretext

        xm, mask = pretext.mask_features(X, self.mask_ratio, seed)
        pred, chain, ctx = self._reconstruct(self.local(xm))
        shape = (X.shape[0],) + pred.shape[1:]
        target = np.ascontiguousarray(X.reshape(shape))
        mask = np.ascontiguousarray(mask.reshape(shape))
        loss, dpred = self.global_loss(lambda p: losses.masked_mse(p, target, mask), pred)
        backward_chain(chain, dpred, ctx)
        return loss


class DenoisingAutoencoder(_EncoderDecoder):
    """Denoising autoencoder (Vincent et al., ICML 2008): reconstruct x from x + N(0, σ²)."""

    def __init__(self, encoder, decoder=None, noise_std: float = 0.5, hidden_dim: int | None = None,
                 seed: int | None = 0):
        super().__init__(encoder, decoder, hidden_dim, seed)
        self.noise_std = check_scalar(noise_std, "noise_std", low=0.0)

    def training_step(self, X, seed):
        from .. import pretext

        pred, chain, ctx = self._reconstruct(self.local(pretext.gaussian_noise(X, self.noise_std, seed)))
        target = np.ascontiguousarray(X.reshape((X.shape[0],) + pred.shape[1:]))
        loss, dpred = self.global_loss(lambda p: mse(p, target), pred)
        backward_chain(chain, dpred, ctx)
        return loss


class VIME(Method):
    """VIME self-supervision (Yoon et al., NeurIPS 2020): mask m ~ Bernoulli(p_m) per entry,
    masked entries swapped with the same feature of a random row of the batch (the empirical
    marginal); one head estimates the mask (BCE), another reconstructs the clean features (MSE);
    L = L_mask + α·L_feature with α = 2 (paper default). With a :class:`pyssl.tables.TabularEncoder`
    whole table columns are swapped and reconstructed by type (MSE for numeric, cross-entropy for
    categorical columns; :mod:`pyssl.tables.vime`)."""

    trainable_names = ("encoder", "mask_head", "feature_head")

    def __init__(self, encoder, p_m: float = 0.3, alpha: float = 2.0, mask_head=None, feature_head=None,
                 seed: int | None = 0):
        super().__init__(encoder, views=IdentityView(), seed=seed)
        self.p_m = check_scalar(p_m, "p_m", low=0.0, high=1.0, low_inclusive=False)
        self.alpha = check_scalar(alpha, "alpha", low=0.0)
        self.mask_head, self.feature_head = mask_head, feature_head

    def build_heads(self, feature_dim, X):
        from ..tables import table_layout_of, vime as table_vime  # mixed-type tables: per-column heads

        self._table_layout = table_layout_of(self.encoder)
        if self._table_layout is not None:
            return table_vime.build_heads(self, feature_dim, self._table_layout)
        d_in = int(np.prod(X.shape[1:]))
        if self.mask_head is None:
            self.mask_head = self.mlp([feature_dim, d_in], key=1)
        if self.feature_head is None:
            self.feature_head = self.mlp([feature_dim, d_in], key=2)

    def training_step(self, X, seed):
        from .. import pretext

        if getattr(self, "_table_layout", None) is not None:
            from ..tables import vime as table_vime

            return table_vime.training_step(self, X, seed, self._table_layout)
        x2 = np.ascontiguousarray(X.reshape(X.shape[0], -1))
        xc, mask = pretext.vime_corrupt(x2, self.p_m, seed)
        mask = np.ascontiguousarray(mask, dtype=x2.dtype)
        h, hctx = self.encoder.forward(self.local(xc.reshape(X.shape)))
        m_logits, mctx = self.mask_head.forward(h)
        feats, fctx = self.feature_head.forward(h)

        def loss_fn(m_logits, feats):
            l_mask, d_m = losses.mask_bce(m_logits, mask)
            l_feat, d_f = mse(feats, x2)
            return l_mask + self.alpha * l_feat, d_m, self.alpha * d_f

        loss, d_m, d_f = self.global_loss(loss_fn, m_logits, feats)
        dh = self.mask_head.backward(d_m, mctx) + self.feature_head.backward(d_f, fctx)
        self.encoder.backward(dh, hctx, need_input_grad=False)
        return loss
