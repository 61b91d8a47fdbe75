"""Mixed-type tables: pandas DataFrames with numeric, categorical and missing entries.

* :class:`TableSchema` — column kinds and training statistics; packs a frame into
  ``[values | missing flags | category codes]``;
* :class:`TabularEncoder` — schema → :class:`pyssl.nn.MixedInput` (learned missing values,
  indicators, category embeddings) → MLP; an encoder for any method;
* column-wise SCARF / VIME corruptions that draw each replaced column from its empirical
  marginal: :func:`pyssl.pretext.table_scarf_corrupt`, :func:`pyssl.pretext.table_vime_corrupt`.

pandas is optional (``pip install "pyssl[tables]"``) and imported only when a frame is used.
"""
from .schema import MISSING_CODE, UNKNOWN_CODE, TableLayout, TableSchema, is_frame
from .encoder import TabularEncoder, as_model_input, find_table_encoder, table_layout_of

__all__ = ["TableSchema", "TableLayout", "TabularEncoder", "as_model_input", "find_table_encoder",
           "table_layout_of", "is_frame", "MISSING_CODE", "UNKNOWN_CODE"]
