"""NNCLR (Dwibedi et al., ICCV 2021, "With a Little Help from My Friends: Nearest-Neighbor
Contrastive Learning of Visual Representations"): the positive of a view is the nearest neighbour
of its projection in a support queue of past projections."""
from __future__ import annotations

import numpy as np

from .. import _core
from .._seeding import derive_seed
from .._validation import check_array, check_scalar
from ..nn.normalize import l2_normalize as _l2_rows
from .base import Method, backward_chain, forward_chain, register_method

#: the paper's support-set size and the ImageNet-1k training set it was chosen for
PAPER_QUEUE_SIZE = 98304
IMAGENET_TRAIN_SIZE = 1_281_167


def default_queue_size(n_train: int) -> int:
    """Support-set size for ``n_train`` training samples: the paper's fraction of the data set
    (98,304 of ImageNet's 1,281,167 images, 7.7%), at least 256 (or ``n_train`` when smaller, so
    the queue never holds a sample twice within an epoch) and at most 98,304."""
    n = int(n_train)
    return int(min(PAPER_QUEUE_SIZE, max(min(256, n), round(n * PAPER_QUEUE_SIZE / IMAGENET_TRAIN_SIZE))))


def nearest_neighbours(z, support):
    """Rows of ``support`` (K, d; unit rows) nearest to the rows of ``z`` (N, d) in cosine
    similarity: NN(z)_i = Q[argmax_k ẑ_i · Q_k] (the first index on ties). Returns (NN, index)."""
    zhat = _core.nn.l2_normalize_forward(np.ascontiguousarray(z))[0]
    sims = _core.nn.dense_forward(zhat, np.ascontiguousarray(support.T), None)
    idx = np.argmax(sims, axis=1)
    return np.ascontiguousarray(support[idx]), idx


def nnclr_loss(nn1, nn2, p1, p2, temperature: float = 0.1):
    r"""NNCLR's symmetric loss and its gradients with respect to the predictions.

    .. math::
        L(a, p) = -\frac1N \sum_i \log \frac{\exp(\hat a_i \cdot \hat p_i / τ)}
                  {\sum_{k=1}^{N} \exp(\hat a_i \cdot \hat p_k / τ)},\qquad
        \mathcal L = \tfrac12 L(\mathrm{NN}(z_1), p_2) + \tfrac12 L(\mathrm{NN}(z_2), p_1)

    with :math:`\hat v = v / \max(\|v\|, 10^{-12})`. Dwibedi et al. 2021, eq. (1) and Algorithm 1:
    row i of the logits is the nearest neighbour of view 1's projection against the predictions of
    view 2 (the positive on the diagonal, the other N − 1 predictions as negatives), and the same
    with the views swapped. The neighbours come from the support set and carry no gradient.

    Shapes: nn1, nn2, p1, p2 (N, d), N >= 2. Returns ``(loss, dp1, dp2)``.
    """
    p1 = check_array(p1, "p1", ndim=2)
    p2 = check_array(p2, "p2", dtype=p1.dtype, ndim=2)
    nn1 = check_array(nn1, "nn1", dtype=p1.dtype, ndim=2)
    nn2 = check_array(nn2, "nn2", dtype=p1.dtype, ndim=2)
    if not (p1.shape == p2.shape == nn1.shape == nn2.shape):
        raise ValueError(f"nn1, nn2, p1, p2 must have one shape (N, d), got {nn1.shape}, {nn2.shape}, "
                         f"{p1.shape}, {p2.shape}")
    if p1.shape[0] < 2:
        raise ValueError(f"nnclr_loss needs N >= 2 rows (the other rows are the negatives), got {p1.shape[0]}")
    tau = check_scalar(temperature, "temperature", low=0.0, low_inclusive=False)
    labels = np.arange(p1.shape[0], dtype=np.int64)

    def one(a, p):
        ahat = _core.nn.l2_normalize_forward(a)[0] * p.dtype.type(1.0 / tau)
        phat, norm = _core.nn.l2_normalize_forward(p)
        logits = _core.nn.dense_forward(ahat, np.ascontiguousarray(phat.T), None)
        loss, dlogits = _core.nn.cross_entropy(logits, labels, 0.0)
        dphat = _core.nn.dense_forward(np.ascontiguousarray(dlogits.T), ahat, None)
        return loss, _core.nn.l2_normalize_backward(phat, norm, dphat)

    l1, dp2 = one(nn1, p2)
    l2, dp1 = one(nn2, p1)
    half = p1.dtype.type(0.5)
    return 0.5 * (l1 + l2), dp1 * half, dp2 * half


@register_method("nnclr", example=lambda e: NNCLR(e, queue_size=64, projection_dim=16), moving_target=True)
class NNCLR(Method):
    """NNCLR (Dwibedi et al., ICCV 2021): encoder → projector z → predictor p on two views; the
    positive for p₂ is NN(z₁), the nearest neighbour (cosine) of z₁ in a support queue Q of past
    normalised projections, and symmetrically NN(z₂) for p₁ (:func:`nnclr_loss`, temperature 0.1).
    After each step the normalised projections of view 1 are enqueued (first in, first out).

    Paper defaults and how they scale here:

    * ``queue_size``: 98,304 on ImageNet; ``None`` picks :func:`default_queue_size` of the training
      set — the same 7.7% fraction of it, at least 256 (or the whole set when smaller).
    * ``temperature`` 0.1.
    * projector: 3 layers with BN (hidden 2048, out 256), predictor: 2 layers (hidden 4096, out
      256); here ``projection_dim`` 256 and hidden widths ``hidden_dim`` (default
      2 × max(feature size, projection_dim)), so small encoders get small heads.

    The queue starts as random unit vectors (it fills with real projections after
    ``queue_size / batch_size`` steps), and is saved with the method state (bit-exact resume).

    Parameters
    ----------
    encoder : pyssl.nn.Module
        h_θ.
    projector, predictor : pyssl.nn.Module, optional
        Heads (default: MLPs as above).
    temperature : float
        τ of :func:`nnclr_loss`.
    queue_size : int, optional
        Support-set size K (default :func:`default_queue_size` of the training set).
    projection_dim, hidden_dim : int
        Projection width and the heads' hidden width.
    views : callable, optional
        View maker (default by input rank, as every method).
    seed : int
        Head initialisation and initial queue.
    """

    trainable_names = ("encoder", "projector", "predictor")
    buffer_names = ("queue", "queue_ptr")
    buffer_settings = {"queue": "queue_size and projection_dim"}

    def __init__(self, encoder, projector=None, predictor=None, temperature: float = 0.1,
                 queue_size: int | None = None, projection_dim: int = 256, hidden_dim: int | None = None,
                 views=None, seed: int | None = 0):
        super().__init__(encoder, views=views, seed=seed)
        self.projector, self.predictor = projector, predictor
        self.temperature = check_scalar(temperature, "temperature", low=0.0, low_inclusive=False)
        self.queue_size = None if queue_size is None else check_scalar(queue_size, "queue_size", kind=int, low=1)
        self.projection_dim = check_scalar(projection_dim, "projection_dim", kind=int, low=1)
        self.hidden_dim = None if hidden_dim is None else check_scalar(hidden_dim, "hidden_dim", kind=int, low=1)
        self._pending = None

    def build_heads(self, feature_dim, X):
        n = X.shape[0]
        if self.queue_size is None:
            self.queue_size = default_queue_size(n)
        elif self.queue_size > n:
            import warnings

            warnings.warn(f"NNCLR: queue_size={self.queue_size} is larger than the {n} training samples, so the "
                          "support set holds stale projections of the query's own sample; pass queue_size <= "
                          f"{n} (or None for the default rule)", UserWarning, stacklevel=4)
        hidden = self.hidden_dim or 2 * max(feature_dim, self.projection_dim)
        if self.projector is None:
            self.projector = self.mlp([feature_dim, hidden, hidden, self.projection_dim], key=1)
        dim = int(getattr(self.projector, "out_features", self.projection_dim))
        if self.predictor is None:
            self.predictor = self.mlp([dim, hidden, dim], key=2)
        q = np.random.default_rng(derive_seed(self.seed, 4)).standard_normal((self.queue_size, dim))
        self.queue = _l2_rows(q).astype(self.dtype)
        self.queue_ptr = np.zeros(1, dtype=np.int64)

    def training_step(self, X, seed):
        x1, x2 = self.make_views(X, seed)
        n = x1.shape[0]
        chain = [self.encoder, self.projector]
        z, ctx = forward_chain(chain, np.concatenate([x1, x2]))
        p, pctx = self.predictor.forward(z)

        def loss_fn(p1, p2, z1, z2):  # the whole batch's rows; the queue gets every rank's z₁
            nn1, _ = nearest_neighbours(z1, self.queue)
            nn2, _ = nearest_neighbours(z2, self.queue)
            self._pending = _l2_rows(z1).astype(self.queue.dtype)
            loss, dp1, dp2 = nnclr_loss(nn1, nn2, p1, p2, self.temperature)
            return loss, dp1, dp2, None, None

        loss, dp1, dp2, _, _ = self.global_loss(loss_fn, p[:n], p[n:], z[:n], z[n:])
        dz = self.predictor.backward(np.concatenate([dp1, dp2]), pctx)
        backward_chain(chain, dz, ctx)
        return float(loss)

    def enqueue(self, z_hat: np.ndarray) -> None:
        """Ring-buffer update: row j of ``z_hat`` goes to slot (ptr + j) mod K (with more rows than
        slots, only the last K survive, as if enqueued one by one)."""
        k, K = z_hat, self.queue.shape[0]
        n, ptr = k.shape[0], int(self.queue_ptr[0])
        first = max(0, n - K)
        self.queue[(ptr + np.arange(first, n)) % K] = k[first:]
        self.queue_ptr[0] = (ptr + n) % K

    def on_step_end(self, step, total_steps):
        if self._pending is not None:
            self.enqueue(self._pending)
            self._pending = None
