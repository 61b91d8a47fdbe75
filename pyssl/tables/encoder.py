"""TabularEncoder: an encoder h_θ for mixed-type tables — TableSchema → MixedInput → MLP."""
from __future__ import annotations

import numbers

import numpy as np

from .._validation import check_scalar
from ..nn.mixed_input import MixedInput
from ..nn.mlp import MLP, NORMS
from ..nn.module import Module
from .schema import TableSchema, is_frame


class TabularEncoder(Module):
    r"""Encoder for pandas DataFrames with numeric, categorical and missing entries.

    ``h(frame) = MLP(MixedInput(schema.transform(frame)))``: the :class:`TableSchema` packs the
    frame into ``[values | missing flags | codes]`` (numeric columns standardised with training
    statistics, categories as integer codes), :class:`pyssl.nn.MixedInput` replaces each missing
    numeric by a learned value and keeps its indicator, embeds each categorical code, and the MLP
    (``[width, *hidden]``, the usual Linear → norm → activation blocks) maps the result to the
    embedding. ``forward`` takes the packed matrix; ``transform``, ``pyssl.pretrain``,
    ``pyssl.transfer`` and ``pyssl.sklearn.SSLEmbedding`` also take the DataFrame itself.

    The schema may be given fitted, or it is fitted on the first frame the encoder trains on
    (``pyssl.pretrain(method, frame)``); the layers are built then.

    Parameters
    ----------
    schema : TableSchema (fitted or not) or None for a default one.
    hidden : MLP widths after the input; the embedding size is ``hidden[-1]``.
    norm, act : the MLP's normalisation ("batch", "layer", None) and activation.
    embedding_dim : E, the length of every category embedding.
    seed : initialisation seed.
    """

    # Set in __init__ through object.__setattr__ (settings, not parameters or submodules).
    schema: TableSchema
    hidden: list[int]
    norm: str | None
    act: str
    embedding_dim: int
    seed: int
    _dtype: np.dtype

    def __init__(self, schema: TableSchema | None = None, hidden=(256, 256), norm="batch", act="relu",
                 embedding_dim: int = 8, dtype=np.float32, seed: int | None = 0):
        super().__init__()
        if schema is not None and not isinstance(schema, TableSchema):
            raise TypeError(f"schema must be a pyssl.tables.TableSchema or None, got {type(schema).__name__}")
        try:
            hidden = [int(check_scalar(h, "hidden entries", kind=numbers.Integral, low=1)) for h in hidden]
        except TypeError:
            raise TypeError(f"hidden must be a sequence of layer widths such as (256, 256), got {hidden!r}") from None
        if not hidden:
            raise ValueError("hidden must name at least one layer width, e.g. hidden=(256,)")
        if norm not in NORMS:
            raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
        object.__setattr__(self, "schema", schema if schema is not None else TableSchema())
        object.__setattr__(self, "hidden", hidden)
        object.__setattr__(self, "norm", norm)
        object.__setattr__(self, "act", act)
        object.__setattr__(self, "embedding_dim", int(check_scalar(embedding_dim, "embedding_dim",
                                                                   kind=numbers.Integral, low=1)))
        object.__setattr__(self, "_dtype", np.dtype(dtype))
        object.__setattr__(self, "seed", 0 if seed is None else int(seed))
        self.out_features = hidden[-1]
        if self.schema.fitted:
            self._build()

    # -- building ----------------------------------------------------------------------------------
    @property
    def built(self) -> bool:
        return "mlp" in self._modules

    def _build(self) -> None:
        from .._seeding import derive_seed

        s = self.schema
        self.input = MixedInput(len(s.numeric_), s.cardinalities, self.embedding_dim, dtype=self._dtype,
                                seed=derive_seed(self.seed, 1))
        self.mlp = MLP([self.input.out_features, *self.hidden], norm=self.norm, act=self.act, dtype=self._dtype,
                       seed=derive_seed(self.seed, 2))
        self.in_features = s.width

    def fit_schema(self, frame) -> "TabularEncoder":
        """Fit the schema on the training ``frame`` and build the layers (once)."""
        if self.built:
            raise RuntimeError("this TabularEncoder is already built on a fitted schema; make a new one to refit")
        self.schema.fit(frame)
        self._build()
        return self

    @property
    def dtype(self):
        return self._dtype if not self.built else super().dtype

    def _astype_local(self, dtype):
        object.__setattr__(self, "_dtype", np.dtype(dtype))
        super()._astype_local(dtype)

    @property
    def table_layout(self):
        """The packed columns of each table column (:class:`pyssl.tables.TableLayout`), for views
        that corrupt whole columns."""
        return self.schema.layout if self.schema.fitted else None

    def encode(self, frame, fit: bool = False) -> np.ndarray:
        """The packed matrix of ``frame`` in this encoder's dtype; ``fit=True`` first fits the
        schema (and builds the layers) when that has not been done."""
        if not is_frame(frame):
            raise TypeError(f"encode takes a pandas DataFrame, got {type(frame).__name__}")
        if fit and not self.built:
            self.fit_schema(frame)
        if not self.built:
            raise RuntimeError("this TabularEncoder's schema is not fitted: pretrain it on a DataFrame, or call "
                               "fit_schema(frame) with the training table")
        return self.schema.transform(frame, dtype=self.dtype)

    # -- computation -------------------------------------------------------------------------------
    def forward(self, x):
        if is_frame(x):
            x = self.encode(x)
        if not self.built:
            raise RuntimeError("this TabularEncoder's schema is not fitted: pretrain it on a DataFrame, or call "
                               "fit_schema(frame) with the training table")
        h, c1 = self.input.forward(x)
        y, c2 = self.mlp.forward(h)
        return y, (c1, c2)

    def backward(self, grad_output, ctx, need_input_grad: bool = True):
        c1, c2 = ctx
        g = self.mlp.backward(grad_output, c2, need_input_grad=True)
        return self.input.backward(g, c1, need_input_grad=need_input_grad)

    # -- serialisation -------------------------------------------------------------------------------
    def spec(self) -> dict:
        """JSON-able description for ``pyssl.experiments.make_encoder`` (CLI checkpoints)."""
        return {"type": "table", "schema": self.schema.to_dict() if self.schema.fitted else None,
                "hidden": list(self.hidden), "norm": self.norm, "act": self.act,
                "embedding_dim": self.embedding_dim, "seed": self.seed}

    @classmethod
    def from_spec(cls, spec: dict) -> "TabularEncoder":
        schema = TableSchema.from_dict(spec["schema"]) if spec.get("schema") else None
        return cls(schema, hidden=spec.get("hidden", (256, 256)), norm=spec.get("norm", "batch"),
                   act=spec.get("act", "relu"), embedding_dim=spec.get("embedding_dim", 8),
                   seed=spec.get("seed", 0))

    def extra_repr(self) -> str:
        return repr(self.schema)


def find_table_encoder(module):
    """The TabularEncoder inside ``module`` (itself, or a child such as a PretrainedEncoder's), or None."""
    if not isinstance(module, Module):
        return None
    for m in module.modules():
        if isinstance(m, TabularEncoder):
            return m
    return None


def table_layout_of(module):
    """The column layout of the table ``module`` encodes, or None when it is not a table encoder."""
    enc = find_table_encoder(module)
    return enc.table_layout if enc is not None else None


def as_model_input(module, X, fit: bool = False, name: str = "X"):
    """X as the array ``module`` takes: a DataFrame is packed by the module's TabularEncoder
    (fitting its schema first when ``fit`` and it is not fitted); a DataFrame given to an encoder
    without one must be all-numeric and complete. Anything else is returned unchanged."""
    if not is_frame(X):
        return X
    enc = find_table_encoder(module)
    if enc is not None:
        return enc.encode(X, fit=fit)
    import pandas as pd

    text = [c for c in X.columns if not (pd.api.types.is_numeric_dtype(X[c].dtype)
                                         and not pd.api.types.is_bool_dtype(X[c].dtype))]
    missing = [c for c in X.columns if c not in text and X[c].isna().any()]
    if text or missing:
        what = "; ".join(p for p in (f"categorical or non-numeric columns {text}" if text else "",
                                     f"missing values in {missing}" if missing else "") if p)
        raise TypeError(f"{name} is a DataFrame with {what}, but {type(module).__name__} takes numbers only; "
                        "use a table encoder, e.g. pyssl.tables.TabularEncoder(hidden=(256, 256)), which embeds "
                        "categories and models missing values")
    return np.ascontiguousarray(X.to_numpy(dtype=np.float64), dtype=np.float32)
