"""Fine-tuning: encoder h_θ (initialised at θ*) and a new head g_φ trained together by gradient
descent on the labeled set; the encoder can take a smaller learning rate."""
from __future__ import annotations

import copy

import numpy as np

from .. import distributed as _distributed
from .._seeding import derive_seed
from .._validation import Boolean, Interval, Options, Seed
from ..nn import precision as _precision
from .base import Adapter


class FineTune(Adapter):
    """Fine-tune a copy of ``encoder`` (the given one is left unchanged) with a new head.

    Head: ``head`` or a Linear layer; loss: cross-entropy (classification) or MSE on standardised
    targets (regression); optimizer AdamW with learning rate ``lr`` for the head and
    ``encoder_lr`` (default ``lr / 10``) for the encoder; ``freeze_encoder=True`` trains the head
    alone by gradient descent.

    ``init="probe"`` (default, LP-FT: Kumar et al., ICLR 2022, "Fine-Tuning can Distort
    Pretrained Features and Underperform Out-of-Distribution") starts the Linear head at the
    converged linear probe on the frozen features, so the first gradient steps do not distort
    the pretrained features through a random head; ``init="random"`` is plain fine-tuning.

    ``distributed`` (None: on when launched by ``mpiexec`` with several processes; False; True;
    or a ``pyssl.distributed.ProcessGroup``) trains data-parallel as ``pyssl.pretrain`` does:
    each step takes a global batch of ``world_size × batch_size`` rows, each rank runs its share,
    the loss is that of the global batch and the gradients are summed over the ranks;
    ``sync_batchnorm`` (default True) normalises BatchNorm layers with global-batch statistics.

    Parameters
    ----------
    encoder : pyssl.nn.Module
        The pretrained extractor h_θ* (copied; the given one is unchanged).
    head : Module, optional
        The new head g_φ (default: Linear).
    epochs, batch_size : int
        Passes over the labeled set (>= 1) and rows per step (>= 1, per process).
    lr, encoder_lr : float
        Learning rates of the head (> 0) and of the encoder (>= 0; default lr / 10).
    weight_decay, label_smoothing : float
        AdamW's decoupled decay (>= 0) and the cross-entropy smoothing ε in [0, 1].
    freeze_encoder : bool
        Train the head alone.
    seed : int
        Head initialisation and batch order.
    task : {"auto", "classification", "regression"}
        See :class:`~pyssl.transfer.base.Adapter`.
    init : {"probe", "random"}
        LP-FT head start, or a random head.
    distributed : None, bool or ProcessGroup
        Data-parallel training (see above).
    sync_batchnorm : bool
        Global-batch BatchNorm statistics in a data-parallel run.
    precision : {"32", "bf16-mixed"}
        Compute precision of the training steps' Linear products (see
        :mod:`pyssl.nn.precision`); prediction always runs in float32.
    """

    _parameter_constraints = {
        "epochs": Interval(int, 1), "lr": Interval(float, 0.0, closed="right"),
        "encoder_lr": Interval(float, 0.0, allow_none=True), "batch_size": Interval(int, 1),
        "weight_decay": Interval(float, 0.0), "label_smoothing": Interval(float, 0.0, 1.0),
        "freeze_encoder": Boolean(), "seed": Seed(), "init": Options("probe", "random"), "sync_batchnorm": Boolean(),
        "precision": lambda v, name: _precision.check_precision(v),
    }

    def __init__(self, encoder, head=None, epochs: int = 100, lr: float = 1e-3, encoder_lr: float | None = None,
                 batch_size: int = 128, weight_decay: float = 1e-4, label_smoothing: float = 0.0,
                 freeze_encoder: bool = False, seed: int = 0, task: str = "auto", init: str = "probe",
                 distributed=None, sync_batchnorm: bool = True, precision: str = "32"):
        super().__init__(encoder, task)
        self.head = head
        self.epochs = epochs
        self.lr = lr
        self.encoder_lr = encoder_lr
        self.batch_size = batch_size
        self.weight_decay = weight_decay
        self.label_smoothing = label_smoothing
        self.freeze_encoder = freeze_encoder
        self.seed = seed
        self.init = init
        self.distributed = distributed
        self.sync_batchnorm = sync_batchnorm
        self.precision = precision

    def fit(self, X, y):
        """Train a copy of the encoder and the head on (X, y)."""
        from ..nn import Linear
        from ..nn.losses import cross_entropy, mse
        from ..optim import AdamW

        p = self._validate_params()
        X = self._check_X(X)
        yc = self._check_y(X, y)
        enc = copy.deepcopy(self.encoder)
        d = enc.transform(X[:2]).shape[1]
        if self.task_ == "classification":
            out = len(self.classes_)
            target = yc
        else:
            self.y_mu_, self.y_sd_ = float(yc.mean()), float(yc.std() or 1.0)
            out = 1
            target = ((yc - self.y_mu_) / self.y_sd_).astype(enc.dtype).reshape(-1, 1)
        head = (copy.deepcopy(self.head) if self.head is not None
                else Linear(d, out, dtype=enc.dtype, seed=derive_seed(p["seed"], 1)))  # the encoder's dtype
        if self.head is None and p["init"] == "probe":
            self._probe_init(head, enc.transform(X), yc)
        opts = [AdamW(head.parameters(), lr=p["lr"], weight_decay=p["weight_decay"])]
        if not p["freeze_encoder"]:
            opts.append(AdamW(enc.parameters(), lr=p["encoder_lr"] if p["encoder_lr"] is not None else p["lr"] / 10,
                              weight_decay=p["weight_decay"]))
        group = _distributed.resolve(self.distributed)
        world = group.world_size
        n = X.shape[0]
        bs = min(p["batch_size"] * world, n)  # the global batch
        min_rows = 2 * world if not p["freeze_encoder"] else world  # BatchNorm needs 2 rows per rank
        if world > 1:
            group.check_same([*X.shape, _distributed.checksum(X), p["seed"], bs], "X, seed or batch_size")
        enc.train(not p["freeze_encoder"])
        head.train(True)
        self.loss_curve_ = []

        def loss_fn(o, t):
            if self.task_ == "classification":
                loss, g = cross_entropy(o, t, label_smoothing=p["label_smoothing"])
            else:
                loss, g = mse(o, t)
            return loss, g, None

        with _distributed.sync_batch_norm(group if p["sync_batchnorm"] else None), \
                _precision.weight_copies(opts, p["precision"]):
            for epoch in range(p["epochs"]):
                order = np.random.default_rng(derive_seed(p["seed"], 2, epoch)).permutation(n)
                tot, nb = 0.0, 0
                for s in range(0, n, bs):
                    idx = np.sort(order[s:s + bs])
                    if idx.size < min_rows:
                        continue
                    xb = group.local_rows(X[idx])
                    enc.zero_grad()
                    head.zero_grad()
                    with _precision.autocast(p["precision"]):
                        h, hctx = enc.forward(xb)
                        o, octx = head.forward(h)
                    loss, g, _ = group.global_loss(loss_fn, o, group.local_rows(np.ascontiguousarray(target[idx])))
                    dh = head.backward(g, octx, need_input_grad=not p["freeze_encoder"])
                    if not p["freeze_encoder"]:
                        enc.backward(dh, hctx, need_input_grad=False)
                    for opt in opts:
                        group.sum_gradients(opt)
                        opt.step()
                    tot += float(loss)
                    nb += 1
                self.loss_curve_.append(tot / max(nb, 1))
        enc.eval()
        head.eval()
        self.encoder_, self.head_ = enc, head
        return self

    def _probe_init(self, head, H, yc):
        """Set the Linear head to the converged probe, mapped back from standardised features:
        W' = W / σ_h, b' = b − (μ_h / σ_h)·W (and the target standardisation for regression)."""
        from .solvers import LogisticRegressionSolver, RidgeSolver

        if self.task_ == "classification":
            s = LogisticRegressionSolver(l2=1e-3, max_iter=500).fit(H, yc, len(self.classes_))
            W, b = s.W_, s.b_
        else:
            s = RidgeSolver(l2=1e-3).fit(H, yc)
            W = s.W_ / self.y_sd_
            b = (s.ymu_ - self.y_mu_) / self.y_sd_
        Wf = W / s.sd_[:, None]
        head.weight.data[...] = Wf.astype(head.weight.data.dtype)
        head.bias.data[...] = (b - s.mu_ @ Wf).astype(head.bias.data.dtype)

    def decision_function(self, X):
        self._check_fitted()
        X = self._check_X(X)
        H = self.encoder_.transform(X)
        return self.head_.transform(H)

    def predict(self, X):
        out = self.decision_function(X)
        if self.task_ == "classification":
            return self.classes_[np.argmax(out, axis=1)]
        return out[:, 0] * self.y_sd_ + self.y_mu_
