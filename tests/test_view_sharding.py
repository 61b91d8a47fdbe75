"""Per-sample views augment a shard of a batch exactly as they augment those rows of the whole
batch (pyssl.pretext.sample_offset): the contract data-parallel training relies on to make only
each rank's views. Every view that says ``per_sample`` must pass; views that mix rows must not
say so."""
from __future__ import annotations

import numpy as np
import pytest

from pyssl import methods, pretext as P

X_ROWS = np.random.default_rng(0).standard_normal((13, 10)).astype(np.float32)
X_SEQ = np.random.default_rng(1).standard_normal((13, 2, 24)).astype(np.float32)
X_IMG = np.random.default_rng(2).random((13, 3, 8, 8)).astype(np.float32)

PER_SAMPLE = {
    "FeatureMask": (P.FeatureMask(0.3), X_ROWS),
    "GaussianNoise": (P.GaussianNoise(0.2), X_ROWS),
    "ScarfCorruption(reference)": (P.ScarfCorruption(0.5, reference=X_ROWS[::-1]), X_ROWS),
    "SpanMask": (P.SpanMask(0.3), X_ROWS),
    "SequenceCrop": (P.SequenceCrop(), X_SEQ),
    "Jitter": (P.Jitter(), X_SEQ),
    "Scaling": (P.Scaling(), X_SEQ),
    "SegmentPermutation": (P.SegmentPermutation(4), X_SEQ),
    "TimeWarp": (P.TimeWarp(), X_SEQ),
    "TimeMask": (P.TimeMask(0.2), X_SEQ),
    "RandomRotation": (P.RandomRotation(), X_IMG),
    "HorizontalFlip": (P.HorizontalFlip(), X_IMG),
    "RandomResizedCrop": (P.RandomResizedCrop(), X_IMG),
    "ColorJitter": (P.ColorJitter(), X_IMG),
    "GaussianBlur": (P.GaussianBlur(), X_IMG),
    "PatchMask": (P.PatchMask(), X_IMG) if hasattr(P, "PatchMask") else None,
    "RandomApply": (P.RandomApply(P.TimeMask(0.3), p=0.5), X_SEQ),
    "sequence_views": (methods.sequence_views(p_permute=0.5), X_SEQ),
    "image_views": (methods.image_views(), X_IMG),
    "ScarfView": (methods.ScarfView(0.6, noise=0.1).fit(X_ROWS[::-1]), X_ROWS),
    "MaskView": (methods.MaskView(), X_ROWS),
    "NoiseView": (methods.NoiseView(), X_ROWS),
    "IdentityView": (methods.IdentityView(), X_ROWS),
}
PER_SAMPLE = {k: v for k, v in PER_SAMPLE.items() if v is not None}


def _shards(view, x, seed, cuts=(0, 4, 5, 13)):
    parts = []
    for lo, hi in zip(cuts, cuts[1:]):
        with P.sample_offset(lo):
            parts.append(view(np.ascontiguousarray(x[lo:hi]), seed))
    return np.concatenate(parts)


@pytest.mark.parametrize("name", sorted(PER_SAMPLE))
def test_per_sample_views_shard_exactly(name):
    view, x = PER_SAMPLE[name]
    assert view.per_sample
    whole = view(x, 1234)
    np.testing.assert_array_equal(_shards(view, x, 1234), whole)
    assert P.sample_offset.__doc__ and _core_offset() == 0  # restored after the blocks


def _core_offset():
    from pyssl import _core

    return _core.augment.get_sample_offset()


@pytest.mark.parametrize("view, x", [(P.Mixup(), X_ROWS), (P.ScarfCorruption(0.5), X_ROWS),
                                     (methods.MixupView(), X_ROWS),
                                     (P.Compose([P.GaussianNoise(0.1), P.Mixup()]), X_ROWS)])
def test_views_that_mix_rows_do_not_claim_per_sample(view, x):
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
