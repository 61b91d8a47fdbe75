"""CPU vs CUDA parity for every pyssl.cuda kernel (skipped without a GPU).

References: pyssl's CPU kernels (dense, activations, matmul) and numpy references written
from the papers' formulas in this file (optimizers as torch.optim documents them, NT-Xent from
SimCLR eq. 1, Philox from Salmon et al.). Tolerances (device float32, full-precision cuBLAS,
TF32 off): products and layers rtol 1e-5 / atol 1e-5·scale against float64 references;
optimizer updates atol 1e-6; NT-Xent loss rtol 1e-5 and gradient atol 1e-6; feature masks and
column sums of integers exact; repeated device runs bit-identical.
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import pyssl.cuda as cuda
from pyssl import _core

_skip = pytest.mark.skipif(not cuda.is_available(), reason=f"no CUDA device: {cuda.unavailable_reason()}")


def gpu(f):
    """Needs a CUDA device: marked `cuda` (pyproject markers) and skipped without one."""
    return pytest.mark.cuda(_skip(f))


@pytest.fixture
def rng():
    # Same as tests/conftest.py's, so the device check can run with --noconftest.
    return np.random.default_rng(12345)


def f32(rng, *shape, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


# ---- numpy references -------------------------------------------------------------------------

def nt_xent_ref(z, t):
    """SimCLR eq. 1 averaged over all 2N anchors; rows i and i+N are positives; float64."""
    z = z.astype(np.float64)
    rows = z.shape[0]
    n = rows // 2
    nrm = np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12)
    zn = z / nrm
    s = zn @ zn.T / t
    np.fill_diagonal(s, -np.inf)
    pos = np.r_[np.arange(n, rows), np.arange(0, n)]
    m = s.max(1, keepdims=True)
    lse = m[:, 0] + np.log(np.exp(s - m).sum(1))
    loss = np.mean(lse - s[np.arange(rows), pos])
    g = np.exp(s - lse[:, None])
    g[np.arange(rows), pos] -= 1.0
    g /= rows
    dzn = (g + g.T) @ zn / t
    dz = (dzn - zn * (zn * dzn).sum(1, keepdims=True)) / nrm
    return loss, dz


def sgd_ref(p, g, buf, lr, mom, wd, nesterov):
    d = g + wd * p
    buf = mom * buf + d
    d = d + mom * buf if nesterov else buf
    return p - lr * d, buf


def adam_ref(p, g, m, v, t, lr, b1, b2, eps, wd, decoupled):
    if wd:
        if decoupled:
            p = p * (1 - lr * wd)
        else:
            g = g + wd * p
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g * g
    mhat = m / (1 - b1 ** t)
    vhat = v / (1 - b2 ** t)
    return p - lr * mhat / (np.sqrt(vhat) + eps), m, v


def test_nt_xent_reference_matches_finite_differences():
    # The reference's gradient is itself checked (float64, central differences); runs on CPU.
    rng = np.random.default_rng(0)
    z = rng.standard_normal((6, 5))
    _, g = nt_xent_ref(z, 0.3)
    h = 1e-6
    num = np.zeros_like(z)
    for idx in np.ndindex(z.shape):
        zp, zm = z.copy(), z.copy()
        zp[idx] += h
        zm[idx] -= h
        num[idx] = (nt_xent_ref(zp, 0.3)[0] - nt_xent_ref(zm, 0.3)[0]) / (2 * h)
    np.testing.assert_allclose(g, num, rtol=1e-6, atol=1e-8)


def test_nt_xent_reference_closed_form():
    # All rows identical: s_ik = 1/t for every k ≠ i, so loss = log(2N − 1) and the gradient
    # vanishes (moving along z does not change any cosine).
    z = np.array([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [1.0, 0.0]])
    loss, g = nt_xent_ref(z, 0.5)
    assert np.isclose(loss, np.log(3.0))
    np.testing.assert_allclose(g, 0.0, atol=1e-12)


# ---- runtime and arrays -----------------------------------------------------------------------

@gpu
def test_round_trip_and_interface(rng):
    x = f32(rng, 5, 7)
    d = cuda.to_device(x)
    assert d.shape == (5, 7) and d.ndim == 2 and d.size == 35 and len(d) == 5
    np.testing.assert_array_equal(d.numpy(), x)
    cai = d.__cuda_array_interface__
    assert cai["version"] == 3 and cai["typestr"] == "<f4" and cai["shape"] == (5, 7)
    assert cai["data"][0] == d.ptr
    v = cuda.as_device(d)
    assert v.ptr == d.ptr
    x2 = f32(rng, 5, 7)
    d.copy_from(x2)
    np.testing.assert_array_equal(d.numpy(), x2)
    with pytest.raises(ValueError, match="shape"):
        d.copy_from(f32(rng, 7, 5))
    np.testing.assert_array_equal(d.reshape((35,)).numpy(), x2.reshape(-1))
    assert cuda.to_device(np.arange(6, dtype=np.float64)).numpy().dtype == np.float32
    np.testing.assert_array_equal(cuda.zeros((3, 2)).numpy(), 0.0)


@gpu
def test_as_device_rejects_host_pointer():
    class Host:
        def __init__(self, a):
            self._a = a
            self.__cuda_array_interface__ = {"shape": a.shape, "typestr": "<f4",
                                             "data": (a.ctypes.data, False), "version": 3}

    with pytest.raises(ValueError, match="not CUDA device memory"):
        cuda.as_device(Host(np.ones(4, np.float32)))


@gpu
def test_as_device_torch_zero_copy():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("torch without CUDA")
    t = torch.arange(12, dtype=torch.float32, device="cuda").reshape(3, 4)
    d = cuda.as_device(t)
    assert d.ptr == t.data_ptr() and d.owner is t
    cuda.ema_(d, cuda.zeros((3, 4)), 0.5)  # in place through pyssl
    cuda.synchronize()
    np.testing.assert_array_equal(t.cpu().numpy(), np.arange(12, dtype=np.float32).reshape(3, 4) * 0.5)
    back = torch.as_tensor(cuda.to_device(np.ones((2, 2), np.float32)), device="cuda")
    assert back.sum().item() == 4.0
    with pytest.raises(ValueError, match="C-contiguous"):
        cuda.as_device(t.t())


@gpu
def test_as_device_dlpack_zero_copy():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("torch without CUDA")
    from test_cuda_runtime import DLPackOnly

    t = torch.arange(6, dtype=torch.float32, device="cuda").reshape(2, 3)
    d = cuda.as_device(DLPackOnly(t))
    assert d.ptr == t.data_ptr() and d.shape == (2, 3)
    np.testing.assert_array_equal(d.numpy(), np.arange(6, dtype=np.float32).reshape(2, 3))
    with pytest.raises(TypeError, match="float32"):
        cuda.as_device(DLPackOnly(t.double()))


# ---- matrix products and layers -----------------------------------------------------------------

@gpu
@pytest.mark.parametrize("ta,tb", [(False, False), (True, False), (False, True), (True, True)])
def test_matmul_matches_cpu(rng, ta, tb):
    m, k, n = 37, 53, 29
    a = f32(rng, *((k, m) if ta else (m, k)))
    b = f32(rng, *((n, k) if tb else (k, n)))
    ref = (a.T if ta else a).astype(np.float64) @ (b.T if tb else b).astype(np.float64)
    got = cuda.matmul(cuda.to_device(a), cuda.to_device(b), trans_a=ta, trans_b=tb).numpy()
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5 * np.sqrt(k))
    if not ta and not tb:
        cpu = _core.matmul(a, b)
        np.testing.assert_allclose(got, cpu, rtol=1e-5, atol=1e-5 * np.sqrt(k))
    with pytest.raises(ValueError, match="matmul"):
        cuda.matmul(cuda.to_device(a), cuda.to_device(f32(rng, 3, 3)), ta, tb)


@gpu
def test_tf32_is_opt_in(rng):
    a, b = f32(rng, 256, 512), f32(rng, 512, 128)
    ref = a.astype(np.float64) @ b
    da, db = cuda.to_device(a), cuda.to_device(b)
    full = cuda.matmul(da, db).numpy()
    try:
        cuda.set_tf32(True)
        tf = cuda.matmul(da, db).numpy()
    finally:
        cuda.set_tf32(False)
    scale = np.abs(ref).max()
    assert np.abs(full - ref).max() < 1e-5 * scale
    assert np.abs(tf - ref).max() < 5e-3 * scale  # TF32: 10-bit mantissa products


@gpu
@pytest.mark.parametrize("act", ["none", "relu", "gelu"])
def test_dense_forward_matches_cpu(rng, act):
    x, w, b = f32(rng, 33, 20), f32(rng, 20, 17), f32(rng, 17)
    y = _core.nn.dense_forward(x, w, b)
    if act != "none":
        y = _core.nn.activation_forward(getattr(_core.nn.Activation, act), y)
    got = cuda.dense_forward(cuda.to_device(x), cuda.to_device(w), cuda.to_device(b), act=act).numpy()
    np.testing.assert_allclose(got, y, rtol=1e-5, atol=1e-5)
    got_nob = cuda.dense_forward(cuda.to_device(x), cuda.to_device(w)).numpy()
    np.testing.assert_allclose(got_nob, _core.nn.dense_forward(x, w, None), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="w must have shape"):
        cuda.dense_forward(cuda.to_device(x), cuda.to_device(f32(rng, 21, 17)))
    with pytest.raises(ValueError, match="act must be"):
        cuda.dense_forward(cuda.to_device(x), cuda.to_device(w), act="swish")


@gpu
@pytest.mark.parametrize("accumulate", [False, True])
def test_dense_backward_matches_cpu(rng, accumulate):
    n, i, o = 150, 24, 19  # 150 rows: three column-sum chunks
    x, w, dy = f32(rng, n, i), f32(rng, i, o), f32(rng, n, o)
    dw0, db0 = f32(rng, i, o), f32(rng, o)
    dw, db = (dw0.copy(), db0.copy()) if accumulate else (np.zeros_like(dw0), np.zeros_like(db0))
    dx = _core.nn.dense_backward(x, w, dy, dw, db, accumulate=True, need_dx=True)
    ddw, ddb = cuda.to_device(dw0), cuda.to_device(db0)
    gdx = cuda.dense_backward(cuda.to_device(x), cuda.to_device(w), cuda.to_device(dy), ddw, ddb,
                              accumulate=accumulate)
    np.testing.assert_allclose(gdx.numpy(), dx, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ddw.numpy(), dw, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(ddb.numpy(), db, rtol=1e-5, atol=1e-4)
    assert cuda.dense_backward(cuda.to_device(x), cuda.to_device(w), cuda.to_device(dy), ddw, ddb,
                               need_input_grad=False) is None


@gpu
@given(n=st.integers(1, 300), i=st.integers(1, 70), o=st.integers(1, 70), seed=st.integers(0, 2**32 - 1))
def test_dense_random_shapes_match_cpu(n, i, o, seed):
    r = np.random.default_rng(seed)
    x, w, b, dy = f32(r, n, i), f32(r, i, o), f32(r, o), f32(r, n, o)
    y = cuda.dense_forward(cuda.to_device(x), cuda.to_device(w), cuda.to_device(b), act="relu").numpy()
    ref = _core.nn.activation_forward(_core.nn.Activation.relu, _core.nn.dense_forward(x, w, b))
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5 * np.sqrt(i))
    dw, db = np.zeros((i, o), np.float32), np.zeros(o, np.float32)
    dx = _core.nn.dense_backward(x, w, dy, dw, db, accumulate=True, need_dx=True)
    gdw, gdb = cuda.zeros((i, o)), cuda.zeros(o)
    gdx = cuda.dense_backward(cuda.to_device(x), cuda.to_device(w), cuda.to_device(dy), gdw, gdb)
    np.testing.assert_allclose(gdx.numpy(), dx, rtol=1e-5, atol=1e-5 * np.sqrt(o))
    np.testing.assert_allclose(gdw.numpy(), dw, rtol=1e-5, atol=1e-5 * np.sqrt(n))
    np.testing.assert_allclose(gdb.numpy(), db, rtol=1e-5, atol=1e-5 * np.sqrt(n))


@gpu
def test_column_sum_exact_and_deterministic(rng):
    a = rng.integers(-50, 50, size=(1000, 37)).astype(np.float32)  # integer sums are exact
    d = cuda.to_device(a)
    s1, s2 = cuda.column_sum(d).numpy(), cuda.column_sum(d).numpy()
    np.testing.assert_array_equal(s1, a.sum(0))
    b = f32(rng, 777, 300)
    db = cuda.to_device(b)
    r1, r2 = cuda.column_sum(db).numpy(), cuda.column_sum(db).numpy()
    np.testing.assert_array_equal(r1, r2)  # fixed order: bit-identical reruns
    np.testing.assert_allclose(r1, b.astype(np.float64).sum(0), rtol=1e-5, atol=1e-4)
    del s2


@gpu
@pytest.mark.parametrize("act", ["relu", "gelu"])
def test_activations_match_cpu(rng, act):
    x = f32(rng, 1001, scale=3.0)
    x[:5] = [0.0, -0.0, 1e-30, -1e-30, 40.0]
    dy = f32(rng, 1001)
    a = getattr(_core.nn.Activation, act)
    y = _core.nn.activation_forward(a, x)
    dx = _core.nn.activation_backward(a, x, y, dy)
    gy = cuda.activation_forward(cuda.to_device(x), act).numpy()
    gdx = cuda.activation_backward(cuda.to_device(x), cuda.to_device(dy), act).numpy()
    np.testing.assert_allclose(gy, y, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(gdx, dx, rtol=1e-6, atol=1e-6)


# ---- optimizers -------------------------------------------------------------------------------

@gpu
@pytest.mark.parametrize("nesterov,wd", [(False, 0.0), (True, 0.01)])
def test_sgd_momentum_matches_reference(rng, nesterov, wd):
    p0 = f32(rng, 513)
    p, buf = p0.astype(np.float64), np.zeros(513)
    dp, dg, dbuf = cuda.to_device(p0), cuda.zeros(513), cuda.zeros(513)
    for _ in range(4):
        g = f32(rng, 513)
        p, buf = sgd_ref(p, g.astype(np.float64), buf, 0.05, 0.9, wd, nesterov)
        dg.copy_from(g)
        cuda.sgd_momentum_(dp, dg, dbuf, lr=0.05, momentum=0.9, weight_decay=wd, nesterov=nesterov)
    np.testing.assert_allclose(dp.numpy(), p, atol=1e-6)
    np.testing.assert_allclose(dbuf.numpy(), buf, atol=1e-5)


@gpu
@pytest.mark.parametrize("decoupled,wd", [(False, 0.0), (False, 0.01), (True, 0.05)])
def test_adam_matches_reference(rng, decoupled, wd):
    p0 = f32(rng, 1000)
    p, m, v = p0.astype(np.float64), np.zeros(1000), np.zeros(1000)
    dp, dg, dm, dv = cuda.to_device(p0), cuda.zeros(1000), cuda.zeros(1000), cuda.zeros(1000)
    for t in range(1, 6):
        g = f32(rng, 1000)
        p, m, v = adam_ref(p, g.astype(np.float64), m, v, t, 1e-3, 0.9, 0.999, 1e-8, wd, decoupled)
        dg.copy_from(g)
        cuda.adam_(dp, dg, dm, dv, step=t, lr=1e-3, weight_decay=wd, decoupled=decoupled)
    np.testing.assert_allclose(dp.numpy(), p, atol=1e-6)
    np.testing.assert_allclose(dm.numpy(), m, atol=1e-6)
    np.testing.assert_allclose(dv.numpy(), v, rtol=1e-5, atol=1e-8)
    with pytest.raises(ValueError, match="step"):
        cuda.adam_(dp, dg, dm, dv, step=0)


@gpu
def test_adamw_matches_torch_oracle(rng):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("torch without CUDA")
    p0 = f32(rng, 300)
    tp = torch.nn.Parameter(torch.from_numpy(p0.copy()).cuda())
    opt = torch.optim.AdamW([tp], lr=1e-2, weight_decay=0.1, foreach=False)
    dp, dg, dm, dv = cuda.to_device(p0), cuda.zeros(300), cuda.zeros(300), cuda.zeros(300)
    for t in range(1, 4):
        g = f32(rng, 300)
        tp.grad = torch.from_numpy(g).cuda()
        opt.step()
        dg.copy_from(g)
        cuda.adam_(dp, dg, dm, dv, step=t, lr=1e-2, weight_decay=0.1, decoupled=True)
    np.testing.assert_allclose(dp.numpy(), tp.detach().cpu().numpy(), rtol=1e-6, atol=1e-7)


@gpu
def test_ema_matches_reference(rng):
    t0, o = f32(rng, 99), f32(rng, 99)
    dt = cuda.to_device(t0)
    cuda.ema_(dt, cuda.to_device(o), 0.996)
    np.testing.assert_allclose(dt.numpy(), 0.996 * t0.astype(np.float64) + 0.004 * o, atol=1e-7)


# ---- NT-Xent ----------------------------------------------------------------------------------

@gpu
@pytest.mark.parametrize("rows,d,t", [(2, 3, 0.5), (16, 8, 0.1), (512, 128, 0.5), (1024, 256, 0.07)])
def test_nt_xent_matches_reference(rng, rows, d, t):
    z = f32(rng, rows, d)
    loss, g = cuda.nt_xent(cuda.to_device(z), t)
    rl, rg = nt_xent_ref(z, t)
    assert np.isclose(loss, rl, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(g.numpy(), rg, atol=1e-6 + 1e-4 * np.abs(rg).max())
    loss2, g2 = cuda.nt_xent(cuda.to_device(z), t)
    assert loss2 == loss  # fixed-order reductions
    np.testing.assert_array_equal(g2.numpy(), g.numpy())


@gpu
@given(n=st.integers(1, 24), d=st.integers(1, 40), t=st.floats(0.05, 2.0), seed=st.integers(0, 2**32 - 1))
def test_nt_xent_random_shapes(n, d, t, seed):
    z = np.random.default_rng(seed).standard_normal((2 * n, d)).astype(np.float32)
    loss, g = cuda.nt_xent(cuda.to_device(z), t)
    rl, rg = nt_xent_ref(z, t)
    assert np.isclose(loss, rl, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(g.numpy(), rg, atol=1e-6 + 1e-4 * np.abs(rg).max())


@gpu
def test_nt_xent_stable_and_validated(rng):
    z = f32(rng, 8, 4)
    z[0] = 0.0  # zero row: clamped norm, no NaN
    loss, g = cuda.nt_xent(cuda.to_device(z), 1e-3)  # tiny temperature: huge logits
    assert np.isfinite(loss) and np.isfinite(g.numpy()).all()
    rl, _ = nt_xent_ref(z, 1e-3)
    assert np.isclose(loss, rl, rtol=1e-4)
    with pytest.raises(ValueError, match="even number"):
        cuda.nt_xent(cuda.to_device(f32(rng, 5, 4)), 0.5)
    with pytest.raises(ValueError, match="temperature"):
        cuda.nt_xent(cuda.to_device(z), 0.0)


# ---- feature masking (CPU Philox stream, bit for bit) ------------------------------------------

@gpu
@pytest.mark.parametrize("shape,p,seed,stream", [((7, 5), 0.3, 0, 0), ((64, 1003), 0.5, 12345, 9),
                                                 ((3, 3), 0.0, 1, 1), ((3, 3), 1.0, 1, 1)])
def test_feature_mask_bit_identical_to_cpu_stream(rng, shape, p, seed, stream):
    from test_cuda_runtime import feature_mask_numpy

    x = f32(rng, *shape)
    out, keep = cuda.feature_mask(cuda.to_device(x), p, seed, stream)
    ro, rk = feature_mask_numpy(x, p, seed, stream)
    np.testing.assert_array_equal(keep.numpy(), rk)
    np.testing.assert_array_equal(out.numpy(), ro)


# ---- SimCLR step ------------------------------------------------------------------------------

def simclr_grads_ref(weights, relu_after, x1, x2, t):
    """SimCLR forward, NT-Xent and backward in float64 numpy: (loss, [(dW, db), ...])."""
    a = [np.concatenate([x1, x2]).astype(np.float64)]
    for (w, b), r in zip(weights, relu_after):
        y = a[-1] @ w + b
        a.append(np.maximum(y, 0) if r else y)
    loss, dy = nt_xent_ref(a[-1], t)
    grads = [None] * len(weights)
    for l in range(len(weights) - 1, -1, -1):
        if relu_after[l]:
            dy = dy * (a[l + 1] > 0)
        grads[l] = (a[l].T @ dy, dy.sum(0))
        dy = dy @ weights[l][0].T
    return loss, grads


def simclr_step_ref(weights, relu_after, x1, x2, t, lr, mom, bufs):
    """One SimCLR step with SGD momentum (torch semantics) on top of simclr_grads_ref."""
    loss, grads = simclr_grads_ref(weights, relu_after, x1, x2, t)
    new = []
    for l, ((w, b), (gw, gb)) in enumerate(zip(weights, grads)):
        bufs[l] = (mom * bufs[l][0] + gw, mom * bufs[l][1] + gb)
        new.append((w - lr * bufs[l][0], b - lr * bufs[l][1]))
    return loss, new


def test_simclr_reference_gradients_match_finite_differences():
    rng = np.random.default_rng(1)
    dims, relu_after = [3, 5, 4, 3, 2], [True, False, True, False]
    weights = [(rng.standard_normal((i, o)), rng.standard_normal(o)) for i, o in zip(dims[:-1], dims[1:])]
    x1, x2 = rng.standard_normal((3, 3)), rng.standard_normal((3, 3))
    _, grads = simclr_grads_ref(weights, relu_after, x1, x2, 0.5)
    h = 1e-6
    for l in range(len(weights)):
        for k in range(2):
            num = np.zeros_like(weights[l][k])
            for idx in np.ndindex(num.shape):
                plus = [list(p) for p in weights]
                minus = [list(p) for p in weights]
                plus[l][k] = weights[l][k].copy()
                minus[l][k] = weights[l][k].copy()
                plus[l][k][idx] += h
                minus[l][k][idx] -= h
                num[idx] = (simclr_grads_ref(plus, relu_after, x1, x2, 0.5)[0]
                            - simclr_grads_ref(minus, relu_after, x1, x2, 0.5)[0]) / (2 * h)
            np.testing.assert_allclose(grads[l][k], num, rtol=1e-5, atol=1e-7)


@gpu
def test_simclr_step_matches_reference(rng):
    enc, proj = (24, 48, 40), (40, 32, 16)
    step = cuda.SimCLRStep(enc, proj, temperature=0.5, optimizer="sgd", lr=0.05, momentum=0.9, seed=3)
    assert step.relu_after == [True, False, True, False]
    weights = [(w.astype(np.float64), b.astype(np.float64)) for w, b in step.get_weights()]
    bufs = [(np.zeros_like(w), np.zeros_like(b)) for w, b in weights]
    for _ in range(3):
        x1, x2 = f32(rng, 12, 24), f32(rng, 12, 24)
        loss = step.step(x1, x2)
        rl, weights = simclr_step_ref(weights, step.relu_after, x1, x2, 0.5, 0.05, 0.9, bufs)
        assert np.isclose(loss, rl, rtol=1e-4)
    for (w, b), (rw, rb) in zip(step.get_weights(), weights):
        np.testing.assert_allclose(w, rw, atol=1e-5)
        np.testing.assert_allclose(b, rb, atol=1e-5)
    assert step.steps_done == 3


@gpu
@pytest.mark.parametrize("optimizer", ["sgd", "adam", "adamw"])
def test_simclr_step_learns_and_accepts_device_views(rng, optimizer):
    step = cuda.SimCLRStep((16, 32, 32), (32, 16, 8), temperature=0.5, optimizer=optimizer,
                           lr=0.05 if optimizer == "sgd" else 1e-3, weight_decay=1e-4, seed=0)
    x = f32(rng, 32, 16)
    v1 = cuda.to_device(x + 0.05 * f32(rng, 32, 16))
    v2 = cuda.to_device(x + 0.05 * f32(rng, 32, 16))
    first = step.step(v1, v2)
    for _ in range(30):
        assert step.step(v1, v2, return_loss=False) is None
    last = step.step(v1, v2)
    assert np.isfinite(last) and last < first
    with pytest.raises(ValueError, match="columns"):
        step.step(cuda.to_device(f32(rng, 4, 15)), cuda.to_device(f32(rng, 4, 15)))
    with pytest.raises(ValueError, match="x2 must have shape"):
        step.step(v1, cuda.to_device(f32(rng, 31, 16)))
