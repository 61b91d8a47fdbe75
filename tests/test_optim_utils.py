"""FlatParams, clip_grad_norm, EMA, schedules, and the errors for bad hyperparameters/buffers."""
import math

import numpy as np
import pytest

import pyssl
from pyssl import _core
from pyssl.nn import Linear, Parameter, Sequential, Tanh
from pyssl.optim import (LARS, SGD, Adam, AdamW, Constant, FlatParams, LinearWarmupCosine, StepLR, clip_grad_norm,
                         cosine_momentum, ema_update, flat_view)
from pyssl.optim.schedules import from_config


def net(dtype=np.float64, seed=0):
    return Sequential(Linear(4, 6, dtype=dtype, seed=seed), Tanh(), Linear(6, 3, dtype=dtype, seed=seed + 1))


# --- FlatParams ---------------------------------------------------------------------------------

def test_flat_params_repoints_views_and_keeps_the_model_working(rng):
    model = net()
    x = rng.standard_normal((5, 4))
    y_before = model(x)
    for p in model.parameters():
        p.grad[...] = rng.standard_normal(p.grad.shape)
    grads_before = [p.grad.copy() for p in model.parameters()]
    flat = FlatParams(model)
    np.testing.assert_array_equal(model(x), y_before)
    assert flat.size == model.num_parameters() and len(flat) == 4
    np.testing.assert_array_equal(flat.offsets, [0, 24, 30, 48, 51])
    np.testing.assert_array_equal(flat.decay, [1, 0, 1, 0])
    for i, (p, g) in enumerate(zip(model.parameters(), grads_before)):
        assert np.shares_memory(p.data, flat.data) and np.shares_memory(p.grad, flat.grad)
        np.testing.assert_array_equal(p.grad, g)
        np.testing.assert_array_equal(flat.data[flat.offsets[i]:flat.offsets[i + 1]], p.data.ravel())
    # a backward pass accumulates straight into the flat grad buffer
    flat.zero_grad()
    y, ctx = model.forward(x)
    model.backward(np.ones_like(y), ctx)
    assert np.abs(flat.grad).sum() > 0
    np.testing.assert_array_equal(flat_view([p.grad for p in model.parameters()]), flat.grad)
    assert flat_view([p.data for p in model.parameters()[1:3]]) is not None
    assert flat_view([model.parameters()[0].data, model.parameters()[2].data]) is None  # not adjacent


def test_flatten_twice_makes_the_first_stale():
    model = net()
    first = SGD(model, 0.1)
    first.step()
    values = [p.data.copy() for p in model.parameters()]
    second = FlatParams(model)  # re-points the parameters again, values copied
    for p, v in zip(model.parameters(), values):
        np.testing.assert_array_equal(p.data, v)
        assert np.shares_memory(p.data, second.data)
    with pytest.raises(RuntimeError, match="no longer points into this optimizer's flat buffer"):
        first.step()
    first.flat.reattach()
    first.step()


def test_a_second_optimizer_over_the_same_parameters_shares_their_buffers():
    model = net()
    first = SGD(model, 0.1)
    first.step()
    data = first.flat.data
    second = Adam(model, 0.1)
    assert second.flat is first.flat and second.flat.data is data  # no copy, no new buffer
    for p in model.parameters():
        p.grad[...] = 1.0
    before = [p.data.copy() for p in model.parameters()]
    second.step()
    first.step()  # still attached: both update the same values
    for p, b in zip(model.parameters(), before):
        assert np.all(p.data < b)
    # a different parameter list (a subset, another order) gets buffers of its own
    params = model.parameters()
    third = SGD(params[::-1], 0.1)
    assert third.flat is not first.flat
    with pytest.raises(RuntimeError, match="no longer points"):
        first.step()


def test_tied_parameters_are_updated_once():
    p = Parameter(np.ones(3))
    opt = SGD([p, p], 0.5)
    assert len(opt.flat) == 1
    p.grad[...] = 1.0
    opt.step()
    np.testing.assert_allclose(p.data, 0.5)


def test_flat_params_errors():
    with pytest.raises(ValueError, match="empty"):
        FlatParams([])
    with pytest.raises(TypeError, match="one dtype"):
        FlatParams([Parameter(np.zeros(2, np.float32)), Parameter(np.zeros(2, np.float64))])
    with pytest.raises(TypeError, match=r"params\[1\] must be a pyssl.nn.Parameter"):
        FlatParams([Parameter(np.zeros(2)), np.zeros(2)])
    with pytest.raises(TypeError, match="single Parameter"):
        SGD(Parameter(np.zeros(2)), 0.1)
    with pytest.raises(TypeError, match="float32 or float64"):
        FlatParams([Parameter(np.zeros(2, np.int64))])


# --- clip_grad_norm ----------------------------------------------------------------------------

def _clip_ref(grads, max_norm):
    norm = math.sqrt(sum(float(np.sum(g.astype(np.float64) ** 2)) for g in grads))
    c = max_norm / (norm + 1e-6)
    return norm, [g * c if c < 1 else g.copy() for g in grads]


@pytest.mark.parametrize("flat", [True, False], ids=["flat", "list"])
@pytest.mark.parametrize("max_norm", [0.0, 0.5, 1e6])
def test_clip_grad_norm_matches_numpy(flat, max_norm, rng):
    params = [Parameter(rng.standard_normal(s)) for s in [(3, 4), (5,), (2, 2, 2)]]
    for p in params:
        p.grad[...] = rng.standard_normal(p.grad.shape)
    norm_ref, expected = _clip_ref([p.grad for p in params], max_norm)
    target = FlatParams(params) if flat else params
    norm = clip_grad_norm(target, max_norm)
    assert math.isclose(norm, norm_ref, rel_tol=1e-13)
    for p, e in zip(params, expected):
        np.testing.assert_allclose(p.grad, e, rtol=1e-13, atol=0)


def test_clip_grad_norm_through_an_optimizer_and_float32(rng):
    model = net(np.float32)
    opt = AdamW(model, 0.1)
    opt.flat.grad[...] = rng.standard_normal(opt.flat.size).astype(np.float32) * 10
    g64 = opt.flat.grad.astype(np.float64)
    norm = clip_grad_norm(opt, 1.0)
    assert math.isclose(norm, float(np.linalg.norm(g64)), rel_tol=1e-12)
    assert math.isclose(float(np.linalg.norm(opt.flat.grad.astype(np.float64))), 1.0, rel_tol=1e-5)
    assert opt.flat.grad.dtype == np.float32


def test_clip_nonfinite(rng):
    p = Parameter(np.ones(4))
    p.grad[...] = [1.0, np.nan, 2.0, 3.0]
    assert math.isnan(clip_grad_norm([p], 1.0))
    with pytest.raises(ValueError, match="NaN or Inf"):
        clip_grad_norm([p], 1.0, error_if_nonfinite=True)
    with pytest.raises(ValueError, match="NaN or Inf"):
        clip_grad_norm(FlatParams([p]), 1.0, error_if_nonfinite=True)
    with pytest.raises(ValueError, match="'max_norm'"):
        clip_grad_norm([p], -1.0)


def test_clip_one_vs_two_threads_bit_identical(threads):
    rng = np.random.default_rng(5)
    g0 = (rng.standard_normal(300_007) * rng.uniform(0, 100, 300_007)).astype(np.float32)
    out = []
    for nt in (1, 2):
        pyssl.set_num_threads(nt)
        g = g0.copy()
        out.append((_core.optim.clip_grad_norm(g, 3.0), g, _core.optim.sum_squares(g0)))
    assert out[0][0] == out[1][0] and out[0][2] == out[1][2]
    np.testing.assert_array_equal(out[0][1], out[1][1])
    # and independent of the buffer's alignment (the order is fixed by index, not address)
    buf = np.empty(g0.size + 3, np.float32)
    shifted = buf[3:]
    shifted[...] = g0
    assert _core.optim.sum_squares(shifted) == out[0][2]


# --- EMA -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("flat", [True, False], ids=["fused", "per_parameter"])
def test_ema_matches_numpy(flat):
    online, target = net(seed=0), net(seed=5)
    m = 0.9
    expected = [m * t.data + (1 - m) * o.data for t, o in zip(target.parameters(), online.parameters())]
    if flat:
        opt = SGD(online, 0.1)
        teacher = FlatParams(target)
        ema_update(teacher, opt, m)
    else:
        ema_update(target, online, m)
    for t, e in zip(target.parameters(), expected):
        np.testing.assert_allclose(t.data, e, rtol=1e-15)


def test_ema_limits_and_errors():
    online, target = net(seed=0), net(seed=5)
    before = [t.data.copy() for t in target.parameters()]
    ema_update(target, online, 1.0)
    for t, b in zip(target.parameters(), before):
        np.testing.assert_array_equal(t.data, b)
    ema_update(target, online, 0.0)
    for t, o in zip(target.parameters(), online.parameters()):
        np.testing.assert_array_equal(t.data, o.data)
    with pytest.raises(ValueError, match="'momentum'"):
        ema_update(target, online, 1.5)
    with pytest.raises(ValueError, match="shape"):
        ema_update(target, Sequential(Linear(4, 5, dtype=np.float64), Tanh(), Linear(5, 3, dtype=np.float64)), 0.5)
    with pytest.raises(ValueError, match="has 4 parameters but online_params has 2"):
        ema_update(target, Linear(4, 6, dtype=np.float64), 0.5)


def test_cosine_momentum_values():
    assert cosine_momentum(0, 100) == pytest.approx(0.996, abs=1e-15)
    assert cosine_momentum(50, 100) == pytest.approx(1 - 0.004 / 2, abs=1e-15)
    assert cosine_momentum(100, 100) == 1.0
    assert cosine_momentum(250, 100) == 1.0  # clamped
    assert cosine_momentum(0, 10, base=0.99) == pytest.approx(0.99)
    k, K = 30, 80
    assert cosine_momentum(k, K) == pytest.approx(1 - 0.004 * (math.cos(math.pi * k / K) + 1) / 2, abs=1e-15)
    with pytest.raises(ValueError, match="'total_steps'"):
        cosine_momentum(0, 0)
    with pytest.raises(ValueError, match="'step'"):
        cosine_momentum(-1, 10)


# --- schedules -----------------------------------------------------------------------------------

def test_linear_warmup_cosine_key_steps():
    s = LinearWarmupCosine(1.0, total_steps=110, warmup_steps=10, final_lr=0.1, warmup_start_lr=0.01)
    assert s(0) == pytest.approx(0.01)
    assert s(5) == pytest.approx(0.01 + 0.99 * 0.5)
    assert s(10) == pytest.approx(1.0)  # end of warmup = peak
    assert s(60) == pytest.approx(0.1 + 0.9 * 0.5)  # half-way through the cosine
    assert s(110) == pytest.approx(0.1)
    assert s(500) == pytest.approx(0.1)
    ks = np.arange(10, 111)
    assert np.all(np.diff([s(int(k)) for k in ks]) <= 0)
    plain = LinearWarmupCosine(2.0, total_steps=4)
    assert [plain(k) for k in range(5)] == pytest.approx([2.0, 2 * (1 + math.cos(math.pi / 4)) / 2, 1.0,
                                                          2 * (1 + math.cos(3 * math.pi / 4)) / 2, 0.0])
    only_warmup = LinearWarmupCosine(1.0, total_steps=4, warmup_steps=4)
    assert [only_warmup(k) for k in range(6)] == pytest.approx([0, 0.25, 0.5, 0.75, 0.0, 0.0])


def test_step_lr_and_constant():
    s = StepLR(0.5, step_size=3, gamma=0.1)
    assert [s(k) for k in range(7)] == pytest.approx([0.5, 0.5, 0.5, 0.05, 0.05, 0.05, 0.005])
    assert Constant(0.3)(1000) == 0.3


@pytest.mark.parametrize("sched", [Constant(0.1), StepLR(0.5, 3), LinearWarmupCosine(1.0, 100, 10, 0.1, 0.01)])
def test_schedule_config_round_trip(sched):
    again = from_config(sched.get_config())
    assert again == sched and [again(k) for k in range(20)] == [sched(k) for k in range(20)]


@pytest.mark.parametrize("make,match", [
    (lambda: LinearWarmupCosine(-1.0, 10), "'base_lr'"),
    (lambda: LinearWarmupCosine(1.0, 0), "'total_steps'"),
    (lambda: LinearWarmupCosine(1.0, 10, warmup_steps=11), "'warmup_steps'"),
    (lambda: LinearWarmupCosine(1.0, 10, final_lr=-0.1), "'final_lr'"),
    (lambda: LinearWarmupCosine(1.0, 10, warmup_start_lr=float("nan")), "'warmup_start_lr'"),
    (lambda: StepLR(1.0, 0), "'step_size'"),
    (lambda: StepLR(1.0, 2, gamma=-1), "'gamma'"),
    (lambda: Constant(-0.1), "'lr'"),
    (lambda: Constant(0.1)(-1), "'step'"),
    (lambda: from_config({"type": "Nope"}), "unknown schedule"),
])
def test_schedule_validation(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_schedule_type_errors():
    with pytest.raises(TypeError, match="'total_steps'"):
        LinearWarmupCosine(1.0, 10.5)
    with pytest.raises(TypeError, match="'step'"):
        Constant(0.1)(1.5)


# --- hyperparameter validation ----------------------------------------------------------------

def P():
    return [Parameter(np.zeros(3))]


@pytest.mark.parametrize("make,exc,match", [
    (lambda: SGD(P(), -0.1), ValueError, "'lr'"),
    (lambda: SGD(P(), float("inf")), ValueError, "'lr'"),
    (lambda: SGD(P(), "0.1"), TypeError, "'lr'"),
    (lambda: SGD(P(), 0.1, momentum=1.0), ValueError, "'momentum'"),
    (lambda: SGD(P(), 0.1, momentum=-0.1), ValueError, "'momentum'"),
    (lambda: SGD(P(), 0.1, dampening=1.5), ValueError, "'dampening'"),
    (lambda: SGD(P(), 0.1, weight_decay=-1), ValueError, "'weight_decay'"),
    (lambda: SGD(P(), 0.1, nesterov=True), ValueError, "nesterov momentum requires"),
    (lambda: SGD(P(), 0.1, momentum=0.9, dampening=0.1, nesterov=True), ValueError, "dampening == 0"),
    (lambda: SGD(P(), 0.1, nesterov=1), TypeError, "'nesterov'"),
    (lambda: Adam(P(), betas=(1.0, 0.999)), ValueError, r"'betas\[0\]'"),
    (lambda: Adam(P(), betas=(0.9, -0.1)), ValueError, r"'betas\[1\]'"),
    (lambda: Adam(P(), betas=0.9), TypeError, "'betas'"),
    (lambda: Adam(P(), eps=0.0), ValueError, "'eps'"),
    (lambda: AdamW(P(), weight_decay=-0.01), ValueError, "'weight_decay'"),
    (lambda: AdamW(P(), lr=-1e-3), ValueError, "'lr'"),
    (lambda: LARS(P(), 0.1, momentum=1.2), ValueError, "'momentum'"),
    (lambda: LARS(P(), 0.1, trust_coefficient=0.0), ValueError, "'trust_coefficient'"),
    (lambda: LARS(P(), 0.1, eps=-1e-9), ValueError, "'eps'"),
    (lambda: LARS(P(), 0.1, exclude_bias_and_norm="yes"), TypeError, "'exclude_bias_and_norm'"),
])
def test_bad_hyperparameters(make, exc, match):
    with pytest.raises(exc, match=match):
        make()


def test_bad_hyperparameters_leave_params_untouched():
    p = Parameter(np.zeros(3))
    data = p.data
    with pytest.raises(ValueError):
        Adam([p], eps=-1.0)
    assert p.data is data  # validation happens before flattening


def test_schedule_returning_bad_lr_is_caught():
    opt = SGD(P(), lambda k: -1.0)
    with pytest.raises(ValueError, match="lr"):
        opt.step()
    assert opt.step_count == 0


# --- bad buffers reaching the kernels ---------------------------------------------------------

def test_kernel_buffer_checks():
    L = _core.optim.FlatLayout(np.array([0, 3, 5], np.int64), np.array([1, 0], np.uint8))
    p, g, b = np.zeros(5), np.zeros(5), np.zeros(5)
    args = (0.1, 0.9, 0.0, 0.0, False, True, False)
    with pytest.raises(TypeError, match="grad must have dtype float64"):
        _core.optim.sgd_step(L, p, g.astype(np.float32), b, *args)
    with pytest.raises(ValueError, match=r"momentum_buffer must have shape \(5,\)"):
        _core.optim.sgd_step(L, p, g, np.zeros(4), *args)
    with pytest.raises(ValueError, match="momentum_buffer is required"):
        _core.optim.sgd_step(L, p, g, None, *args)
    with pytest.raises(ValueError, match="overlap"):
        _core.optim.sgd_step(L, p, p, b, *args)
    ro = np.zeros(5)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="writeable"):
        _core.optim.sgd_step(L, ro, g, b, *args)
    with pytest.raises(ValueError, match="C-contiguous"):
        _core.optim.sgd_step(L, np.zeros(10)[::2], g, b, *args)
    with pytest.raises(TypeError, match="param must be float32 or float64"):
        _core.optim.sgd_step(L, np.zeros(5, np.int32), g, b, *args)
    with pytest.raises(ValueError, match="exp_avg_sq must have shape"):
        _core.optim.adam_step(L, p, g, np.zeros(5), np.zeros(6), 0.1, 0.9, 0.999, 1e-8, 0.0, 0.1, 0.03, False, False)
    with pytest.raises(ValueError, match="lr must be finite"):
        _core.optim.lars_step(L, p, g, b, float("nan"), 0.9, 0.0, 0.001, 1e-8, True)
    with pytest.raises(ValueError, match="online must have shape"):
        _core.optim.ema_update(p, np.zeros(4), 0.5)
    with pytest.raises(ValueError, match=r"momentum must be in \[0, 1\]"):
        _core.optim.ema_update(p, g, 2.0)


@pytest.mark.parametrize("offsets,decay,exc,match", [
    (np.array([1, 3], np.int64), None, ValueError, "start at 0"),
    (np.array([0, 3, 2], np.int64), None, ValueError, "non-decreasing"),
    (np.array([0, 3], np.int32), None, TypeError, "int64"),
    (np.array([0, 3, 5], np.int64), np.array([1], np.uint8), ValueError, "one flag per parameter"),
    (np.array([0, 3], np.int64), np.array([1], np.int64), TypeError, "uint8"),
    (np.array([], np.int64), None, ValueError, "offsets"),
])
def test_layout_validation(offsets, decay, exc, match):
    with pytest.raises(exc, match=match):
        _core.optim.FlatLayout(offsets, decay)


def test_zero_size_parameter_is_fine():
    ps = [Parameter(np.ones(3)), Parameter(np.zeros((0, 4))), Parameter(np.ones(2), decay=False)]
    opt = LARS(ps, 0.1)
    for p in ps:
        p.grad[...] = 1.0
    opt.step()
    assert opt.trust_ratios[1] == 1.0
    assert np.all(ps[0].data < 1) and np.all(ps[2].data < 1)


def test_lr_assignment_is_validated():
    opt = SGD(P(), 0.1)
    opt.lr = 0.5
    assert opt.lr_now == 0.5
    with pytest.raises(ValueError, match="'lr'"):
        opt.lr = -0.5
    opt.lr = StepLR(1.0, 2)
    assert opt.lr_now == 1.0


def test_training_loop_end_to_end(rng):
    """MLP regression: Adam + clipping + an EMA teacher; the loss drops and the teacher follows."""
    X = rng.standard_normal((64, 4))
    y = np.sin(X @ np.array([[1.0], [-2.0], [0.5], [1.5]]))
    student, teacher = net(seed=0), net(seed=0)
    opt = AdamW(student, LinearWarmupCosine(0.02, total_steps=300, warmup_steps=20), weight_decay=1e-3,
                exclude_bias_and_norm=True)
    target = FlatParams(teacher)

    def loss_of(model):
        out = model(X)[:, :1]
        return float(np.mean((out - y) ** 2))

    first = loss_of(student)
    for k in range(300):
        opt.zero_grad()
        out, ctx = student.forward(X)
        g = np.zeros_like(out)
        g[:, :1] = 2 * (out[:, :1] - y) / len(X)
        student.backward(g, ctx)
        clip_grad_norm(opt, 1.0)
        opt.step()
        ema_update(target, opt, cosine_momentum(k, 300, base=0.9))
    assert loss_of(student) < 0.2 * first
    assert loss_of(teacher) < 0.5 * first
