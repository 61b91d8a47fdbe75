"""Masked reconstruction MSE (MAE / VIME) and mask-estimation BCE (VIME)."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import pyssl
from pyssl.losses import MaskBCELoss, MaskedMSELoss, mask_bce, masked_mse
from pyssl.testing import batches, check_gradients


def reference_mae(pred, target, mask):
    """MAE forward_loss: per-patch mean of (pred − target)², then mean over masked patches."""
    loss = ((pred - target) ** 2).mean(axis=-1)
    return float((loss * mask).sum() / mask.sum())


def reference_bce(logits, mask):
    p = 1 / (1 + np.exp(-logits))
    return float(np.mean(-(mask * np.log(p) + (1 - mask) * np.log(1 - p))))


def test_masked_mse_per_patch_matches_mae(rng):
    pred, target = rng.standard_normal((2, 3, 5, 4))
    mask = (rng.random((3, 5)) < 0.6).astype(float)
    mask[0, 0] = 1
    assert masked_mse(pred, target, mask)[0] == pytest.approx(reference_mae(pred, target, mask), rel=1e-12)


def test_masked_mse_per_entry(rng):
    pred, target = rng.standard_normal((2, 6, 4))
    mask = (rng.random((6, 4)) < 0.5).astype(float)
    mask[0, 0] = 1
    ref = float(((pred - target) ** 2 * mask).sum() / mask.sum())
    loss, dp = masked_mse(pred, target, mask)
    assert loss == pytest.approx(ref, rel=1e-12)
    np.testing.assert_array_equal(dp[mask == 0], 0)


@given(x=batches(min_n=1, max_n=6, min_d=1, max_d=5), seed=st.integers(0, 1000), per_row=st.booleans())
def test_masked_mse_gradients_fd(x, seed, per_row):
    rng = np.random.default_rng(seed)
    target = rng.standard_normal(x.shape)
    mask = (rng.random(x.shape[:1] if per_row else x.shape) < 0.5).astype(float)
    check_gradients(lambda a: masked_mse(a, target, mask), [x])


def test_masked_mse_nothing_masked(rng):
    pred, target = rng.standard_normal((2, 3, 4))
    loss, dp = masked_mse(pred, target, np.zeros((3, 4)))
    assert loss == 0.0 and not dp.any()


def test_mask_bce_matches_reference(rng):
    x = rng.standard_normal((7, 5)) * 3
    m = (rng.random((7, 5)) < 0.3).astype(float)
    assert mask_bce(x, m)[0] == pytest.approx(reference_bce(x, m), rel=1e-12)
    assert mask_bce(np.zeros((2, 2)), np.ones((2, 2)))[0] == pytest.approx(np.log(2), rel=1e-14)


@given(x=batches(min_n=1, max_n=6, min_d=1, max_d=5), seed=st.integers(0, 1000), scale=st.sampled_from([0.1, 1.0, 10.0]))
def test_mask_bce_gradients_fd(x, seed, scale):
    m = np.random.default_rng(seed).random(x.shape)  # soft targets allowed
    check_gradients(lambda a: mask_bce(a, m), [scale * x])


def test_classes_and_bad_inputs(rng):
    x = rng.standard_normal((3, 4))
    m = np.ones((3, 4))
    assert MaskedMSELoss()(x, 0 * x, m)[0] == masked_mse(x, 0 * x, m)[0]
    assert MaskBCELoss()(x, m)[0] == mask_bce(x, m)[0]
    with pytest.raises(ValueError, match="mask must have shape"):
        masked_mse(x, x, np.ones(4))
    with pytest.raises(ValueError, match="target must have the same shape"):
        masked_mse(x, x[:2], m)
    with pytest.raises(ValueError, match=r"mask must hold targets in \[0, 1\]"):
        mask_bce(x, 2 * m)
    with pytest.raises(ValueError, match="mask must have the same shape"):
        mask_bce(x, m[:2])


def test_mask_bce_of_huge_logits_is_the_hinge_part(rng):
    x = rng.standard_normal((500, 64)) * 1e4
    m = (rng.random((500, 64)) < 0.3).astype(np.float64)
    assert mask_bce(x, m)[0] == pytest.approx(np.mean(np.maximum(x, 0) - x * m), rel=1e-6)
