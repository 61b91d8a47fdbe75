"""Column-wise corruptions of mixed-type table rows (packed by :class:`pyssl.tables.TableSchema`).

A table column is a group of packed positions (a numeric column: its standardised value and its
missing flag; a categorical column: its code). Replacing column c of row i copies the whole group
from one donor row of the reference set, so the new entry — a number together with its
missingness, or a category code — is a draw from column c's empirical marginal, as SCARF and VIME
prescribe for every feature type. Draws come from Philox streams keyed by (seed, kernel, row):
bit-identical for any thread count.
"""
from __future__ import annotations

import math

import numpy as np

from .. import _core
from .._validation import check_seed, describe
from ._common import as_batch, ratio as _ratio

__all__ = ["table_scarf_corrupt", "table_vime_corrupt"]


def _groups(layout, width: int):
    start, cols = getattr(layout, "group_start", None), getattr(layout, "group_cols", None)
    if start is None or cols is None:
        raise TypeError(f"layout must be a pyssl.tables.TableLayout (e.g. schema.layout), got {type(layout).__name__}")
    start = np.ascontiguousarray(start, dtype=np.int64)
    cols = np.ascontiguousarray(cols, dtype=np.int64)
    if start.ndim != 1 or start.size < 2 or cols.ndim != 1:
        raise TypeError("layout must be a pyssl.tables.TableLayout (e.g. schema.layout), with 1-D group_start and "
                        "group_cols")
    if int(start[-1]) > width or (cols.size and int(cols.max()) >= width):
        raise ValueError(f"layout describes {int(start[-1])} packed positions but x has width {width}; use the "
                         "layout of the schema that packed x")
    return start, cols


def table_scarf_corrupt(x, reference, layout, ratio, seed):
    """SCARF corruption of table columns (Bahri et al. 2022, "SCARF: Self-supervised contrastive
    learning using random feature corruption", §2), for mixed types.

    For each row, exactly ``k = max(1, ⌊ratio · C⌋)`` of the C table columns are chosen uniformly
    without replacement; column c is replaced by its packed entries in row r of ``reference``, r
    uniform over the reference rows — a draw from the column's empirical marginal (for a categorical
    column: a code drawn from the training codes, missing code included; for a numeric column: a
    value and its missing flag).

    Parameters
    ----------
    x : packed rows (N, W); reference : (R, W), usually the packed training table;
    layout : :class:`pyssl.tables.TableLayout`; ratio : float in [0, 1]; seed : int.

    Returns
    -------
    x_corrupt : (N, W) of x's dtype; mask : (N, C), 1 for the replaced columns.
    """
    x = as_batch(x, ndim=2)
    ref = as_batch(reference, "reference", ndim=2)
    if ref.shape[1] != x.shape[1]:
        raise ValueError(f"reference must have x's width {x.shape[1]}, got {describe(ref)}")
    ref = np.ascontiguousarray(ref, dtype=x.dtype)
    start, cols = _groups(layout, x.shape[1])
    c = start.size - 1
    k = max(1, int(math.floor(_ratio(ratio) * c)))
    return _core.augment.table_scarf_corrupt(x, ref, start, cols, min(k, c), check_seed(seed))


def table_vime_corrupt(x, layout, p_m, seed, reference=None):
    """VIME mask-and-swap corruption of table columns (Yoon et al. 2020, "VIME", §4.1), for mixed
    types.

    Column c of row i is corrupted with probability ``p_m``: its packed entries are replaced by
    those of row r of ``reference`` (default: the batch x itself, VIME's per-column shuffle), r
    uniform. Returns ``(x̃ (N, W), m (N, C))`` with VIME's label m = 1 where the column changed (a
    swap with an equal entry is not a corruption).

    Parameters
    ----------
    x : array (N, W)
        Packed rows.
    layout : pyssl.tables.TableLayout
        The packing (``schema.layout``).
    p_m : float
        Corruption probability per table column, in [0, 1].
    seed : int
        Fixes the draws (Philox streams keyed by seed and row).
    reference : array (R, W), optional
        Donor rows (default: the batch x itself).
    """
    x = as_batch(x, ndim=2)
    ref = x if reference is None else as_batch(reference, "reference", ndim=2)
    if ref.shape[1] != x.shape[1]:
        raise ValueError(f"reference must have x's width {x.shape[1]}, got {describe(ref)}")
    ref = np.ascontiguousarray(ref, dtype=x.dtype)
    start, cols = _groups(layout, x.shape[1])
    return _core.augment.table_vime_corrupt(x, ref, start, cols, _ratio(p_m, "p_m"), check_seed(seed))
