"""Embedding layer: a learned table of vectors looked up by integer codes (categorical features)."""
from __future__ import annotations

import numbers

import numpy as np

from .. import _core
from .._validation import check_scalar, describe
from .init import rng
from .module import Module, Parameter, grads_for_backward, register_layer


def check_indices(idx, num: int, name: str = "indices") -> np.ndarray:
    """``idx`` as a C-contiguous int64 array with every entry in [0, num), else a clear error."""
    arr = np.asarray(idx)
    if arr.dtype == bool or not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise TypeError(f"{name} must be integer codes, got {describe(arr)}")
    if np.issubdtype(arr.dtype, np.floating):
        if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
            raise ValueError(f"{name} must hold whole numbers (category codes), got non-integral values")
    arr = np.ascontiguousarray(arr, dtype=np.int64)
    if arr.size and (arr.min() < 0 or arr.max() >= num):
        bad = arr[(arr < 0) | (arr >= num)].ravel()[0]
        raise ValueError(f"{name} must lie in [0, {num}) (the embedding table's rows), got {int(bad)}")
    return arr


@register_layer("embedding", example=lambda dt: Embedding(7, 3, dtype=dt, seed=0), input=(5, 2), fd="parameters",
                sample=lambda rng, shape: rng.integers(0, 7, size=shape))
class Embedding(Module):
    """Lookup table ``y[..., :] = W[idx[...], :]`` (Bengio et al., 2003, "A Neural Probabilistic
    Language Model"; for categorical table columns: Guo & Berkhahn, 2016, "Entity Embeddings of
    Categorical Variables").

    Shapes: idx integer codes of any shape (N, ...), W (num_embeddings, embedding_dim),
    y idx.shape + (embedding_dim,). Backward (C++): ``dW[r] += Σ_{p: idx[p] = r} dy[p]``, a
    scatter-add summed per row in a fixed order (bit-identical for any thread count; no atomics).
    The integer input has gradient 0 (``backward`` returns zeros of the codes' shape, or None
    when ``need_input_grad`` is False).
    Initialisation: W ~ N(0, 1) (PyTorch's default for nn.Embedding).

    Parameters
    ----------
    num_embeddings : number of rows (codes 0 .. num_embeddings − 1).
    embedding_dim : length of each vector.
    std : standard deviation of the initial weights.
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, std: float = 1.0, dtype=np.float32, seed=None):
        super().__init__()
        self.num_embeddings = int(check_scalar(num_embeddings, "num_embeddings", kind=numbers.Integral, low=1))
        self.embedding_dim = int(check_scalar(embedding_dim, "embedding_dim", kind=numbers.Integral, low=1))
        std = check_scalar(std, "std", low=0.0)
        w = rng(seed).standard_normal((self.num_embeddings, self.embedding_dim)) * std
        self.weight = Parameter(w.astype(dtype))

    def forward(self, idx):
        idx = check_indices(idx, self.num_embeddings)
        return _core.nn.embedding_forward(self.weight.data, idx), idx

    def backward(self, grad_output, ctx, need_input_grad: bool = True):
        (wg,), acc = grads_for_backward(self.weight)
        g = np.ascontiguousarray(grad_output, dtype=self.weight.data.dtype)
        _core.nn.embedding_backward(ctx, g, wg, accumulate=acc)
        # the codes are piecewise constant: their gradient is 0 (as MixedInput's for its code columns)
        return np.zeros(ctx.shape, dtype=g.dtype) if need_input_grad else None

    def extra_repr(self) -> str:
        return f"{self.num_embeddings}, {self.embedding_dim}"
