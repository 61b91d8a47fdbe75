"""BatchNorm2d / ChannelBatchNorm1d (fused residual + ReLU), MaxPool2d / MaxPool1d, residual
blocks, ResNet and ResNet1d: references written from the definitions, float64 finite
differences, thread invariance, bad inputs."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import pyssl
from pyssl import _core
from pyssl.distributed import combine_moments
from pyssl.nn import (BasicBlock, BatchNorm2d, Bottleneck, ChannelBatchNorm1d, MaxPool1d, MaxPool2d, ResNet,
                      ResNet1d)
from pyssl.testing import check_gradients, check_module_gradients


# -- references -----------------------------------------------------------------------------------

def bn_ref(x, gamma, beta, eps, residual=None, relu=False, mean=None, var=None):
    """Ioffe & Szegedy 2015 §3.2: per-channel statistics over every axis but axis 1."""
    axes = (0,) + tuple(range(2, x.ndim))
    shape = (1, -1) + (1,) * (x.ndim - 2)
    mu = x.mean(axis=axes) if mean is None else mean
    v = x.var(axis=axes) if var is None else var
    u = (x - mu.reshape(shape)) / np.sqrt(v.reshape(shape) + eps) * gamma.reshape(shape) + beta.reshape(shape)
    if residual is not None:
        u = u + residual
    return np.maximum(u, 0) if relu else u


def maxpool_ref(x, k, s, p):
    n, c, h, w = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])), constant_values=-np.inf)
    ho, wo = (h + 2 * p[0] - k[0]) // s[0] + 1, (w + 2 * p[1] - k[1]) // s[1] + 1
    y = np.empty((n, c, ho, wo))
    for i in range(ho):
        for j in range(wo):
            y[:, :, i, j] = xp[:, :, i * s[0]:i * s[0] + k[0], j * s[1]:j * s[1] + k[1]].max(axis=(2, 3))
    return y


def _bn_with_params(cls, c, rng, relu=False, dtype=np.float64):
    bn = cls(c, dtype=dtype, relu=relu, momentum=0.3)
    bn.weight.data[:] = rng.uniform(0.5, 1.5, c)
    bn.bias.data[:] = rng.standard_normal(c)
    return bn


# -- batch norm -----------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("relu", [False, True])
@pytest.mark.parametrize("with_res", [False, True])
def test_batchnorm2d_forward_and_running_stats_match_reference(dtype, relu, with_res, rng):
    x = (rng.standard_normal((3, 4, 5, 6)) * 2 + 1).astype(dtype)
    res = rng.standard_normal(x.shape).astype(dtype) if with_res else None
    bn = _bn_with_params(BatchNorm2d, 4, rng, relu=relu, dtype=dtype)
    y, _ = bn.forward_fused(x, residual=res)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    ref = bn_ref(x.astype(np.float64), bn.weight.data.astype(np.float64), bn.bias.data.astype(np.float64), 1e-5,
                 None if res is None else res.astype(np.float64), relu)
    np.testing.assert_allclose(y, ref, rtol=tol, atol=tol)
    m = x.shape[0] * x.shape[2] * x.shape[3]
    xd = x.astype(np.float64)
    np.testing.assert_allclose(bn.running_mean, 0.3 * xd.mean(axis=(0, 2, 3)), rtol=tol, atol=tol)
    np.testing.assert_allclose(bn.running_var, 0.7 + 0.3 * xd.var(axis=(0, 2, 3)) * m / (m - 1), rtol=tol, atol=tol)
    bn.eval()
    ye, _ = bn.forward_fused(x, residual=res)
    ref = bn_ref(xd, bn.weight.data.astype(np.float64), bn.bias.data.astype(np.float64), 1e-5,
                 None if res is None else res.astype(np.float64), relu, bn.running_mean.astype(np.float64),
                 bn.running_var.astype(np.float64))
    np.testing.assert_allclose(ye, ref, rtol=tol, atol=tol)


def test_batchnorm_stable_for_large_offsets(rng):
    """Two-pass per-row moments: a large common offset does not destroy the variance."""
    x = (1e4 + rng.standard_normal((4, 3, 8, 8))).astype(np.float32)
    y = BatchNorm2d(3)(x)
    np.testing.assert_allclose(y.var(axis=(0, 2, 3)), 1.0, rtol=2e-3)


@given(n=st.integers(1, 3), c=st.integers(1, 3), h=st.integers(1, 4), w=st.integers(1, 4),
       relu=st.booleans(), affine=st.booleans(), seed=st.integers(0, 1000))
def test_batchnorm2d_gradients_fd(n, c, h, w, relu, affine, seed):
    if n * h * w < 2:
        return
    rng = np.random.default_rng(seed)
    bn = BatchNorm2d(c, dtype=np.float64, relu=relu, affine=affine)
    if affine:
        bn.weight.data[:] = rng.uniform(0.5, 1.5, c)
        bn.bias.data[:] = rng.standard_normal(c) * 0.3
    check_module_gradients(bn, rng.standard_normal((n, c, h, w)), seed=seed, rtol=1e-5, atol=1e-6)


@given(n=st.integers(1, 3), c=st.integers(1, 4), t=st.integers(1, 7), seed=st.integers(0, 1000))
def test_channel_batchnorm1d_gradients_fd(n, c, t, seed):
    if n * t < 2:
        return
    rng = np.random.default_rng(seed)
    bn = _bn_with_params(ChannelBatchNorm1d, c, rng, relu=seed % 2 == 0)
    check_module_gradients(bn, rng.standard_normal((n, c, t)), seed=seed, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("training", [True, False])
def test_fused_residual_gradients_fd(training, rng):
    bn = _bn_with_params(BatchNorm2d, 3, rng, relu=True)
    bn.running_mean[:] = rng.standard_normal(3) * 0.1
    bn.running_var[:] = rng.uniform(0.5, 2, 3)
    bn.train(training)
    r = rng.standard_normal((2, 3, 3, 4))

    def fun(x, res):
        bn.zero_grad()
        y, ctx = bn.forward_fused(x, residual=res)
        rm, rv = bn.running_mean.copy(), bn.running_var.copy()
        dx, dres = bn.backward_fused(r, ctx)
        bn.running_mean[:], bn.running_var[:] = rm, rv
        return float(np.sum(y * r)), [dx, dres]

    x0, res0 = rng.standard_normal((2, 3, 3, 4)), rng.standard_normal((2, 3, 3, 4))
    mean0, var0 = bn.running_mean.copy(), bn.running_var.copy()

    def stateless(x, res):  # running stats restored so every evaluation sees the same eval stats
        bn.running_mean[:], bn.running_var[:] = mean0, var0
        return fun(x, res)

    check_gradients(stateless, [x0, res0], rtol=1e-5, atol=1e-6)


def test_batchnorm_eval_mode_gradients_fd(rng):
    bn = _bn_with_params(ChannelBatchNorm1d, 2, rng)
    bn.running_mean[:] = [0.3, -0.2]
    bn.running_var[:] = [1.5, 0.7]
    bn.eval()
    check_module_gradients(bn, rng.standard_normal((1, 2, 5)))  # one sample is fine in eval mode


def test_batchnorm_given_statistics_equal_whole_batch(rng):
    """Synchronised mode: shard statistics combined (Chan et al.) reproduce the whole batch."""
    x = rng.standard_normal((6, 3, 4, 4))
    w, b = rng.uniform(0.5, 1.5, 3), rng.standard_normal(3)
    dy = rng.standard_normal(x.shape)
    y, mean, rstd = _core.nn.batch_norm_channels_forward(x, w, b, relu=True)
    gw, gb = np.zeros(3), np.zeros(3)
    dx, _ = _core.nn.batch_norm_channels_backward(x, mean, rstd, dy, w, y=y, relu=True, weight_grad=gw,
                                                  bias_grad=gb, accumulate=False)
    shards = [slice(0, 2), slice(2, 6)]
    rows = []
    for s in shards:
        m, q = _core.nn.batch_norm_channels_moments(np.ascontiguousarray(x[s]))
        rows.append(np.concatenate([[x[s].shape[0] * 16.0], m, q]))
    count, gmean, gvar = combine_moments(np.array(rows))
    sums = np.zeros(6)
    outs = []
    for s in shards:
        xs = np.ascontiguousarray(x[s])
        ys, ms, rs = _core.nn.batch_norm_channels_forward(xs, w, b, relu=True, given_mean=gmean, given_var=gvar,
                                                          given_count=count)
        np.testing.assert_allclose(ys, y[s], rtol=1e-12, atol=1e-12)
        s1, s2 = np.zeros(3), np.zeros(3)
        _core.nn.batch_norm_channels_backward(xs, ms, rs, np.ascontiguousarray(dy[s]), np.ones(3), y=ys, relu=True,
                                              weight_grad=s2, bias_grad=s1, accumulate=False, need_dx=False)
        sums += np.concatenate([s1, s2])
        outs.append((xs, ms, rs, ys))
    for s, (xs, ms, rs, ys) in zip(shards, outs):
        dxs, _ = _core.nn.batch_norm_channels_backward(xs, ms, rs, np.ascontiguousarray(dy[s]), w, y=ys, relu=True,
                                                       given_sums=sums, given_count=count)
        np.testing.assert_allclose(dxs, dx[s], rtol=1e-10, atol=1e-12)


def test_batchnorm_thread_invariant(threads, rng):
    x = rng.standard_normal((8, 5, 9, 7)).astype(np.float32)
    res = rng.standard_normal(x.shape).astype(np.float32)
    g = rng.standard_normal(x.shape).astype(np.float32)
    outs = []
    for t in (1, 2, 3):
        pyssl.set_num_threads(t)
        bn = BatchNorm2d(5, relu=True)
        y, ctx = bn.forward_fused(x, residual=res)
        dx, dres = bn.backward_fused(g, ctx)
        outs.append([y, dx, dres, bn.weight.grad.copy(), bn.bias.grad.copy(), bn.running_var.copy()])
    for other in outs[1:]:
        for a, b in zip(outs[0], other):
            assert a.tobytes() == b.tobytes()


def test_batchnorm_bad_inputs(rng):
    bn = BatchNorm2d(3)
    with pytest.raises(ValueError, match=r"\(N, C, H, W\) with C = 3"):
        bn(np.zeros((2, 4, 3, 3), np.float32))
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        bn(np.zeros((2, 3, 3), np.float32))
    with pytest.raises(TypeError, match="astype"):
        bn(np.zeros((2, 3, 3, 3)))
    with pytest.raises(ValueError, match="at least 2 values per channel"):
        bn(np.zeros((1, 3, 1, 1), np.float32))
    with pytest.raises(ValueError, match="residual must match"):
        bn.forward_fused(np.zeros((2, 3, 2, 2), np.float32), residual=np.zeros((2, 3, 2, 1), np.float32))
    with pytest.raises(ValueError, match="num_features"):
        BatchNorm2d(0)
    with pytest.raises(ValueError, match=r"\(N, C, T\)"):
        ChannelBatchNorm1d(3)(np.zeros((2, 3), np.float32))
    x = np.zeros((2, 3, 4), np.float32)
    with pytest.raises(ValueError, match="relu=True needs"):
        _core.nn.batch_norm_channels_backward(x, np.zeros(3, np.float32), np.ones(3, np.float32), x, relu=True)


# -- max pooling ----------------------------------------------------------------------------------

@given(n=st.integers(1, 2), c=st.integers(1, 3), h=st.integers(2, 8), w=st.integers(2, 8), k=st.integers(1, 3),
       s=st.integers(1, 3), p=st.integers(0, 1), seed=st.integers(0, 1000))
def test_maxpool2d_matches_reference_and_fd(n, c, h, w, k, s, p, seed):
    if 2 * p > k or h + 2 * p < k or w + 2 * p < k:
        return
    rng = np.random.default_rng(seed)
    x = rng.permutation(n * c * h * w).reshape(n, c, h, w) / 7.0  # distinct values: no ties
    pool = MaxPool2d(k, s, p)
    np.testing.assert_array_equal(pool(x), maxpool_ref(x, (k, k), (s, s), (p, p)))
    check_module_gradients(pool, x, seed=seed)


def test_maxpool2d_float32_and_rectangular(rng):
    x = rng.standard_normal((2, 3, 7, 9)).astype(np.float32)
    pool = MaxPool2d((3, 2), (2, 1), (1, 0))
    y = pool(x)
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y, maxpool_ref(x.astype(np.float64), (3, 2), (2, 1), (1, 0)).astype(np.float32))


def test_maxpool1d_reference_and_fd(rng):
    x = rng.permutation(2 * 3 * 11).reshape(2, 3, 11) / 3.0
    pool = MaxPool1d(3, 2, 1)
    y = pool(x)
    ref = maxpool_ref(x[:, :, None, :], (1, 3), (1, 2), (0, 1))[:, :, 0, :]
    np.testing.assert_array_equal(y, ref)
    check_module_gradients(pool, x)
    assert MaxPool1d(2)(x).shape == (2, 3, 5)


def test_maxpool_ties_go_to_first_and_thread_invariant(threads):
    x = np.ones((1, 1, 2, 2))
    y, ctx = MaxPool2d(2).forward(x)
    np.testing.assert_array_equal(MaxPool2d(2).backward(np.ones_like(y), ctx), [[[[1, 0], [0, 0]]]])
    xs = np.random.default_rng(0).standard_normal((4, 8, 16, 16)).astype(np.float32)
    outs = []
    for t in (1, 2, 3):
        pyssl.set_num_threads(t)
        y, ctx = MaxPool2d(3, 2, 1).forward(xs)
        outs.append((y.tobytes(), MaxPool2d(3, 2, 1).backward(y, ctx).tobytes()))
    assert outs[0] == outs[1] == outs[2]


def test_maxpool_bad_inputs():
    with pytest.raises(ValueError, match="at most half"):
        MaxPool2d(2, 1, 2)
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        MaxPool2d(2)(np.zeros((2, 3, 4), np.float32))
    with pytest.raises(ValueError, match="larger than the padded input"):
        MaxPool2d(5)(np.zeros((1, 1, 3, 3), np.float32))
    with pytest.raises(ValueError, match=r"\(N, C, T\)"):
        MaxPool1d(2)(np.zeros((2, 3, 4, 4), np.float32))
    with pytest.raises(ValueError):
        MaxPool1d(0)


# -- blocks and networks ----------------------------------------------------------------------------

@pytest.mark.parametrize("block,cin,c,stride", [(BasicBlock, 2, 2, 1), (BasicBlock, 2, 3, 2), (BasicBlock, 3, 3, 2),
                                                (Bottleneck, 2, 1, 1), (Bottleneck, 4, 1, 1), (Bottleneck, 3, 2, 2)])
def test_blocks_gradients_fd(block, cin, c, stride, rng):
    blk = block(cin, c, stride=stride, dtype=np.float64, seed=1)
    x = rng.standard_normal((2, cin, 5, 4))
    y = blk(x)
    assert y.shape == (2, c * block.expansion, (5 - 1) // stride + 1, (4 - 1) // stride + 1)
    assert (blk.shortcut is None) == (stride == 1 and cin == c * block.expansion)
    check_module_gradients(blk, x, rtol=1e-5, atol=1e-6)


def test_basic_block_matches_definition(rng):
    """y = relu(BN(conv2(relu(BN(conv1(x))))) + BN(conv1x1_s(x))), written out with the layers."""
    blk = BasicBlock(2, 3, stride=2, dtype=np.float64, seed=3)
    x = rng.standard_normal((3, 2, 6, 6))
    h = bn_ref(blk.conv1(x), blk.bn1.weight.data, blk.bn1.bias.data, 1e-5, relu=True)
    h = blk.conv2(h)
    s = blk.shortcut[0](x)
    s = bn_ref(s, blk.shortcut[1].weight.data, blk.shortcut[1].bias.data, 1e-5)
    ref = bn_ref(h, blk.bn2.weight.data, blk.bn2.bias.data, 1e-5, residual=s, relu=True)
    np.testing.assert_allclose(blk(x), ref, rtol=1e-10, atol=1e-12)


def _directional_check(model, x, rng, n_params=4):
    """d/dε Σ r ⊙ f(x + ε v) against ⟨∇, v⟩ for the input and a few parameters (too many for
    coordinate-wise differences)."""
    y, ctx = model.forward(x)
    r = rng.standard_normal(y.shape)
    model.zero_grad()
    dx = model.backward(r, ctx)

    def loss():
        return float(np.sum(model.forward(x)[0] * r))

    params = model.parameters()
    targets = [(x, dx)] + [(p.data, p.grad.copy()) for p in
                           [params[i] for i in rng.choice(len(params), n_params, replace=False)]]
    eps = 1e-6
    for arr, grad in targets:
        v = rng.standard_normal(arr.shape)
        old = arr.copy()
        arr += eps * v
        lp = loss()
        arr[...] = old - eps * v
        lm = loss()
        arr[...] = old
        np.testing.assert_allclose((lp - lm) / (2 * eps), np.sum(grad * v), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("depth,variant", [(18, "cifar"), (18, "imagenet"), (34, "cifar"), (50, "cifar")])
def test_resnet_shapes_and_gradients(depth, variant, rng):
    net = ResNet(depth, in_channels=2, variant=variant, width=2, dtype=np.float64, seed=0)
    assert net.out_features == (16 if depth < 50 else 64)
    size = 16 if variant == "imagenet" else 8
    x = rng.standard_normal((2, 2, size, size))
    assert net(x).shape == (2, net.out_features)
    if depth == 18:
        _directional_check(net, x, rng)


def test_resnet18_has_torchvision_parameter_count():
    """11,168,832 parameters for ResNet-18 without the fc layer (torchvision: 11,689,512 − 513,000
    for fc); the CIFAR stem replaces 7·7·3·64 by 3·3·3·64 weights."""
    assert ResNet(18, variant="imagenet").num_parameters() == 11_689_512 - 513_000
    assert ResNet(18, variant="cifar").num_parameters() == 11_689_512 - 513_000 - (49 - 9) * 3 * 64
    assert ResNet(50, variant="imagenet").num_parameters() == 25_557_032 - 2_049_000


def test_resnet1d_shapes_gradients_and_definition(rng):
    net = ResNet1d(2, width=3, dtype=np.float64, seed=0)
    assert net.out_features == 6
    x = rng.standard_normal((3, 2, 9))
    assert net(x).shape == (3, 6)
    assert net[2].shortcut.__class__ is ChannelBatchNorm1d  # equal widths: BN-only shortcut (Wang et al.)
    _directional_check(net, x, rng)
    check_module_gradients(ResNet1d(1, width=1, kernel_sizes=(3, 1, 3), dtype=np.float64, seed=2),
                           rng.standard_normal((2, 1, 4)), rtol=1e-5, atol=1e-6)


def test_resnet_seeded_and_bit_identical_across_threads(threads, rng):
    """Same seed: the same bits on 1, 2 and 3 threads, at sizes where the GEMMs split (pyssl's GEMM
    slices depend on the shape and core count only; its own kernels reduce in a fixed order);
    another seed differs."""
    x = rng.standard_normal((8, 3, 16, 16)).astype(np.float32)

    def run(t, seed=5):
        pyssl.set_num_threads(t)
        net = ResNet(18, width=16, seed=seed)
        y, ctx = net.forward(x)
        net.backward(np.ones_like(y), ctx)
        return [y] + [p.grad.copy() for p in net.parameters()]

    one = run(1)
    for t in (2, 3):
        assert all(a.tobytes() == b.tobytes() for a, b in zip(one, run(t)))
    assert run(1, seed=6)[0].tobytes() != one[0].tobytes()


def test_resnet_bad_arguments():
    with pytest.raises(ValueError, match="depth must be one of"):
        ResNet(20)
    with pytest.raises(ValueError, match="variant must be one of"):
        ResNet(18, variant="tiny")
    with pytest.raises(ValueError, match="width"):
        ResNet(18, width=0)
    with pytest.raises(ValueError, match="odd"):
        ResNet1d(1, kernel_sizes=(8, 5, 3))
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        ResNet(18, in_channels=1, width=2)(np.zeros((2, 3, 8, 8), np.float32))


def test_state_dict_round_trip_and_eval(rng):
    net = ResNet(18, in_channels=1, width=2, seed=0)
    x = rng.standard_normal((4, 1, 8, 8)).astype(np.float32)
    net(x)  # updates running statistics
    other = ResNet(18, in_channels=1, width=2, seed=1)
    other.load_state_dict(net.state_dict())
    net.eval()
    other.eval()
    assert net(x).tobytes() == other(x).tobytes()
    assert net.transform(x[:1]).shape == (1, 16)


def test_torch_oracle_batchnorm_and_maxpool(rng):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((3, 4, 6, 5))
    bn = _bn_with_params(BatchNorm2d, 4, rng)
    tb = torch.nn.BatchNorm2d(4, momentum=0.3).double()
    with torch.no_grad():
        tb.weight[:] = torch.from_numpy(bn.weight.data)
        tb.bias[:] = torch.from_numpy(bn.bias.data)
    np.testing.assert_allclose(bn(x), tb(torch.from_numpy(x)).detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(bn.running_var, tb.running_var.numpy(), rtol=1e-12)
    tx = torch.from_numpy(x)
    np.testing.assert_array_equal(MaxPool2d(3, 2, 1)(x), torch.nn.functional.max_pool2d(tx, 3, 2, 1).numpy())


def test_resnet_input_shape_errors():
    with pytest.raises(ValueError, match=r"\(N, C, T\) with C = 2"):
        ResNet1d(2, width=2)(np.zeros((2, 3, 8), np.float32))
    with pytest.raises(ValueError, match=r"\(N, C, H, W\) with C = 3"):
        ResNet(18, width=2)(np.zeros((2, 3, 8), np.float32))


@given(n=st.integers(1, 2), c=st.integers(1, 3), h=st.integers(3, 7), w=st.integers(3, 7), k=st.integers(1, 3),
       s=st.integers(1, 3), p=st.integers(0, 2), seed=st.integers(0, 1000))
def test_im2col_equals_conv_columns_and_recompute_conv_equals_conv2d(n, c, h, w, k, s, p, seed):
    from pyssl.nn import Conv2d
    from pyssl.nn.resnet import RecomputeConv2d

    if h + 2 * p < k or w + 2 * p < k:
        return
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, h, w))
    a = Conv2d(c, 2, k, stride=s, padding=p, bias=False, dtype=np.float64, seed=seed)
    b = RecomputeConv2d(c, 2, k, stride=s, padding=p, bias=False, dtype=np.float64, seed=seed)
    ya, ctx_a = a.forward(x)
    yb, ctx_b = b.forward(x)
    assert _core.nn.im2col(x, (k, k), (s, s), (p, p)).tobytes() == ctx_a[0].tobytes()
    assert ya.tobytes() == yb.tobytes()
    g = rng.standard_normal(ya.shape)
    a.zero_grad()
    b.zero_grad()
    assert a.backward(g, ctx_a).tobytes() == b.backward(g, ctx_b).tobytes()
    assert a.weight.grad.tobytes() == b.weight.grad.tobytes()


class _ThreadGroup:
    """Two ranks as two threads: the collectives BatchNorm uses, exchanged through a barrier."""

    world_size = 2

    def __init__(self):
        import threading

        self._local = threading.local()
        self._barrier = threading.Barrier(2)
        self._slots = [None, None]

    def bind(self, rank):
        self._local.rank = rank

    @property
    def rank(self):
        return self._local.rank

    def _exchange(self, a):
        self._slots[self.rank] = np.array(a, copy=True)
        self._barrier.wait()
        both = list(self._slots)
        self._barrier.wait()
        return both

    def allgather_rows(self, a):
        both = self._exchange(a)
        start = sum(b.shape[0] for b in both[:self.rank])
        return np.concatenate(both), slice(start, start + both[self.rank].shape[0])

    def allreduce_sum_(self, buf):
        both = self._exchange(buf)
        buf[...] = both[0] + both[1]
        return buf


def test_synchronised_batchnorm2d_equals_whole_batch(rng):
    """Under pyssl.distributed's synchronised BatchNorm, two ranks holding 2 and 4 samples get the
    whole batch's outputs, input gradients and (summed) parameter gradients."""
    import threading

    from pyssl import distributed

    x = rng.standard_normal((6, 3, 4, 5))
    res = rng.standard_normal(x.shape)
    g = rng.standard_normal(x.shape)
    full = _bn_with_params(BatchNorm2d, 3, rng, relu=True)
    y, ctx = full.forward_fused(x, residual=res)
    dx, dres = full.backward_fused(g, ctx)
    shards = [slice(0, 2), slice(2, 6)]
    group = _ThreadGroup()
    out = [None, None]

    def rank(r):
        group.bind(r)
        bn = _bn_with_params(BatchNorm2d, 3, np.random.default_rng(0), relu=True)
        bn.weight.data[:], bn.bias.data[:] = full.weight.data, full.bias.data
        s = shards[r]
        ys, c = bn.forward_fused(np.ascontiguousarray(x[s]), residual=np.ascontiguousarray(res[s]))
        dxs, dress = bn.backward_fused(np.ascontiguousarray(g[s]), c)
        out[r] = (ys, dxs, dress, bn.weight.grad.copy(), bn.bias.grad.copy(), bn.running_var.copy())

    old = distributed.set_batch_norm_group(group)
    try:
        threads = [threading.Thread(target=rank, args=(r,)) for r in (0, 1)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        distributed.set_batch_norm_group(old)
    for r, s in enumerate(shards):
        np.testing.assert_allclose(out[r][0], y[s], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(out[r][1], dx[s], rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(out[r][2], dres[s], rtol=1e-12)
        np.testing.assert_allclose(out[r][5], full.running_var, rtol=1e-12)
    np.testing.assert_allclose(out[0][3] + out[1][3], full.weight.grad, rtol=1e-9)
    np.testing.assert_allclose(out[0][4] + out[1][4], full.bias.grad, rtol=1e-9)


def test_im2col_and_input_gradient_col2im_thread_invariant(threads, rng):
    """im2col is a copy and col2im has one writer per (n, c) plane: the same bits on 1, 2, 3
    threads (the input gradient's GEMM runs on one thread here: 1×1 kernel, tiny product)."""
    x = rng.standard_normal((5, 3, 9, 7)).astype(np.float32)
    w = rng.standard_normal((2, 3, 3, 3)).astype(np.float32)
    g = rng.standard_normal((5, 2, 5, 4)).astype(np.float32)
    outs = []
    for t in (1, 2, 3):
        pyssl.set_num_threads(t)
        outs.append((_core.nn.im2col(x, (3, 3), (2, 2), (1, 1)).tobytes(),
                     _core.nn.conv2d_input_grad(w, g, list(x.shape), (2, 2), (1, 1)).tobytes()))
    assert outs[0] == outs[1] == outs[2]


def test_conv2d_input_grad_bad_inputs(rng):
    w = np.zeros((2, 3, 3, 3), np.float32)
    with pytest.raises(ValueError, match="channels"):
        _core.nn.conv2d_input_grad(w, np.zeros((1, 2, 3, 3), np.float32), [1, 4, 5, 5], (1, 1), (0, 0))
    with pytest.raises(ValueError, match="grad_output must have shape"):
        _core.nn.conv2d_input_grad(w, np.zeros((1, 2, 4, 3), np.float32), [1, 3, 5, 5], (1, 1), (0, 0))
    with pytest.raises(ValueError, match="larger than the padded input"):
        _core.nn.im2col(np.zeros((1, 1, 2, 2), np.float32), (3, 3))


def test_experiments_build_resnets_from_specs(rng):
    from pyssl.experiments import make_encoder

    net = make_encoder({"type": "resnet", "in_channels": 1, "width": 2, "variant": "imagenet", "seed": 3})
    assert isinstance(net, ResNet) and net.variant == "imagenet" and net.out_features == 16
    same = ResNet(18, 1, "imagenet", width=2, seed=3)
    x = rng.standard_normal((2, 1, 16, 16)).astype(np.float32)
    assert net(x).tobytes() == same(x).tobytes()
    series = make_encoder({"type": "resnet1d", "in_channels": 2, "width": 3})
    assert isinstance(series, ResNet1d) and series.out_features == 6
    with pytest.raises(ValueError, match="'resnet' or 'resnet1d'"):
        make_encoder({"type": "vgg"})
