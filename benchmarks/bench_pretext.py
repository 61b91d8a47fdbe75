"""Pretext augmentations: pyssl's C++ kernels against equivalent vectorised numpy code.

Batches: a tabular batch (256, 784) and an image batch (256, 3, 32, 32), float32, in one run (the
sequence transforms use the image batch viewed as (256, 3, 1024)), with
the same thread count for pyssl and numpy's BLAS (numpy's random generators are single-threaded;
the numpy versions below are the fastest vectorised forms we know, not loops over samples).
Each numpy version produces the same outputs as the pyssl call (e.g. the mask as float32 too),
from numpy's own generator (so values differ, distributions agree).

    python benchmarks/bench_pretext.py [--threads N] [--json PATH] [--quick]

numpy runs these single-threaded, so the ratio at --threads 1 is the per-core speed-up; at
--threads 2 pyssl also splits the batch over two cores. On a shared, oversubscribed machine the
two-thread times are dominated by waiting for the second core (a parallel region ends when its
slowest thread does): read them next to the one-thread table.
"""
from __future__ import annotations

import os
import sys


sys.path.insert(0, os.path.dirname(__file__))
from _common import interleaved, machine_info, parser, report, row, set_threads  # noqa: E402
import numpy as np  # noqa: E402  (after _common: it sets the BLAS thread environment)

import pyssl.pretext as P  # noqa: E402

TARGETS = {"mask": 5, "noise": 5, "scarf": 5, "crop": 3, "rotation": 3, "jigsaw": 3}


# ---- numpy references (vectorised) ---------------------------------------------------------------

def np_mask(x, ratio, seed):
    m = np.random.default_rng(seed).random(x.shape, dtype=np.float32) < ratio
    return np.where(m, np.float32(0), x), m.astype(np.float32)


def np_noise(x, std, seed):
    return x + np.float32(std) * np.random.default_rng(seed).standard_normal(x.shape, dtype=np.float32)


def np_scarf(x, ref, ratio, seed):
    g = np.random.default_rng(seed)
    n = x.shape[0]
    xf = x.reshape(n, -1)
    d = xf.shape[1]
    k = max(1, int(ratio * d))
    cols = np.argpartition(g.random((n, d), dtype=np.float32), k - 1, axis=1)[:, :k]  # k distinct features
    rows = g.integers(0, ref.shape[0], (n, k))
    out = xf.copy()
    r = np.arange(n)[:, None]
    out[r, cols] = ref.reshape(ref.shape[0], -1)[rows, cols]
    mask = np.zeros_like(xf)
    mask[r, cols] = 1
    return out.reshape(x.shape), mask.reshape(x.shape)


def np_vime(x, p, seed):
    g = np.random.default_rng(seed)
    n = x.shape[0]
    xf = x.reshape(n, -1)
    m = g.random(xf.shape, dtype=np.float32) < p
    donor = xf[g.integers(0, n, xf.shape), np.arange(xf.shape[1])]
    out = np.where(m, donor, xf)
    return out.reshape(x.shape), (out != xf).astype(np.float32).reshape(x.shape)


def np_mixup(x, alpha, seed):
    g = np.random.default_rng(seed)
    n = x.shape[0]
    lam = g.beta(alpha, alpha, n).astype(np.float32)
    p = g.integers(0, n - 1, n)
    p = p + (p >= np.arange(n))
    lb = lam.reshape((-1,) + (1,) * (x.ndim - 1))
    return lb * x + (1 - lb) * x[p], lam, p


def np_rotate_random(x, seed):
    k = np.random.default_rng(seed).integers(0, 4, x.shape[0])
    out = np.empty_like(x)
    for r in range(4):
        sel = k == r
        out[sel] = np.rot90(x[sel], r, axes=(2, 3))
    return out, k


def np_rotate_fixed(x):
    return np.ascontiguousarray(np.rot90(x, 1, axes=(2, 3)))


def np_hflip(x):
    return np.ascontiguousarray(x[..., ::-1])


def _taps(start, length, n_out):
    src = np.maximum((np.arange(n_out)[None, :] + 0.5) * (length[:, None] / n_out) - 0.5, 0.0)
    i0 = np.minimum(np.floor(src).astype(np.int64), length[:, None] - 1)
    i1 = np.minimum(i0 + 1, length[:, None] - 1)
    return i0 + start[:, None], i1 + start[:, None], (src - i0).astype(np.float32)


def np_resized_crop(x, boxes, oh, ow):
    """Separable bilinear crop+resize: blend rows (take_along_axis), then columns."""
    y0, y1, wy = _taps(boxes[:, 0], boxes[:, 2], oh)
    x0, x1, wx = _taps(boxes[:, 1], boxes[:, 3], ow)
    r0 = np.take_along_axis(x, y0[:, None, :, None], axis=2)  # (N, C, oh, W)
    r1 = np.take_along_axis(x, y1[:, None, :, None], axis=2)
    wy_ = wy[:, None, :, None]
    rows = r0 + wy_ * (r1 - r0)
    c0 = np.take_along_axis(rows, x0[:, None, None, :], axis=3)  # (N, C, oh, ow)
    c1 = np.take_along_axis(rows, x1[:, None, None, :], axis=3)
    return c0 + wx[:, None, None, :] * (c1 - c0)


def np_jigsaw_tiles(x, grid, perms, seed):
    n, c, h, w = x.shape
    z = np.random.default_rng(seed).integers(0, perms.shape[0], n)
    tiles = x.reshape(n, c, grid, h // grid, grid, w // grid).transpose(0, 2, 4, 1, 3, 5)
    tiles = tiles.reshape(n, grid * grid, c, h // grid, w // grid)
    return tiles[np.arange(n)[:, None], perms[z]], z


def np_patch_mask(x, p, ratio, seed):
    n, c, h, w = x.shape
    gh, gw = h // p, w // p
    L = gh * gw
    n_mask = int(ratio * L)
    order = np.argsort(np.random.default_rng(seed).random((n, L)), axis=1)
    masked = np.sort(order[:, :n_mask], axis=1)
    kept = np.sort(order[:, n_mask:], axis=1)
    mask = np.zeros((n, L), np.float32)
    mask[np.arange(n)[:, None], masked] = 1
    pm = mask.reshape(n, 1, gh, 1, gw, 1)
    out = (x.reshape(n, c, gh, p, gw, p) * (1 - pm)).reshape(x.shape)
    return out, mask, kept, masked


def np_span_mask(x, ratio, seed):
    n, t = x.shape[0], x.shape[-1]
    span = max(1, int(ratio * t))
    start = np.random.default_rng(seed).integers(0, t - span + 1, n)
    pos = np.arange(t)
    m = (pos >= start[:, None]) & (pos < start[:, None] + span)
    m = m.reshape((n,) + (1,) * (x.ndim - 2) + (t,))
    return np.where(m, np.float32(0), x), np.broadcast_to(m, x.shape).astype(np.float32)


def np_color_jitter(x, seed, b=0.4, c=0.4):
    g = np.random.default_rng(seed)
    n = x.shape[0]
    bf = g.uniform(1 - b, 1 + b, n).astype(np.float32)[:, None, None, None]
    cf = g.uniform(1 - c, 1 + c, n).astype(np.float32)[:, None, None, None]
    y = np.clip(bf * x, 0, 1)
    gray = np.tensordot(np.array([0.299, 0.587, 0.114], np.float32), y, axes=([0], [1]))  # (N, H, W)
    mean = gray.reshape(n, -1).mean(axis=1)[:, None, None, None]
    return np.clip(cf * y + (1 - cf) * mean, 0, 1)


def np_gaussian_blur(x, seed, k=3, sigma=(0.1, 2.0)):
    n, _, h, w = x.shape
    s = np.random.default_rng(seed).uniform(sigma[0], sigma[1], n)
    r = k // 2
    kern = np.exp(-((np.arange(k) - r)[None, :] ** 2) / (2 * s[:, None] ** 2))
    kern = (kern / kern.sum(axis=1, keepdims=True)).astype(np.float32)[:, :, None, None, None]
    p = np.pad(x, ((0, 0), (0, 0), (r, r), (r, r)), mode="reflect")
    tmp = sum(kern[:, j] * p[:, :, :, j:j + w] for j in range(k))
    return sum(kern[:, j] * tmp[:, :, j:j + h, :] for j in range(k))


def np_scaling(x, sigma, seed):
    f = 1 + sigma * np.random.default_rng(seed).standard_normal(x.shape[:2], dtype=np.float32)
    return x * f[:, :, None]


def np_segment_permutation(x, m, seed):
    n, c, t = x.shape
    perms = np.argsort(np.random.default_rng(seed).random((n, m)), axis=1)
    seg = x.reshape(n, c, m, t // m)  # equal segments (t divisible by m here)
    return seg[np.arange(n)[:, None], :, perms].transpose(0, 2, 1, 3).reshape(n, c, t), perms


def np_crop_resize(x, seed, scale=(0.5, 1.0)):
    n, c, t = x.shape
    g = np.random.default_rng(seed)
    length = np.clip(np.rint(g.uniform(scale[0], scale[1], n) * t).astype(np.int64), 1, t)
    start = (g.random(n) * (t - length + 1)).astype(np.int64)
    i0, i1, wt = _taps(start, length, t)
    ni = np.arange(n)[:, None, None]
    ci = np.arange(c)[None, :, None]
    return (1 - wt[:, None, :]) * x[ni, ci, i0[:, None, :]] + wt[:, None, :] * x[ni, ci, i1[:, None, :]]


def np_time_warp(x, sigma, seed, knots=4):
    """Batched: knot speeds, not-a-knot spline second derivatives by one solve with N right-hand
    sides, cumulative positions, linear interpolation by take_along_axis."""
    n, c, t = x.shape
    m = knots + 2
    y = 1 + sigma * np.random.default_rng(seed).standard_normal((n, m))
    u = np.arange(t) * (m - 1) / (t - 1)
    k = np.minimum(np.floor(u).astype(np.int64), m - 2)
    f = u - k
    g = 1 - f
    if m >= 4:
        a = np.zeros((m, m))
        a[0, :3] = [1, -2, 1]
        a[-1, -3:] = [1, -2, 1]
        for i in range(1, m - 1):
            a[i, i - 1:i + 2] = [1, 4, 1]
        rhs = np.zeros((m, n))
        rhs[1:-1] = 6 * (y[:, 2:] - 2 * y[:, 1:-1] + y[:, :-2]).T
        mm = np.linalg.solve(a, rhs).T
    else:
        mm = np.zeros((n, m))
    s = g * y[:, k] + f * y[:, k + 1] + ((g ** 3 - g) * mm[:, k] + (f ** 3 - f) * mm[:, k + 1]) / 6
    pos = np.concatenate([np.zeros((n, 1)), np.cumsum(np.maximum(s, 0.1)[:, :-1], axis=1)], axis=1)
    p = np.minimum(pos * ((t - 1) / pos[:, -1:]), t - 1)
    j0 = np.minimum(np.floor(p).astype(np.int64), t - 1)
    j1 = np.minimum(j0 + 1, t - 1)
    w = (p - j0).astype(np.float32)[:, None, :]
    x0 = np.take_along_axis(x, np.broadcast_to(j0[:, None, :], x.shape), axis=2)
    x1 = np.take_along_axis(x, np.broadcast_to(j1[:, None, :], x.shape), axis=2)
    return (1 - w) * x0 + w * x1


def np_shuffle_tokens(x, ratio, seed):
    n, l, _ = x.shape
    m = int(np.ceil(ratio * l))
    pos = np.sort(np.argsort(np.random.default_rng(seed).random((n, l)), axis=1)[:, :m], axis=1)
    src = np.roll(pos, -1, axis=1)
    r = np.arange(n)[:, None]
    out = x.copy()
    out[r, pos] = x[r, src]
    z = np.zeros((n, l), np.float32)
    z[r, pos] = 1
    return out, z


def main():
    args = parser(__doc__.splitlines()[0]).parse_args()
    threads = set_threads(args.threads)
    repeats = args.repeats or (10 if args.quick else 40)
    rng = np.random.default_rng(0)
    tab = rng.standard_normal((256, 784)).astype(np.float32)
    img = rng.random((256, 3, 32, 32)).astype(np.float32)
    perms4 = P.jigsaw_permutation_set(4, 100)
    rows = []

    def case(name, group, ours, theirs, baseline="numpy"):
        t = interleaved({"pyssl": ours, "numpy": theirs}, repeats=repeats)
        target = TARGETS.get(group)
        rows.append(row(name, t["pyssl"], baseline, t["numpy"], target=f">={target}x" if target else "-"))

    for label, x in (("(256,784)", tab), ("(256,3,32,32)", img)):
        case(f"mask_features r=0.3 {label}", "mask", lambda x=x: P.mask_features(x, 0.3, 1), lambda x=x: np_mask(x, 0.3, 1))
        case(f"gaussian_noise {label}", "noise", lambda x=x: P.gaussian_noise(x, 0.1, 1), lambda x=x: np_noise(x, 0.1, 1))
        case(f"scarf_corrupt r=0.3 {label}", "scarf", lambda x=x: P.scarf_corrupt(x, x, 0.3, 1),
             lambda x=x: np_scarf(x, x, 0.3, 1))
        case(f"vime_corrupt p=0.3 {label}", "vime", lambda x=x: P.vime_corrupt(x, 0.3, 1), lambda x=x: np_vime(x, 0.3, 1))
        case(f"mixup a=0.5 {label}", "mixup", lambda x=x: P.mixup(x, 0.5, 1), lambda x=x: np_mixup(x, 0.5, 1))

    boxes = P.random_crop_boxes(256, 32, 32, 3)
    case("RotationPrediction (random k/image) (256,3,32,32)", "rotation",
         lambda: P.RotationPredictionTask().generate(img, 1), lambda: np_rotate_random(img, 1))
    case("rotate90 k=1 (256,3,32,32)", "rotation", lambda: P.rotate90(img, 1), lambda: np_rotate_fixed(img))
    case("hflip (256,3,32,32)", "flip", lambda: P.hflip(img), lambda: np_hflip(img))
    case("resized_crop bilinear ->32x32 (256,3,32,32)", "crop", lambda: P.resized_crop(img, boxes, 32),
         lambda: np_resized_crop(img, boxes, 32, 32))
    case("random_resized_crop (boxes+crop) (256,3,32,32)", "crop", lambda: P.random_resized_crop(img, 3, 32),
         lambda: np_resized_crop(img, boxes, 32, 32))
    case("jigsaw grid=4 tiles (256,3,32,32)", "jigsaw", lambda: P.jigsaw(img, 4, perms4, 1, tiles=True),
         lambda: np_jigsaw_tiles(img, 4, perms4, 1))
    case("patch_mask p=4 r=0.75 (256,3,32,32)", "patch", lambda: P.patch_mask(img, 4, 0.75, 1),
         lambda: np_patch_mask(img, 4, 0.75, 1))

    case("span_mask r=0.25 (256,784)", "span", lambda: P.span_mask(tab, 0.25, 1), lambda: np_span_mask(tab, 0.25, 1))
    case("color_jitter (256,3,32,32)", "color", lambda: P.color_jitter(img, 1), lambda: np_color_jitter(img, 1))
    case("gaussian_blur k=3 (256,3,32,32)", "blur", lambda: P.gaussian_blur(img, 1, 3), lambda: np_gaussian_blur(img, 1, 3))
    seq = img.reshape(256, 3, 1024)
    case("scaling (256,3,1024)", "seq", lambda: P.scaling(seq, 0.1, 1), lambda: np_scaling(seq, 0.1, 1))
    case("segment_permutation M=8 (256,3,1024)", "seq", lambda: P.segment_permutation(seq, 8, 1),
         lambda: np_segment_permutation(seq, 8, 1))
    case("crop_resize (256,3,1024)", "seq", lambda: P.crop_resize(seq, 1), lambda: np_crop_resize(seq, 1))
    case("time_warp knots=4 (256,3,1024)", "seq", lambda: P.time_warp(seq, 0.2, 1), lambda: np_time_warp(seq, 0.2, 1))
    tokens = tab.reshape(256, 49, 16)
    case("shuffle_tokens r=0.15 (256,49,16)", "tokens", lambda: P.shuffle_tokens(tokens, 0.15, 1),
         lambda: np_shuffle_tokens(tokens, 0.15, 1))

    machine = machine_info(threads)
    report(rows, machine, args.json, title=f"pretext augmentations vs numpy (median of {repeats}, interleaved)")
    missed = [r["name"] for r in rows if r["target"] != "-" and r["speedup"] < float(r["target"][2:-1])]
    print("\ntargets missed: " + (", ".join(missed) if missed else "none"))


if __name__ == "__main__":
    main()
