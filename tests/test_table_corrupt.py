"""Column-wise SCARF / VIME corruptions of packed mixed-type rows: whole columns move together,
replacements follow each column's empirical marginal, results are seeded and thread-invariant."""
import numpy as np
import pytest

from pyssl import pretext
from pyssl.tables import TableLayout
from pyssl.testing import assert_seeded_and_thread_invariant


def _layout(a, card):
    cols = [p for j in range(a) for p in (j, a + j)] + [2 * a + j for j in range(len(card))]
    start = [0] + [2 * (j + 1) for j in range(a)] + [2 * a + j + 1 for j in range(len(card))]
    return TableLayout(np.array(start, np.int64), np.array(cols, np.int64), a, tuple(card))


def _table(rng, n, a=2, card=(3, 5), p_missing=0.2):
    v = rng.standard_normal((n, a))
    m = (rng.random((n, a)) < p_missing).astype(np.float64)
    v[m > 0] = 0
    codes = np.stack([rng.choice(k, n, p=np.arange(1, k + 1) / np.arange(1, k + 1).sum()) for k in card], axis=1) \
        if card else np.zeros((n, 0))
    return np.concatenate([v, m, codes], axis=1).astype(np.float32)


def test_scarf_replaces_exactly_k_whole_columns_from_reference_rows():
    rng = np.random.default_rng(0)
    lay = _layout(2, (3, 5))
    ref = _table(rng, 40)
    x = _table(rng, 30)
    out, mask = pretext.table_scarf_corrupt(x, ref, lay, 0.5, seed=7)
    assert mask.shape == (30, 4) and np.all(mask.sum(1) == 2)
    a = 2
    for i in range(30):
        for c in range(4):
            pos = lay.group_cols[lay.group_start[c]:lay.group_start[c + 1]]
            if mask[i, c] == 0:
                np.testing.assert_array_equal(out[i, pos], x[i, pos])
            else:  # the whole group comes from one reference row
                assert any(np.array_equal(out[i, pos], ref[r, pos]) for r in range(len(ref)))
    # value/flag pairs stay consistent: a missing flag always comes with a zero value
    assert np.all(out[:, :a][out[:, a:2 * a] > 0] == 0)


def test_scarf_categorical_draws_follow_the_training_marginal():
    """Chi-square test (fixed seed) of the codes written into corrupted cells against the
    reference column's code frequencies."""
    rng = np.random.default_rng(1)
    lay = _layout(0, (6,))
    ref = _table(rng, 500, a=0, card=(6,))
    x = np.zeros((20000, 1), np.float32)
    out, mask = pretext.table_scarf_corrupt(x, ref, lay, 1.0, seed=11)
    assert mask.all()
    observed = np.bincount(out[:, 0].astype(int), minlength=6)
    expected = np.bincount(ref[:, 0].astype(int), minlength=6) / len(ref) * len(x)
    chi2 = ((observed - expected) ** 2 / expected).sum()
    assert chi2 < 20.5  # 5 d.o.f.: p ≈ 0.001


def test_scarf_numeric_draws_carry_the_missing_rate():
    rng = np.random.default_rng(2)
    lay = _layout(1, ())
    ref = _table(rng, 400, a=1, card=(), p_missing=0.25)
    x = np.zeros((20000, 2), np.float32)
    out, _ = pretext.table_scarf_corrupt(x, ref, lay, 1.0, seed=3)
    rate_ref, rate_out = ref[:, 1].mean(), out[:, 1].mean()
    se = np.sqrt(rate_ref * (1 - rate_ref) / len(x))
    assert abs(rate_out - rate_ref) < 4 * se
    np.testing.assert_allclose(out[:, 0].mean(), ref[:, 0].mean(), atol=4 * ref[:, 0].std() / np.sqrt(len(x)))


def test_vime_rate_and_label():
    rng = np.random.default_rng(4)
    lay = _layout(2, (3, 5))
    x = _table(rng, 3000)
    out, m = pretext.table_vime_corrupt(x, lay, 0.3, seed=5)
    assert m.shape == (3000, 4)
    for c in range(4):
        pos = lay.group_cols[lay.group_start[c]:lay.group_start[c + 1]]
        changed = np.any(out[:, pos] != x[:, pos], axis=1)
        np.testing.assert_array_equal(m[:, c] > 0, changed)
    # P(changed) = p · P(donor differs) < p; for the 5-code column it stays close to p · (1 − Σ q²)
    q = np.bincount(x[:, 5].astype(int), minlength=5) / len(x)
    expected = 0.3 * (1 - (q ** 2).sum())
    assert abs(m[:, 3].mean() - expected) < 0.03


@pytest.mark.parametrize("which", ["scarf", "vime"])
def test_table_corruptions_are_seeded_and_thread_invariant(which):
    rng = np.random.default_rng(6)
    lay = _layout(3, (4, 2, 7))
    ref = _table(rng, 300, a=3, card=(4, 2, 7))
    x = _table(rng, 2000, a=3, card=(4, 2, 7))
    if which == "scarf":
        fn = lambda x, s: pretext.table_scarf_corrupt(x, ref, lay, 0.5, s)  # noqa: E731
    else:
        fn = lambda x, s: pretext.table_vime_corrupt(x, lay, 0.4, s)  # noqa: E731
    assert_seeded_and_thread_invariant(fn, x)
    assert_seeded_and_thread_invariant(fn, x.astype(np.float64))


def test_table_corruptions_reject_bad_layouts():
    x = np.zeros((3, 4), np.float32)
    with pytest.raises(ValueError, match="width 4"):
        pretext.table_scarf_corrupt(x, x, _layout(2, (3,)), 0.5, 0)
    with pytest.raises(TypeError, match="TableLayout"):
        pretext.table_vime_corrupt(x, object(), 0.5, 0)
    with pytest.raises(ValueError, match="width"):
        pretext.table_scarf_corrupt(x, np.zeros((3, 5), np.float32), _layout(1, (3, 3)), 0.5, 0)
    with pytest.raises(ValueError, match="p_m"):
        pretext.table_vime_corrupt(x, _layout(1, (3, 3)), 1.5, 0)


def test_table_scarf_rows_of_a_shard_match_the_whole_batch():
    """Per-sample draws: rows [k, k + m) corrupted alone under sample_offset(k) equal the same rows
    of the whole batch (what a data-parallel rank does)."""
    rng = np.random.default_rng(8)
    lay = _layout(2, (3, 5))
    ref = _table(rng, 50)
    x = _table(rng, 40)
    full = pretext.table_scarf_corrupt(x, ref, lay, 0.5, seed=9)
    with pretext.sample_offset(25):
        part = pretext.table_scarf_corrupt(x[25:], ref, lay, 0.5, seed=9)
    for a, b in zip(full, part):
        assert a[25:].tobytes() == b.tobytes()
