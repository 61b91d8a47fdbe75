"""Pretext tasks (inputs, z, head size, loss name) and composition (seed derivation)."""
import numpy as np
import pytest

import pyssl
import pyssl.pretext as P
from pyssl.pretext._common import derive_seed


def test_derive_seed_is_stable_and_distinct():
    assert derive_seed(5, 0) == derive_seed(5, 0)
    vals = {derive_seed(5, 0), derive_seed(5, 1), derive_seed(6, 0), derive_seed(5, "view", 0),
            derive_seed(5, "view", 1), derive_seed(5)}
    assert len(vals) == 6
    assert all(0 <= v < 2**64 for v in vals)
    assert derive_seed(1, "view", 3) == 0xede9314afa64ef3d  # pinned: changing derivation changes every result
    with pytest.raises(TypeError):
        derive_seed(1, 1.5)


def test_compose_uses_derived_seeds(rng):
    x = rng.standard_normal((8, 12)).astype(np.float32)
    t = P.Compose([P.GaussianNoise(0.1), P.FeatureMask(0.3)])
    y = t(x, 7)
    ref = P.mask_features(P.gaussian_noise(x, 0.1, derive_seed(7, 0)), 0.3, derive_seed(7, 1))[0]
    np.testing.assert_array_equal(y, ref)
    np.testing.assert_array_equal(t(x, 7), y)
    assert not np.array_equal(t(x, 8), y)


def test_random_apply_per_sample(rng):
    x = rng.standard_normal((200, 6)).astype(np.float32)
    t = P.RandomApply(P.GaussianNoise(1.0), p=0.3)
    y = t(x, 3)
    changed = np.any(y != x, axis=1)
    assert 30 < changed.sum() < 90
    full = P.gaussian_noise(x, 1.0, derive_seed(3, "inner"))
    np.testing.assert_array_equal(y[changed], full[changed])
    np.testing.assert_array_equal(P.RandomApply(P.GaussianNoise(1.0), p=0.0)(x, 3), x)
    with pytest.raises(ValueError, match="shape-preserving"):
        P.RandomApply(P.SequenceCrop(size=4), 0.5)(np.ones((2, 1, 8), np.float32), 0)


def test_multiview_views_are_independent_and_reproducible(rng):
    x = rng.standard_normal((5, 10)).astype(np.float32)
    mv = P.MultiView(P.GaussianNoise(0.5), n_views=3)
    v = mv(x, 1)
    assert len(v) == 3 and not np.array_equal(v[0], v[1])
    np.testing.assert_array_equal(v[2], P.gaussian_noise(x, 0.5, derive_seed(1, "view", 2)))
    cat = P.MultiView(P.GaussianNoise(0.5), n_views=3, concat=True)(x, 1)
    np.testing.assert_array_equal(cat, np.concatenate(v))
    with pytest.raises(ValueError, match="n_views"):
        P.MultiView(P.GaussianNoise(), n_views=1)


@pytest.mark.parametrize("task,shape,head,loss", [
    (P.MaskedFeaturePrediction(0.3), (6, 10), 10, "masked_mse"),
    (P.Denoising(0.2), (6, 2, 5), 10, "mse"),
    (P.VIMETask(0.3), (6, 10), (10, 10), ("mask_bce", "mse")),
    (P.InstanceDiscrimination(P.Compose([P.GaussianNoise(0.1), P.FeatureMask(0.2)]), n_views=3, projection_dim=16),
     (6, 10), 16, "nt_xent"),
    (P.SCARFTask(0.5, projection_dim=8), (6, 10), 8, "nt_xent"),
    (P.DACLTask(0.5), (6, 10), 128, "nt_xent"),
    (P.ShuffledTokenDetection(0.3), (6, 10, 4), 10, "mask_bce"),
    (P.RotationPredictionTask(), (6, 3, 8, 8), 4, "cross_entropy"),
    (P.JigsawTask(grid=2, n_permutations=10, tiles=False), (6, 3, 8, 8), 10, "cross_entropy"),
])
def test_task_contract(task, shape, head, loss, rng):
    x = rng.random(shape).astype(np.float32)
    inputs, z = task.generate(x, 11)
    inputs2, z2 = task.generate(x, 11)
    assert inputs.tobytes() == inputs2.tobytes()
    assert task.head_output_size(shape) == head
    assert task.loss == loss
    assert inputs.dtype == np.float32
    assert not np.array_equal(task.generate(x, 12)[0], inputs)


def test_contrastive_labels_pair_views(rng):
    x = rng.standard_normal((5, 8)).astype(np.float32)
    inputs, z = P.SCARFTask(0.5).generate(x, 0)
    assert inputs.shape == (10, 8)
    np.testing.assert_array_equal(z, np.tile(np.arange(5), 2))
    np.testing.assert_array_equal(inputs[:5], x)
    inputs, z = P.InstanceDiscrimination(P.GaussianNoise(0.1), n_views=4).generate(x, 0)
    assert inputs.shape == (20, 8) and np.array_equal(z, np.tile(np.arange(5), 4))
    inputs, z = P.DACLTask(1.0).generate(x, 0)
    assert inputs.shape == (10, 8)


def test_masked_feature_and_vime_targets(rng):
    x = rng.standard_normal((7, 9)).astype(np.float32)
    xm, (target, mask) = P.MaskedFeaturePrediction(0.4).generate(x, 2)
    np.testing.assert_array_equal(target, x)
    np.testing.assert_array_equal(xm[mask == 0], x[mask == 0])
    xt, (m, orig) = P.VIMETask(0.4).generate(x, 2)
    np.testing.assert_array_equal(m, (xt != x).astype(np.float32))
    np.testing.assert_array_equal(orig, x)
    assert P.VIMETask(alpha=3.0).loss_weights == (1.0, 3.0)


def test_rotation_all_rotations(rng):
    x = rng.random((3, 1, 4, 4)).astype(np.float32)
    inputs, z = P.RotationPredictionTask(all_rotations=True).generate(x, 0)
    assert inputs.shape == (12, 1, 4, 4)
    for r in range(4):
        np.testing.assert_array_equal(inputs[3 * r:3 * r + 3], np.rot90(x, r, axes=(2, 3)))
        assert np.all(z[3 * r:3 * r + 3] == r)


def test_task_thread_identity(threads, rng):
    x = rng.standard_normal((128, 600)).astype(np.float32)
    task = P.InstanceDiscrimination(P.Compose([P.ScarfCorruption(0.5), P.GaussianNoise(0.1),
                                               P.RandomApply(P.FeatureMask(0.2), 0.5)]))
    pyssl.set_num_threads(1)
    a = task.generate(x, 5)[0]
    pyssl.set_num_threads(2)
    b = task.generate(x, 5)[0]
    assert a.tobytes() == b.tobytes()


def test_task_parameter_errors():
    with pytest.raises(ValueError, match="ratio"):
        P.MaskedFeaturePrediction(1.5)
    with pytest.raises(ValueError, match="p_m"):
        P.VIMETask(-0.1)
    with pytest.raises(TypeError, match="callable"):
        P.InstanceDiscrimination("noise")
    with pytest.raises(ValueError, match="alpha"):
        P.DACLTask(0.0)
    with pytest.raises(ValueError, match="count"):
        P.JigsawTask(grid=2, n_permutations=25)
    with pytest.raises(ValueError, match="input_shape"):
        P.Denoising().head_output_size((5,))
