"""Masked autoencoder over tokens (He et al., "Masked Autoencoders Are Scalable Vision Learners",
CVPR 2022) for any tokenizer: image patches, series windows or table features."""
from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from .. import _core, losses
from .._seeding import derive_seed
from .._validation import check_scalar
from ..nn.linear import Linear
from ..nn.module import Module, Parameter, grads_for_backward
from ..nn.transformer import TransformerEncoder, _xavier
from .base import Method, register_method
from ..pretext.compose import Identity


def random_keep(n: int, length: int, mask_ratio: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """MAE's per-sample random masking (He et al. 2022, §3 "Masking"): sample i keeps
    K = ⌊L·(1 − mask_ratio)⌋ tokens, the first K entries of a uniform random permutation of 0..L−1
    drawn from its own Philox stream (``pyssl.pretext.permutations``: bit-identical whatever the
    thread count), sorted. Returns ``(keep (N, K) int64, mask (N, L) bool, True = masked)``."""
    k = int(length * (1.0 - mask_ratio))
    if k < 1 or k >= length:
        raise ValueError(f"mask_ratio={mask_ratio} keeps {k} of {length} tokens; it must keep at least one token and "
                         f"mask at least one (0 < ⌊L·(1 − mask_ratio)⌋ < L)")
    perm = _core.augment.permutations(n, length, int(seed))
    keep = np.sort(perm[:, :k], axis=1)
    mask = np.ones((n, length), dtype=bool)
    np.put_along_axis(mask, keep, False, axis=1)
    return np.ascontiguousarray(keep), mask


class MAEDecoder(Module):
    """MAE's light decoder: the encoded kept tokens (N, [1+]K, D_enc) are projected to D_dec
    (``embed``), placed back at their positions among L copies of a learned ``mask_token``
    (the [CLS] output, if any, is not passed on), given the decoder's own positions, run through
    ``depth`` pre-norm blocks, and each token is mapped to its patch (``head``: D_dec → P).
    ``forward(latent, keep, n_cls)`` → predictions (N, L, P)."""

    def __init__(self, enc_dim: int, dec_dim: int, depth: int, heads: int, num_tokens: int, patch_dim: int,
                 pos_embed: str = "sinusoidal", dtype=np.float32, seed=0):
        super().__init__()
        g = np.random.default_rng(derive_seed(seed, "decoder"))
        self.embed = _xavier(Linear(enc_dim, dec_dim, dtype=dtype), g)
        self.mask_token = Parameter((0.02 * g.standard_normal((dec_dim,))).astype(dtype), decay=False)
        self.blocks = TransformerEncoder(dec_dim, depth, heads, num_tokens=num_tokens, pos_embed=pos_embed,
                                         pool="none", dtype=dtype, seed=derive_seed(seed, "decoder", "blocks"))
        self.head = _xavier(Linear(dec_dim, patch_dim, dtype=dtype), g)
        self.num_tokens, self.dec_dim, self.patch_dim = num_tokens, dec_dim, patch_dim

    def forward(self, latent, keep=None, n_cls: int = 0):
        z = np.ascontiguousarray(latent[:, n_cls:])
        n, k, de = z.shape
        e, ce = self.embed.forward(z.reshape(n * k, de))
        full = np.empty((n, self.num_tokens, self.dec_dim), dtype=e.dtype)
        full[...] = self.mask_token.data
        np.put_along_axis(full, keep[:, :, None], e.reshape(n, k, self.dec_dim), axis=1)
        t, cb = self.blocks.forward(full)
        pred, ch = self.head.forward(t.reshape(n * self.num_tokens, self.dec_dim))
        return pred.reshape(n, self.num_tokens, self.patch_dim), (ce, cb, ch, keep, n_cls, latent.shape)

    def backward(self, grad_output, ctx, need_input_grad: bool = True):
        ce, cb, ch, keep, n_cls, lshape = ctx
        n, l = grad_output.shape[:2]
        gt = self.head.backward(np.ascontiguousarray(grad_output).reshape(n * l, self.patch_dim), ch)
        gfull = self.blocks.backward(gt.reshape(n, l, self.dec_dim), cb)
        ge = np.take_along_axis(gfull, keep[:, :, None], axis=1)
        masked = np.ones((n, l), dtype=bool)
        np.put_along_axis(masked, keep, False, axis=1)
        (mg,), acc = grads_for_backward(self.mask_token)
        s = gfull[masked].sum(axis=0)
        if acc:
            mg += s
        else:
            mg[...] = s
        gz = self.embed.backward(np.ascontiguousarray(ge).reshape(-1, self.dec_dim), ce,
                                 need_input_grad=need_input_grad)
        if gz is None:
            return None
        out = np.zeros(lshape, dtype=gz.dtype)
        out[:, n_cls:] = gz.reshape(n, -1, lshape[2])
        return out


def mae_targets(patches: np.ndarray, norm_pix_loss: bool, eps: float = 1e-6) -> np.ndarray:
    """Reconstruction targets: the patches, or with ``norm_pix_loss`` each patch normalised by its
    own mean and (unbiased, as MAE's reference code) variance, (p − μ)/√(σ² + 10⁻⁶)."""
    if not norm_pix_loss:
        return patches
    mean = patches.mean(axis=-1, keepdims=True)
    var = patches.var(axis=-1, ddof=1, keepdims=True)
    return np.ascontiguousarray((patches - mean) / np.sqrt(var + eps), dtype=patches.dtype)


@register_method("mae", data="tokens",
                 example=lambda e: MAE(e, mask_ratio=0.5, decoder_dim=8, decoder_depth=1, decoder_heads=2))
class MAE(Method):
    """Masked autoencoder (He et al., CVPR 2022) over the tokens of a :class:`~pyssl.nn.TransformerEncoder`
    with a tokenizer (:class:`~pyssl.nn.PatchEmbed2d` images, :class:`~pyssl.nn.PatchEmbed1d`
    series, :class:`~pyssl.nn.FeatureTokenizer` tables; :class:`~pyssl.nn.ViT`).

    Per sample a uniform random subset of ⌊L·(1 − ``mask_ratio``)⌋ tokens is kept
    (:func:`random_keep`); the encoder sees only those (after their positions are added — the
    masked tokens are dropped, not zeroed, so the encoder's cost scales with the kept fraction).
    The :class:`MAEDecoder` (``decoder_dim``, ``decoder_depth``, ``decoder_heads``; its own
    positions) fills the masked slots with a mask token and predicts every patch. Loss: mean
    squared error over the masked patches only,

    .. math::  L = \\frac{1}{|M|\\,P} \\sum_{(n,i)\\in M} \\lVert \\hat p_{ni} − t_{ni} \\rVert^2

    with t the patches of x (``tokenizer.patchify``), per-patch normalised when ``norm_pix_loss``
    (needs patches of at least two values). Views: the input itself by default (pass ``views``
    for crops / flips, as the paper's random resized crop).

    Parameters
    ----------
    encoder : pyssl.nn.TransformerEncoder
        With a tokenizer that has ``patchify`` (ViT, PatchEmbed1d, FeatureTokenizer).
    mask_ratio : float
        Fraction of tokens masked, in (0, 1).
    decoder : MAEDecoder, optional
        A prebuilt decoder (default: built at setup from the ``decoder_*`` settings).
    decoder_dim, decoder_depth, decoder_heads : int
        Width, blocks and heads of the decoder.
    decoder_pos_embed : {"sinusoidal", "learnable"}
        The decoder's positions.
    norm_pix_loss : bool
        Normalise each target patch by its own mean and variance.
    views : pyssl.pretext transform, optional
        Augmentation applied before masking (default: the input itself).
    seed : int or None
        Seed of the masks, views and decoder initialisation.
    """

    trainable_names = ("encoder", "decoder")

    def __init__(self, encoder, mask_ratio: float = 0.75, decoder=None, decoder_dim: int = 128,
                 decoder_depth: int = 2, decoder_heads: int = 4, decoder_pos_embed: str = "sinusoidal",
                 norm_pix_loss: bool = False, views=None, seed: int | None = 0):
        super().__init__(encoder, views=views, seed=seed)
        if not isinstance(encoder, TransformerEncoder) or encoder.tokenizer is None:
            raise TypeError("MAE needs a pyssl.nn.TransformerEncoder with a tokenizer (e.g. pyssl.nn.ViT, or "
                            "TransformerEncoder(..., tokenizer=PatchEmbed1d(...) / FeatureTokenizer(...))), got "
                            f"{type(encoder).__name__}")
        if not hasattr(encoder.tokenizer, "patchify"):
            raise TypeError(f"MAE: the tokenizer {type(encoder.tokenizer).__name__} has no patchify(x) giving the "
                            "reconstruction targets")
        self.mask_ratio = check_scalar(mask_ratio, "mask_ratio", low=0.0, high=1.0, low_inclusive=False,
                                       high_inclusive=False)
        self.decoder = decoder
        self.decoder_dim = int(check_scalar(decoder_dim, "decoder_dim", kind=numbers.Integral, low=1))
        self.decoder_depth = int(check_scalar(decoder_depth, "decoder_depth", kind=numbers.Integral, low=0))
        self.decoder_heads = int(check_scalar(decoder_heads, "decoder_heads", kind=numbers.Integral, low=1))
        if self.decoder_dim % self.decoder_heads:
            raise ValueError(f"decoder_dim={self.decoder_dim} is not divisible by decoder_heads={self.decoder_heads}")
        if decoder_pos_embed not in ("learnable", "sinusoidal"):
            raise ValueError(f"decoder_pos_embed must be 'learnable' or 'sinusoidal', got {decoder_pos_embed!r}")
        self.decoder_pos_embed = decoder_pos_embed
        self.norm_pix_loss = bool(norm_pix_loss)
        tok: Any = encoder.tokenizer
        if self.norm_pix_loss and tok.patch_dim < 2:
            raise ValueError("norm_pix_loss normalises each patch by its own variance, which needs patches of at "
                             f"least 2 values; {type(encoder.tokenizer).__name__} makes patches of "
                             f"{tok.patch_dim}; pass norm_pix_loss=False")
        random_keep(1, int(tok.num_tokens), self.mask_ratio, 0)  # reject ratios that keep 0 or L tokens now

    def setup(self, X):
        self.views = self.views or Identity()
        super().setup(X)

    def build_heads(self, feature_dim, X):
        if self.decoder is None:
            tok = self.encoder.tokenizer
            self.decoder = MAEDecoder(self.encoder.dim, self.decoder_dim, self.decoder_depth, self.decoder_heads,
                                      tok.num_tokens, tok.patch_dim, pos_embed=self.decoder_pos_embed,
                                      dtype=self.dtype, seed=self.seed)

    def masks(self, n: int, seed: int):
        """The (keep, mask) of a step's batch of n samples (:func:`random_keep`)."""
        enc: Any = self.encoder
        return random_keep(n, enc.num_tokens, self.mask_ratio, derive_seed(seed, "mae_mask"))

    def forward_loss(self, x, keep, mask):
        """Loss and the contexts of one step on inputs x (local rows) with the given masks."""
        latent, cenc = self.encoder.forward_tokens(x, keep=keep)
        n_cls = 1 if self.encoder.cls_token is not None else 0
        pred, cdec = self.decoder.forward(latent, keep, n_cls)
        target = mae_targets(self.encoder.tokenizer.patchify(x), self.norm_pix_loss)
        return pred, target, (cenc, cdec)

    def training_step(self, X, seed):
        x = self.make_views(X, seed, n_views=1)[0]
        keep, mask = self.masks(X.shape[0], seed)
        keep, mask = self.local(keep), self.local(mask)
        pred, target, (cenc, cdec) = self.forward_loss(x, keep, mask)
        m = mask.astype(pred.dtype)

        def loss_fn(p, t, mm):  # the whole batch's predictions, targets and masks
            loss, dp = losses.masked_mse(p, t, mm)
            return loss, dp, None, None

        loss, dpred, _, _ = self.global_loss(loss_fn, pred, target, m)
        g = self.decoder.backward(dpred, cdec)
        self.encoder.backward_tokens(g, cenc, need_input_grad=False)
        return float(loss)
