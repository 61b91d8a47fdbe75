"""TS-TCC's convolutional series encoder (Eldele et al., IJCAI 2021)."""
from __future__ import annotations

import numbers

import numpy as np

from .._validation import check_array, check_scalar
from .activation import ReLU
from .batchnorm import ChannelBatchNorm1d
from .conv import Conv1d
from .dropout import Dropout
from .init import rng
from .module import Sequential, in_eval_batches, register_layer
from .pool import MaxPool1d


def check_pool(pool):
    """``pool`` if it is ``"mean"``, ``"max"`` or None, else a ValueError naming the choices."""
    if pool not in ("mean", "max", None):
        raise ValueError(f"pool must be 'mean', 'max' or None, got {pool!r}")
    return pool


def pool_time(z: np.ndarray, pool) -> np.ndarray:
    """Latents z (N, D, T) pooled over time: ``"mean"`` or ``"max"`` → (N, D); None → (N, T, D)."""
    check_pool(pool)
    if z.ndim != 3:
        raise ValueError(f"per-timestep latents (N, D, T) are needed to pool over time, got shape {z.shape}")
    if pool is None:
        return np.ascontiguousarray(z.transpose(0, 2, 1))
    return z.mean(axis=2) if pool == "mean" else z.max(axis=2)


@register_layer("tstcc_encoder", input=(3, 2, 12),
                example=lambda dt: TSTCCEncoder(2, channels=(3, 4, 5), kernel_size=3, dropout=0.0, dtype=dt, seed=0))
class TSTCCEncoder(Sequential):
    """The encoder of TS-TCC (Eldele et al., "Time-Series Representation Learning via Temporal and
    Contextual Contrasting", IJCAI 2021; the reference code's ``base_Model``): three blocks

        Conv1d(k, padding ⌊k/2⌋, no bias) → BatchNorm over channels → ReLU → MaxPool1d(2, 2, padding 1)

    with dropout after the first block, mapping x (N, C, T) to per-timestep latents (N, D, T′),
    D = ``channels[-1]``, T′ ≈ T/8. ``transform(X, pool=...)`` gives whole-series representations.

    Parameters
    ----------
    in_channels : int
        Channels C of the series.
    channels : tuple of int
        Widths of the three blocks (the reference: 32, 64, 128).
    kernel_size : int
        Kernel width k of every convolution (the reference: 8 for HAR and Epilepsy).
    stride : int
        Stride of the first convolution.
    dropout : float
        Dropout probability after the first block (the reference: 0.35).
    dtype : float32 or float64
        The parameters' dtype.
    seed : int, optional
        Initialisation and dropout seed; None draws from the process-wide stream.
    """

    def __init__(self, in_channels: int, channels=(32, 64, 128), kernel_size: int = 8, stride: int = 1,
                 dropout: float = 0.35, dtype=np.float32, seed=None):
        check_scalar(in_channels, "in_channels", kind=numbers.Integral, low=1)
        channels = tuple(int(check_scalar(w, "channels", kind=numbers.Integral, low=1)) for w in channels)
        if not channels:
            raise ValueError("channels must name at least one block width")
        check_scalar(kernel_size, "kernel_size", kind=numbers.Integral, low=1)
        check_scalar(stride, "stride", kind=numbers.Integral, low=1)
        check_scalar(dropout, "dropout", low=0.0, high=1.0, high_inclusive=False)
        g = rng(seed)
        layers, c = [], int(in_channels)
        for i, width in enumerate(channels):
            layers += [Conv1d(c, width, kernel_size, stride=stride if i == 0 else 1, padding=kernel_size // 2,
                              bias=False, dtype=dtype, seed=int(g.integers(2**63))),
                       ChannelBatchNorm1d(width, dtype=dtype), ReLU(), MaxPool1d(2, 2, padding=1)]
            if i == 0 and dropout > 0:
                layers.append(Dropout(dropout, seed=int(g.integers(2**63))))
            c = width
        super().__init__(*layers)
        self.in_channels, self.out_features = int(in_channels), channels[-1]

    def transform(self, X, batch_size: int = 64, *, pool="mean") -> np.ndarray:
        """Representations in evaluation mode, in batches: ``pool="mean"`` (default) or ``"max"``
        over time, (N, D); ``pool=None`` the per-timestep latents (N, T′, D)."""
        check_pool(pool)
        X = check_array(X, "X", dtype=self.dtype, ndim=3)
        return in_eval_batches(self, X, batch_size, lambda x: pool_time(self.forward(x)[0], pool))
