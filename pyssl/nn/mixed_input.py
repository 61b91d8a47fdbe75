"""MixedInput: the input layer of an encoder for mixed-type table rows (numeric values with
missing entries, and categorical codes)."""
from __future__ import annotations

import numbers

import numpy as np

from .._validation import check_array, check_scalar, describe
from .embedding import Embedding
from .module import Module, Parameter, grads_for_backward, register_layer


def _mixed_sample(rng, shape):
    """Packed rows of 2 numeric columns (values, missing flags) and codes of 2 categorical columns."""
    n = shape[0]
    flags = (rng.random((n, 2)) < 0.3).astype(float)
    values = rng.standard_normal((n, 2)) * (1 - flags)
    codes = np.stack([rng.integers(0, 3, n), rng.integers(0, 5, n)], axis=1)
    return np.concatenate([values, flags, codes], axis=1)


@register_layer("mixed_input", example=lambda dt: MixedInput(2, (3, 5), embedding_dim=2, dtype=dt, seed=0),
                input=(6, 6), fd="parameters", sample=_mixed_sample)
class MixedInput(Module):
    r"""Numeric values, missing indicators and category embeddings of a packed table row.

    Input: the packed matrix of :class:`pyssl.tables.TableSchema`, x (N, 2a + b) =
    ``[v_1..v_a | m_1..m_a | c_1..c_b]`` with v the standardised numeric values (0 where missing),
    m the missing indicators (1 = missing) and c the category codes (0 = missing, 1 = unseen
    category, 2.. = the categories seen in training). Output (N, 2a + b·E):

    .. math::

        y = \big[\,(1 - m) \odot v + m \odot \mu \;\big|\; m \;\big|\; e_1(c_1) \dots e_b(c_b)\,\big]

    with μ (a,) a learned value for missing numerics (initialised at 0, the training mean) and
    e_j column j's rows of one Embedding table (codes offset per column), E = ``embedding_dim``.
    A missing numeric is therefore never silently zero-filled: it enters as a learned value plus an
    indicator (Lipton et al., 2016, "Modeling Missing Data in Clinical Time Series with RNNs", the
    indicator; Guo & Berkhahn, 2016, entity embeddings of categorical variables).

    Backward: dμ = Σ_n m ⊙ g_v, the embedding rows get the scatter-add of their output gradient,
    and the input gradient (when asked) is (1 − m) ⊙ g_v for the values and 0 for the indicators and
    codes (which are not differentiable).

    Parameters
    ----------
    n_numeric : a, the number of numeric columns.
    cardinalities : the number of codes of each categorical column (categories seen + 2).
    embedding_dim : E.
    """

    def __init__(self, n_numeric: int, cardinalities=(), embedding_dim: int = 8, dtype=np.float32, seed=None):
        super().__init__()
        self.n_numeric = int(check_scalar(n_numeric, "n_numeric", kind=numbers.Integral, low=0))
        card = [int(check_scalar(k, "cardinalities entries", kind=numbers.Integral, low=1)) for k in cardinalities]
        self.cardinalities = card
        self.embedding_dim = int(check_scalar(embedding_dim, "embedding_dim", kind=numbers.Integral, low=1))
        if self.n_numeric == 0 and not card:
            raise ValueError("MixedInput needs at least one numeric or categorical column")
        self.missing_value = Parameter(np.zeros(self.n_numeric, dtype=dtype), decay=False)
        self.offsets = np.concatenate([[0], np.cumsum(card)[:-1]]).astype(np.int64) if card else np.zeros(0, np.int64)
        self.embedding = Embedding(int(sum(card)), self.embedding_dim, dtype=dtype, seed=seed) if card else None
        self.in_features = 2 * self.n_numeric + len(card)
        self.out_features = 2 * self.n_numeric + len(card) * self.embedding_dim

    def forward(self, x):
        x = check_array(x, "x", dtype=self.dtype, ndim=2)
        if x.shape[1] != self.in_features:
            raise ValueError(f"x must have {self.in_features} packed columns (2 × {self.n_numeric} numeric + "
                             f"{len(self.cardinalities)} categorical), got {describe(x)}; encode the table with "
                             "its TableSchema")
        a, n = self.n_numeric, x.shape[0]
        v, m, codes = x[:, :a], x[:, a:2 * a], x[:, 2 * a:]
        parts = [(v * (1 - m) + m * self.missing_value.data).astype(x.dtype, copy=False), m]
        idx_ctx = None
        if self.embedding is not None:
            c = np.asarray(codes)
            if not np.all(c == np.floor(c)) or (c.size and (c.min() < 0 or np.any(c >= self.cardinalities))):
                raise ValueError("the categorical codes of x must be whole numbers in [0, cardinality) per column; "
                                 "encode the table with its TableSchema, and train with views that keep codes "
                                 "whole (SCARF's column corruption, VIME, masking) rather than noise or mixup "
                                 "(DenoisingAutoencoder, DACL, GaussianNoise)")
            idx = codes.astype(np.int64) + self.offsets
            e, idx_ctx = self.embedding.forward(idx)
            parts.append(e.reshape(n, -1))
        return np.ascontiguousarray(np.concatenate(parts, axis=1)), (m, idx_ctx)

    def backward(self, grad_output, ctx, need_input_grad: bool = True):
        m, idx_ctx = ctx
        a, n = self.n_numeric, grad_output.shape[0]
        g_v = grad_output[:, :a]
        (dmu,), acc = grads_for_backward(self.missing_value)
        s = (m * g_v).sum(axis=0)
        if acc:
            dmu += s
        else:
            dmu[...] = s
        if self.embedding is not None:
            g_e = np.ascontiguousarray(grad_output[:, 2 * a:]).reshape(n, len(self.cardinalities), self.embedding_dim)
            self.embedding.backward(g_e, idx_ctx)
        if not need_input_grad:
            return None
        dx = np.zeros((n, self.in_features), dtype=grad_output.dtype)
        dx[:, :a] = (1 - m) * g_v
        return dx

    def extra_repr(self) -> str:
        return (f"numeric={self.n_numeric}, categorical={len(self.cardinalities)}, "
                f"embedding_dim={self.embedding_dim} -> {self.out_features}")
