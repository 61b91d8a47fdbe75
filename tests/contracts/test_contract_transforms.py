"""Contract every registered transform (``pyssl.pretext.TRANSFORMS``) must pass, parametrized over
the registry: results fixed by the seed and bit-identical for any thread count; and per-sample
views augment a shard of a batch exactly as they augment those rows of the whole batch
(pyssl.pretext.sample_offset), the contract data-parallel training relies on to make only each
rank's views, while views that mix rows do not claim ``per_sample``."""
from __future__ import annotations

import numpy as np
import pytest

from pyssl import pretext as P
from pyssl.testing import assert_seeded_and_thread_invariant

from ._helpers import assert_alignment_independent, assert_every_public_class_registered

DATA = {"rows": np.random.default_rng(0).standard_normal((13, 10)).astype(np.float32),
        "sequences": np.random.default_rng(1).standard_normal((13, 2, 24)).astype(np.float32),
        "images": np.random.default_rng(2).random((13, 3, 8, 8)).astype(np.float32)}
X_ROWS = DATA["rows"]


def _example(name):
    entry = P.TRANSFORMS.entry(name)
    return (entry.example or entry.obj)(), DATA[entry.data]


def _keeps_shape(view, x):
    out = view(x, 0)
    return isinstance(out, np.ndarray) and out.shape == x.shape


EXTRA_PER_SAMPLE = {"scarf_corruption(fitted)": (P.ScarfCorruption(0.6, noise=0.1).fit(X_ROWS[::-1]), X_ROWS),
                    "scarf_corruption(reference)": (P.ScarfCorruption(0.5, reference=X_ROWS[::-1]), X_ROWS)}
SHAPE_KEEPING = [n for n in P.TRANSFORMS.names() if _keeps_shape(*_example(n))]
PER_SAMPLE = [n for n in SHAPE_KEEPING if _example(n)[0].per_sample]
MIXING = [n for n in SHAPE_KEEPING if not _example(n)[0].per_sample]


@pytest.mark.parametrize("name", [n for n in P.TRANSFORMS.names() if n != "identity"])
def test_fixed_by_the_seed_and_thread_count_invariant(name):
    view, x = _example(name)
    assert_seeded_and_thread_invariant(view, x)


def _shards(view, x, seed, cuts=(0, 4, 5, 13)):
    parts = []
    for lo, hi in zip(cuts, cuts[1:]):
        with P.sample_offset(lo):
            parts.append(view(np.ascontiguousarray(x[lo:hi]), seed))
    return np.concatenate(parts)


@pytest.mark.parametrize("name", PER_SAMPLE + sorted(EXTRA_PER_SAMPLE))
def test_per_sample_views_shard_exactly(name):
    view, x = EXTRA_PER_SAMPLE[name] if name in EXTRA_PER_SAMPLE else _example(name)
    assert view.per_sample
    whole = view(x, 1234)
    np.testing.assert_array_equal(_shards(view, x, 1234), whole)
    assert P.sample_offset.__doc__ and _core_offset() == 0  # restored after the blocks


def _core_offset():
    from pyssl import _core

    return _core.augment.get_sample_offset()


def test_registry_has_views_that_mix_rows():
    assert {"mixup", "scarf_corruption"} <= set(MIXING)


@pytest.mark.parametrize("name", MIXING + ["compose(mixup)"])
def test_views_that_mix_rows_do_not_claim_per_sample(name):
    if name == "compose(mixup)":
        view, x = P.Compose([P.GaussianNoise(0.1), P.Mixup(positive_only=True)]), X_ROWS
    else:
        view, x = _example(name)
    assert not view.per_sample
    assert not np.array_equal(_shards(view, x, 99), view(x, 99))  # and indeed they would not shard


def test_sample_offset_is_restored_after_an_error_and_checked():
    with pytest.raises(RuntimeError):
        with P.sample_offset(7):
            assert _core_offset() == 7
            raise RuntimeError("inside")
    assert _core_offset() == 0
    with pytest.raises(ValueError, match="k"):
        with P.sample_offset(-1):
            pass


def test_every_public_transform_class_is_registered():
    assert_every_public_class_registered(P, P.Transform, P.TRANSFORMS)


@pytest.mark.parametrize("name", P.TRANSFORMS.names())
def test_bit_identical_for_any_input_alignment(name):
    view, x = _example(name)
    assert_alignment_independent(lambda a: view(a, 5), [x], name)
