"""VIME on mixed-type tables (Yoon et al., NeurIPS 2020, "VIME: Extending the Success of Self-
and Semi-supervised Learning to Tabular Domain", §4.1): the heads and the step that
:class:`pyssl.methods.VIME` uses when its encoder is a :class:`pyssl.tables.TabularEncoder`.

Corruption: each table column is swapped, with probability p_m, with the same column of a random
row of the batch (:func:`pyssl.pretext.table_vime_corrupt`: a numeric value travels with its
missing flag, a category code is drawn from the column's codes in the batch). The mask head
predicts, per table column, whether it changed (BCE); the feature head reconstructs the clean
row — standardised values of the numeric columns (MSE over their observed entries only: a missing
value has no target) and, for each categorical column, logits over its codes (cross-entropy, the
paper's loss for categorical features):

    L = L_mask + α · (a · L_num + Σ_j CE_j) / C

with a numeric and C columns in all, so every column weighs the same in the reconstruction term.
"""
from __future__ import annotations

import numpy as np

from .. import losses
from ..nn.losses import cross_entropy


def build_heads(method, feature_dim: int, layout) -> None:
    """Mask head (C logits, one per table column) and feature head (a values + Σ K_j code logits)."""
    if method.mask_head is None:
        method.mask_head = method.mlp([feature_dim, layout.n_columns], key=1)
    if method.feature_head is None:
        method.feature_head = method.mlp([feature_dim, layout.n_numeric + int(sum(layout.cardinalities))], key=2)


def reconstruction_loss(feats, X, layout):
    """(L_feat, dfeats) of the feature head's output ``feats`` (N, a + Σ K_j) against the clean
    packed rows X (see the module docstring)."""
    a, card = layout.n_numeric, list(layout.cardinalities)
    c = layout.n_columns
    d = np.zeros_like(feats)
    total = 0.0
    if a:
        observed = np.ascontiguousarray(1 - X[:, a:2 * a], dtype=feats.dtype)
        l_num, d_num = losses.masked_mse(np.ascontiguousarray(feats[:, :a]),
                                         np.ascontiguousarray(X[:, :a], dtype=feats.dtype), observed)
        total += a * l_num
        d[:, :a] = a * d_num
    off = a
    codes = X[:, 2 * a:].astype(np.int64)
    for j, k in enumerate(card):
        l_j, d_j = cross_entropy(np.ascontiguousarray(feats[:, off:off + k]), np.ascontiguousarray(codes[:, j]))
        total += l_j
        d[:, off:off + k] = d_j
        off += k
    return total / c, d / c


def training_step(method, X, seed, layout) -> float:
    from .. import pretext

    xc, mask = pretext.table_vime_corrupt(X, layout, method.p_m, seed)
    h, hctx = method.encoder.forward(method.local(xc))
    m_logits, mctx = method.mask_head.forward(h)
    feats, fctx = method.feature_head.forward(h)

    def loss_fn(m_logits, feats):
        l_mask, d_m = losses.mask_bce(m_logits, mask.astype(m_logits.dtype))
        l_feat, d_f = reconstruction_loss(feats, X, layout)
        return l_mask + method.alpha * l_feat, d_m, method.alpha * d_f

    loss, d_m, d_f = method.global_loss(loss_fn, m_logits, feats)
    dh = method.mask_head.backward(d_m, mctx) + method.feature_head.backward(d_f, fctx)
    method.encoder.backward(dh, hctx, need_input_grad=False)
    return loss
