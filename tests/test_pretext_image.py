"""Image pretext transforms against numpy references (np.rot90, [..., ::-1], a numpy bilinear
resized crop written here, reflect-padded Gaussian blur), jigsaw inversion, MAE patch masking,
thread bit-identity and validation."""
import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

import pyssl.pretext as P
from pyssl.testing import assert_seeded_and_thread_invariant, images


@given(x=images(min_hw=1, max_hw=7), k=st.integers(-5, 9))
def test_rotate90_matches_numpy(x, k):
    np.testing.assert_array_equal(P.rotate90(x, k), np.rot90(x, k, axes=(2, 3)))


@pytest.mark.parametrize("shape", [(2, 3, 32, 32), (1, 2, 17, 24), (2, 1, 8, 8), (1, 1, 9, 16), (1, 1, 16, 7),
                                   (1, 2, 48, 40), (1, 1, 33, 50), (1, 1, 16, 16), (1, 1, 64, 24)])  # 16×16 blocks + strips
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_rotate90_blocked_path_matches_numpy(shape, dtype, rng):
    x = rng.random(shape).astype(dtype)
    for k in range(4):
        np.testing.assert_array_equal(P.rotate90(x, k), np.rot90(x, k, axes=(2, 3)))


@given(x=images(min_hw=2, max_hw=6), seed=st.integers(0, 2**32))
def test_rotate90_per_image_k_and_four_turns(x, seed):
    sq = np.ascontiguousarray(x[:, :, : min(x.shape[2:]), : min(x.shape[2:])])
    k = P.random_integers(len(sq), 4, seed)
    y = P.rotate90(sq, k)
    for i in range(len(sq)):
        np.testing.assert_array_equal(y[i], np.rot90(sq[i], k[i], axes=(1, 2)))
    z = x
    for _ in range(4):
        z = P.rotate90(z, 1)
    np.testing.assert_array_equal(z, x)


@given(x=images(min_hw=2, max_hw=6), seed=st.integers(0, 2**32))
def test_rotation_prediction_labels_match(x, seed):
    sq = np.ascontiguousarray(x[:, :, : min(x.shape[2:]), : min(x.shape[2:])])
    inputs, z = P.RotationPredictionTask().generate(sq, seed)
    assert z.dtype == np.int64 and inputs.shape == sq.shape and inputs.dtype == sq.dtype
    for i in range(len(sq)):
        np.testing.assert_array_equal(inputs[i], np.rot90(sq[i], z[i], axes=(1, 2)))
    # undoing the predicted turn gives the input back
    np.testing.assert_array_equal(P.rotate90(inputs, -z), sq)


def test_rotation_labels_cover_all_turns():
    z = P.RotationPredictionTask().generate(np.zeros((400, 1, 2, 2), np.float32), 1)[1]
    assert np.all(np.abs(np.bincount(z, minlength=4) - 100) < 40)


@given(x=images())
def test_hflip_matches_numpy(x):
    np.testing.assert_array_equal(P.hflip(x), x[..., ::-1])
    y, flags = P.random_hflip(x, 5, p=0.5)
    np.testing.assert_array_equal(y, np.where(flags[:, None, None, None] == 1, x[..., ::-1], x))


def bilinear_crop_ref(img, box, oh, ow):
    """numpy bilinear resize of img[:, top:top+h, left:left+w] to (oh, ow), align_corners=False."""
    top, left, h, w = box
    crop = img[:, top:top + h, left:left + w].astype(np.float64)

    def taps(n_in, n_out):
        src = np.maximum((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0.0)
        i0 = np.minimum(np.floor(src).astype(int), n_in - 1)
        i1 = np.minimum(i0 + 1, n_in - 1)
        return i0, i1, src - i0

    y0, y1, wy = taps(h, oh)
    x0, x1, wx = taps(w, ow)
    rows = crop[:, y0, :] * (1 - wy)[None, :, None] + crop[:, y1, :] * wy[None, :, None]
    return rows[:, :, x0] * (1 - wx) + rows[:, :, x1] * wx


@given(x=images(min_hw=1, max_hw=9, dtype=np.float64), oh=st.integers(1, 12), ow=st.integers(1, 12),
       data=st.data())
def test_resized_crop_matches_numpy_bilinear(x, oh, ow, data):
    n, _, h, w = x.shape
    boxes = []
    for _ in range(n):
        ch = data.draw(st.integers(1, h))
        cw = data.draw(st.integers(1, w))
        boxes.append((data.draw(st.integers(0, h - ch)), data.draw(st.integers(0, w - cw)), ch, cw))
    boxes = np.array(boxes, dtype=np.int64)
    y = P.resized_crop(x, boxes, (oh, ow))
    for i in range(n):
        np.testing.assert_allclose(y[i], bilinear_crop_ref(x[i], boxes[i], oh, ow), rtol=1e-12, atol=1e-12)
    y32 = P.resized_crop(x.astype(np.float32), boxes, (oh, ow))
    np.testing.assert_allclose(y32, y, atol=2e-6)


def test_resized_crop_identity_box(rng):
    x = rng.random((3, 2, 8, 6)).astype(np.float32)
    boxes = np.tile([0, 0, 8, 6], (3, 1))
    np.testing.assert_array_equal(P.resized_crop(x, boxes), x)


def test_random_crop_boxes_inside_and_scaled():
    boxes = P.random_crop_boxes(2000, 32, 32, 3, scale=(0.2, 1.0), ratio=(3 / 4, 4 / 3))
    t, l, h, w = boxes.T
    assert np.all((t >= 0) & (l >= 0) & (h >= 1) & (w >= 1) & (t + h <= 32) & (l + w <= 32))
    area = h * w / 1024
    assert area.min() > 0.15 and area.max() <= 1.0
    assert np.all((w / h > 0.6) & (w / h < 1.6))
    y, b = P.random_resized_crop(np.zeros((4, 3, 32, 32), np.float32), 1, size=16)
    assert y.shape == (4, 3, 16, 16) and b.shape == (4, 4)


def untile(tiles_img, perm, grid):
    """Reassemble with the inverse permutation: input tile perm[t] = output tile t."""
    c, h, w = tiles_img.shape
    th, tw = h // grid, w // grid
    t_out = tiles_img.reshape(c, grid, th, grid, tw).transpose(1, 3, 0, 2, 4).reshape(grid * grid, c, th, tw)
    x_tiles = np.empty_like(t_out)
    x_tiles[perm] = t_out
    return x_tiles.reshape(grid, grid, c, th, tw).transpose(2, 0, 3, 1, 4).reshape(c, h, w)


@given(grid=st.integers(1, 4), th=st.integers(1, 4), tw=st.integers(1, 4), n=st.integers(1, 3),
       seed=st.integers(0, 2**32))
def test_jigsaw_inverse_permutation_gives_back_input(grid, th, tw, n, seed):
    x = np.random.default_rng(seed).random((n, 2, grid * th, grid * tw)).astype(np.float32)
    perms = P.random_permutations(7, grid * grid, seed)
    y, z = P.jigsaw(x, grid, perms, seed)
    t, z2 = P.jigsaw(x, grid, perms, seed, tiles=True)
    np.testing.assert_array_equal(z, z2)
    assert y.shape == x.shape and t.shape == (n, grid * grid, 2, th, tw)
    for i in range(n):
        np.testing.assert_array_equal(untile(y[i], perms[z[i]], grid), x[i])
        x_tiles = np.empty_like(t[i])
        x_tiles[perms[z[i]]] = t[i]
        np.testing.assert_array_equal(x_tiles.reshape(grid, grid, 2, th, tw).transpose(2, 0, 3, 1, 4).reshape(x[i].shape), x[i])


def test_jigsaw_permutation_set_is_deterministic_and_spread():
    a = P.jigsaw_permutation_set(3, 30)
    b = P.jigsaw_permutation_set(3, 30)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (30, 9) and np.all(np.sort(a, axis=1) == np.arange(9))
    d = (a[:, None, :] != a[None, :, :]).sum(-1) + 10 * np.eye(30, dtype=int)
    assert d.min() >= 6  # far apart (random pairs average 8 of 9; duplicates would give 0)
    small = P.jigsaw_permutation_set(2, 24)
    assert len({tuple(r) for r in small}) == 24
    task = P.JigsawTask(grid=3, n_permutations=30)
    inputs, z = task.generate(np.zeros((5, 1, 9, 9), np.float32), 0)
    assert inputs.shape == (5, 9, 1, 3, 3) and task.head_output_size() == 30 and task.loss == "cross_entropy"


@given(x=images(min_hw=2, max_hw=8), ratio=st.floats(0, 1), seed=st.integers(0, 2**32))
def test_patch_mask_indices(x, ratio, seed):
    p = 2
    x = np.ascontiguousarray(x[:, :, : x.shape[2] // p * p, : x.shape[3] // p * p])
    if x.shape[2] == 0 or x.shape[3] == 0:
        return
    xm, mask, kept, masked = P.patch_mask(x, p, ratio, seed, fill=-1.0)
    n, c, h, w = x.shape
    L = (h // p) * (w // p)
    n_masked = math.floor(ratio * L)
    assert kept.shape == (n, L - n_masked) and masked.shape == (n, n_masked)
    for i in range(n):
        np.testing.assert_array_equal(np.sort(np.concatenate([kept[i], masked[i]])), np.arange(L))
        assert np.all(np.diff(kept[i]) > 0) and np.all(np.diff(masked[i]) > 0)
        np.testing.assert_array_equal(np.nonzero(mask[i])[0], masked[i])
        patches = xm[i].reshape(c, h // p, p, w // p, p).transpose(1, 3, 0, 2, 4).reshape(L, -1)
        orig = x[i].reshape(c, h // p, p, w // p, p).transpose(1, 3, 0, 2, 4).reshape(L, -1)
        assert np.all(patches[masked[i]] == -1.0)
        np.testing.assert_array_equal(patches[kept[i]], orig[kept[i]])


def test_color_jitter_matches_formula(rng):
    x = rng.random((6, 3, 5, 4))
    y, f = P.color_jitter(x, 3, brightness=0.5, contrast=0.5)
    for i in range(6):
        b, c = f[i]
        assert 0.5 <= b <= 1.5 and 0.5 <= c <= 1.5
        t = np.clip(b * x[i], 0, 1)
        m = (0.299 * t[0] + 0.587 * t[1] + 0.114 * t[2]).mean()
        np.testing.assert_allclose(y[i], np.clip(c * t + (1 - c) * m, 0, 1), rtol=1e-12, atol=1e-12)


def blur_ref(img, sigma, k):
    r = k // 2
    w = np.exp(-((np.arange(k) - r) ** 2) / (2 * sigma**2))
    w /= w.sum()
    pad = np.pad(img, ((0, 0), (r, r), (r, r)), mode="reflect")
    h_, w_ = img.shape[1:]
    tmp = sum(w[j] * pad[:, :, j:j + w_] for j in range(k))
    return sum(w[j] * tmp[:, j:j + h_, :] for j in range(k))


def test_gaussian_blur_matches_reflect_reference(rng):
    x = rng.random((3, 2, 7, 9))
    y, s = P.gaussian_blur(x, 2, kernel_size=5, sigma=(0.5, 2.0))
    for i in range(3):
        np.testing.assert_allclose(y[i], blur_ref(x[i], s[i], 5), rtol=1e-12, atol=1e-12)


THREAD_CASES = {
    "rotate": lambda x, s: P.RotationPredictionTask().generate(x, s),
    "hflip": lambda x, s: P.random_hflip(x, s),
    "crop": lambda x, s: P.random_resized_crop(x, s),
    "jigsaw": lambda x, s: P.jigsaw(x[:, :, :30, :30], 3, 30, s),
    "patch": lambda x, s: P.patch_mask(x, 4, 0.75, s),
    "color": lambda x, s: P.color_jitter(x, s),
    "blur": lambda x, s: P.gaussian_blur(x, s, 3),
}


@pytest.mark.parametrize("name", sorted(THREAD_CASES))
def test_seeded_and_thread_invariant(name, rng):
    assert_seeded_and_thread_invariant(THREAD_CASES[name], rng.random((64, 3, 32, 32)).astype(np.float32))


@pytest.mark.parametrize("call,err,match", [
    (lambda x: P.rotate90(x[0], 1), ValueError, "4-D"),
    (lambda x: P.rotate90(x[:0], 1), ValueError, "empty"),
    (lambda x: P.rotate90(x, np.array([1, 2])), ValueError, "shape"),
    (lambda x: P.rotate90(x, 1.5), TypeError, "k must be"),
    (lambda x: P.rotate90(x[:, :, :, :5], np.array([0, 1, 2])), ValueError, "not square"),
    (lambda x: P.RotationPredictionTask().generate(x[:, :, :, :5], 0), ValueError, "square"),
    (lambda x: P.resized_crop(x, np.array([[0, 0, 7, 6]] * 3)), ValueError, "larger than"),
    (lambda x: P.resized_crop(x, np.array([[0, 0, 2, 2]] * 3), size=0), ValueError, "size"),
    (lambda x: P.random_resized_crop(x, 0, scale=(0.5, 1.5)), ValueError, "scale"),
    (lambda x: P.random_resized_crop(x, 0, scale=(0.9, 0.5)), ValueError, "low <= high"),
    (lambda x: P.jigsaw(x, 4, 10, 0), ValueError, "multiples of grid"),
    (lambda x: P.jigsaw(x, 3, np.array([[0, 1, 2, 3, 4, 5, 6, 7, 7]]), 0), ValueError, "permutation"),
    (lambda x: P.jigsaw(x, 3, np.zeros((2, 4), np.int64), 0), ValueError, r"\(P, 9\)"),
    (lambda x: P.patch_mask(x, 4, 0.5, 0), ValueError, "multiples of patch_size"),
    (lambda x: P.patch_mask(x, 3, 1.2, 0), ValueError, "ratio"),
    (lambda x: P.gaussian_blur(x, 0, kernel_size=4), ValueError, "odd"),
    (lambda x: P.gaussian_blur(x, 0, kernel_size=13), ValueError, "too large"),
    (lambda x: P.color_jitter(x, 0, brightness=-1), ValueError, "brightness"),
    (lambda x: P.random_hflip(x, -3), ValueError, "seed"),
])
def test_invalid_inputs(call, err, match):
    x = np.ones((3, 2, 6, 6), np.float32)
    with pytest.raises(err, match=match):
        call(x)
