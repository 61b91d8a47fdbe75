"""scikit-learn estimator: ``SSLEmbedding`` pretrains an MLP encoder by self-supervision in
``fit`` and maps samples to embeddings in ``transform``, so it drops into ``Pipeline`` and
``GridSearchCV``::

    from sklearn.pipeline import make_pipeline
    from sklearn.linear_model import LogisticRegression
    pipe = make_pipeline(StandardScaler(), SSLEmbedding(method="vicreg"), LogisticRegression())

scikit-learn is an optional dependency (``pip install "pyssl[data]"``).

Exemptions from ``check_estimator``: none are needed for correctness; the test suite runs it
with ``epochs=2`` to keep it fast (``fit`` is a full pretraining run).
"""
from __future__ import annotations

import numpy as np

try:
    from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
    from sklearn.utils.validation import check_is_fitted, validate_data
except ImportError as exc:  # pragma: no cover - exercised only without scikit-learn
    raise ImportError("pyssl.sklearn needs scikit-learn: pip install 'pyssl[data]'") from exc


class SSLEmbedding(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Self-supervised embedding as a scikit-learn transformer.

    X (in ``fit`` / ``transform``) may be a pandas DataFrame with categorical (string, ``category``,
    ``bool``) columns and missing values: the encoder is then a :class:`pyssl.tables.TabularEncoder`
    (standardised numerics with learned missing values and indicators, category embeddings) whose
    schema is fitted on the training frame.

    Parameters
    ----------
    method : str, default="simclr"
        One of ``pyssl.experiments.METHOD_NAMES`` (the domain-agnostic methods of
        ``pyssl.methods.METHODS``: simclr, moco, byol, simsiam, barlow_twins,
        vicreg, swav, dino, scarf, dacl, masked, denoising, vime).
    hidden : tuple of int, default=(256, 256)
        Encoder widths after the input; the embedding size is ``hidden[-1]``.
    norm : {"batch", "layer", None}, default="batch"
    epochs, batch_size, lr : pretraining schedule (AdamW, warmup-free cosine decay); epochs=None
        (default, 50 before the defaults sweep): about 1500 optimizer steps,
        ``pyssl.train.default_epochs``.
    random_state : int, default=0
        Seeds the initialisation and every random draw of pretraining.
    method_params : dict or None
        Extra keyword arguments for the method (e.g. ``{"temperature": 0.5}``).
    distributed : None, bool or pyssl.distributed.ProcessGroup, default=None
        Data-parallel pretraining over MPI processes (see ``pyssl.pretrain``); None turns it on
        when the script runs under ``mpiexec`` with several processes.
    precision : {"32", "bf16-mixed"}, default="32"
        Compute precision of pretraining (see ``pyssl.pretrain``); ``transform`` runs in float32.
    """

    def __init__(self, method="simclr", hidden=(256, 256), norm="batch", epochs=None, batch_size=256, lr=1e-3,
                 random_state=0, method_params=None, distributed=None, precision="32"):
        self.method = method
        self.hidden = hidden
        self.norm = norm
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.random_state = random_state
        self.method_params = method_params
        self.distributed = distributed
        self.precision = precision

    def _check_params(self) -> tuple[int, ...]:
        """Validate the constructor parameters (scikit-learn checks them in ``fit``); return the
        encoder widths."""
        import numbers

        from ._validation import check_scalar
        from .experiments import METHOD_NAMES

        hidden = self.hidden
        if isinstance(hidden, numbers.Integral) and not isinstance(hidden, bool):
            raise TypeError(f"hidden must be a tuple of layer widths, got the int {hidden}; "
                            f"write hidden=({hidden},) for one layer or hidden=({hidden}, {hidden}) for two")
        try:
            widths = tuple(hidden)
        except TypeError:
            raise TypeError(f"hidden must be a tuple of layer widths such as (256, 256), got "
                            f"{type(hidden).__name__}") from None
        if not widths:
            raise ValueError("hidden must name at least one layer width, e.g. hidden=(256,)")
        for w in widths:
            check_scalar(w, "hidden entries", kind=numbers.Integral, low=1)
        if not isinstance(self.method, str):
            raise TypeError(f"method must be the name of a method, one of {list(METHOD_NAMES)}, got "
                            f"{type(self.method).__name__} {self.method!r}")
        if self.method.lower().replace("-", "_") not in METHOD_NAMES:
            raise ValueError(f"method must be one of {list(METHOD_NAMES)}, got {self.method!r}")
        if self.norm not in ("batch", "layer", None):
            raise ValueError(f"norm must be 'batch', 'layer' or None, got {self.norm!r}")
        if self.epochs is not None:
            check_scalar(self.epochs, "epochs", kind=numbers.Integral, low=1)
        check_scalar(self.batch_size, "batch_size", kind=numbers.Integral, low=2)
        if isinstance(self.lr, str):
            raise TypeError(f"lr must be a number, got the string {self.lr!r}; pass it without quotes")
        check_scalar(self.lr, "lr", low=0.0, low_inclusive=False)
        if self.method_params is not None and not isinstance(self.method_params, dict):
            raise TypeError(f"method_params must be a dict of keyword arguments for the method or None, "
                            f"got {type(self.method_params).__name__}")
        return tuple(int(w) for w in widths)

    def fit(self, X, y=None):
        from ._seeding import derive_seed
        from .experiments import make_encoder
        from .tables import is_frame

        hidden = self._check_params()
        if is_frame(X) and self._needs_table_encoder(X):
            return self._fit_table(X, hidden)
        X = validate_data(self, X, dtype=[np.float64, np.float32], ensure_min_samples=2)
        X = np.ascontiguousarray(X, dtype=np.float32)
        seed = 0 if self.random_state is None else int(self.random_state)
        spec = {"type": "mlp", "dims": [X.shape[1], *hidden], "norm": self.norm,
                "seed": derive_seed(seed, 1)}
        self.encoder_ = make_encoder(spec)
        return self._pretrain(X, hidden, seed)

    def _needs_table_encoder(self, frame) -> bool:
        """A frame with a non-numeric (or bool) column or a missing entry takes a TabularEncoder."""
        import pandas as pd

        return any(not pd.api.types.is_numeric_dtype(frame[c].dtype) or pd.api.types.is_bool_dtype(frame[c].dtype)
                   or frame[c].isna().any() for c in frame.columns)

    def _fit_table(self, frame, hidden):
        """fit for a mixed-type DataFrame: a pyssl.tables.TabularEncoder (schema fitted on ``frame``)."""
        from ._seeding import derive_seed
        from .tables import TabularEncoder

        if frame.shape[0] < 2:
            raise ValueError(f"X needs at least 2 samples, got {frame.shape[0]}")
        seed = 0 if self.random_state is None else int(self.random_state)
        self.encoder_ = TabularEncoder(hidden=hidden, norm=self.norm, seed=derive_seed(seed, 1))
        Xp = self.encoder_.encode(frame, fit=True)
        self.n_features_in_ = frame.shape[1]
        names = list(frame.columns)
        if all(isinstance(c, str) for c in names):
            self.feature_names_in_ = np.asarray(names, dtype=object)
        return self._pretrain(Xp, hidden, seed)

    def _pretrain(self, X, hidden, seed):
        """The method over ``self.encoder_`` pretrained on the array X (both fit paths end here)."""
        from ._seeding import derive_seed
        from .experiments import make_method
        from .train import pretrain

        method = make_method(self.method, self.encoder_, seed=derive_seed(seed, 2), **(self.method_params or {}))
        bs = max(2, min(int(self.batch_size), X.shape[0]))
        self.history_ = pretrain(method, X, epochs=None if self.epochs is None else int(self.epochs),
                                 batch_size=bs, seed=seed, lr=float(self.lr),
                                 progress=False, distributed=self.distributed,
                                 precision=self.precision)
        self.n_features_out_ = hidden[-1]
        self._n_features_out = self.n_features_out_
        return self

    def transform(self, X):
        check_is_fitted(self, "encoder_")
        from .tables import TabularEncoder, is_frame

        if isinstance(self.encoder_, TabularEncoder):
            if not is_frame(X):
                raise TypeError(f"this SSLEmbedding was fitted on a DataFrame with categorical or missing entries; "
                                f"transform takes a DataFrame with the same columns, got {type(X).__name__}")
            return self.encoder_.transform(X).astype(np.float64)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        return self.encoder_.transform(np.ascontiguousarray(X, dtype=np.float32)).astype(np.float64)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags
