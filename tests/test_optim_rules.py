"""Every optimizer rule against an independent numpy transcription of its paper's update, on one
table (like optax's alias_test): values over several steps (float64 tight, float32 loose),
convergence, state_dict resume bit-exactness, thread-count bit-identity, and torch (optional)."""
import math

import numpy as np
import pytest

import pyssl
from pyssl.nn import Parameter
from pyssl.optim import (LARS, SGD, Adam, AdamW, LinearWarmupCosine, StepLR)

# ---------------------------------------------------------------------------------------------
# Independent numpy references, written from the update rules (one array per parameter).
# Each takes (params, grads, state, t, lr, decay_flags) and updates params/state in place.
# ---------------------------------------------------------------------------------------------


def sgd_ref(momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0, exclude=False):
    """torch.optim.SGD docs pseudo-code (Sutskever et al. 2013 with torch's buffer init)."""
    def step(params, grads, state, t, lr, decay):
        for i, (p, g) in enumerate(zip(params, grads)):
            lam = 0.0 if (exclude and not decay[i]) else weight_decay
            d = g + lam * p
            if momentum != 0:
                if t == 1:
                    b = d.copy()
                else:
                    b = momentum * state[i] + (1 - dampening) * d
                state[i] = b
                d = d + momentum * b if nesterov else b
            p -= lr * d
    return step


def adam_ref(betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, decoupled=False, exclude=False):
    """Kingma & Ba (2015) Algorithm 1; coupled L2 (Adam) or Loshchilov & Hutter decoupled decay."""
    b1, b2 = betas

    def step(params, grads, state, t, lr, decay):
        for i, (p, g) in enumerate(zip(params, grads)):
            lam = 0.0 if (exclude and not decay[i]) else weight_decay
            m, v = state.setdefault(i, (np.zeros_like(p), np.zeros_like(p)))
            if decoupled:
                p -= lr * lam * p
            else:
                g = g + lam * p
            m = b1 * m + (1 - b1) * g
            v = b2 * v + (1 - b2) * g * g
            m_hat = m / (1 - b1 ** t)
            v_hat = v / (1 - b2 ** t)
            p -= lr * m_hat / (np.sqrt(v_hat) + eps)
            state[i] = (m, v)
    return step


def lars_ref(momentum=0.9, weight_decay=1e-6, eta=0.001, eps=1e-8, exclude=True):
    """SimCLR lars_optimizer.py (classic momentum): per-tensor trust ratio on g + λθ."""
    def step(params, grads, state, t, lr, decay):
        for i, (p, g) in enumerate(zip(params, grads)):
            v = state.get(i, np.zeros_like(p))
            if exclude and not decay[i]:
                r = 1.0
            else:
                g = g + weight_decay * p
                wn, gn = np.linalg.norm(p), np.linalg.norm(g)
                r = eta * wn / (gn + eps) if (wn > 0 and gn > 0) else 1.0
            v = momentum * v + lr * r * g
            p -= v
            state[i] = v
    return step


# name, factory(params, lr) -> optimizer, reference, lr (float or schedule), convergence (lr, steps)
SCHED = LinearWarmupCosine(0.05, total_steps=8, warmup_steps=2, final_lr=0.01)
TABLE = [
    ("sgd", lambda ps, lr: SGD(ps, lr), sgd_ref(), 0.1),
    ("sgd_momentum", lambda ps, lr: SGD(ps, lr, momentum=0.9), sgd_ref(momentum=0.9), 0.05),
    ("sgd_momentum_dampening_wd", lambda ps, lr: SGD(ps, lr, momentum=0.8, dampening=0.3, weight_decay=0.1),
     sgd_ref(momentum=0.8, dampening=0.3, weight_decay=0.1), SCHED),
    ("sgd_nesterov_wd", lambda ps, lr: SGD(ps, lr, momentum=0.9, nesterov=True, weight_decay=0.05),
     sgd_ref(momentum=0.9, nesterov=True, weight_decay=0.05), 0.05),
    ("sgd_wd_exclude", lambda ps, lr: SGD(ps, lr, momentum=0.5, weight_decay=0.3, exclude_bias_and_norm=True),
     sgd_ref(momentum=0.5, weight_decay=0.3, exclude=True), 0.05),
    ("adam", lambda ps, lr: Adam(ps, lr), adam_ref(), 0.01),
    ("adam_l2", lambda ps, lr: Adam(ps, lr, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1),
     adam_ref(betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1), SCHED),
    ("adamw", lambda ps, lr: AdamW(ps, lr), adam_ref(weight_decay=1e-2, decoupled=True), 0.01),
    ("adamw_exclude", lambda ps, lr: AdamW(ps, lr, weight_decay=0.3, exclude_bias_and_norm=True),
     adam_ref(weight_decay=0.3, decoupled=True, exclude=True), SCHED),
    ("lars", lambda ps, lr: LARS(ps, lr), lars_ref(), 0.5),
    ("lars_no_exclusion_eps0", lambda ps, lr: LARS(ps, lr, momentum=0.8, weight_decay=1e-3, trust_coefficient=0.02,
                                                   eps=0.0, exclude_bias_and_norm=False),
     lars_ref(momentum=0.8, weight_decay=1e-3, eta=0.02, eps=0.0, exclude=False), SCHED),
]
IDS = [t[0] for t in TABLE]

SHAPES = [((5, 4), True), ((4,), False), ((3, 2, 2), True), ((1,), False), ((6,), True)]


def make_params(dtype, seed=0, zero_weight=True):
    rng = np.random.default_rng(seed)
    ps = [Parameter(rng.standard_normal(s).astype(dtype), decay=d) for s, d in SHAPES]
    if zero_weight:  # LARS: ‖θ‖ = 0 gives trust ratio 1
        ps[4].data[...] = 0
    return ps


def grads_for(step, dtype, seed=1):
    rng = np.random.default_rng(seed * 1000 + step)
    return [rng.standard_normal(s).astype(dtype) for s, _ in SHAPES]


def lr_at(lr, k):
    return lr(k) if callable(lr) else lr


def run_pyssl(factory, lr, dtype, steps, params=None):
    params = params if params is not None else make_params(dtype)
    opt = factory(params, lr)
    for k in range(steps):
        opt.zero_grad()
        for p, g in zip(params, grads_for(k, dtype)):
            p.grad += g
        opt.step()
    return params, opt


def run_ref(ref, lr, steps):
    params = [p.data.astype(np.float64) for p in make_params(np.float64)]
    decay = [d for _, d in SHAPES]
    state = {}
    for k in range(steps):
        ref(params, grads_for(k, np.float64), state, k + 1, lr_at(lr, k), decay)
    return params


@pytest.mark.parametrize("name,factory,ref,lr", TABLE, ids=IDS)
def test_matches_numpy_reference_float64(name, factory, ref, lr):
    params, opt = run_pyssl(factory, lr, np.float64, 6)
    expected = run_ref(ref, lr, 6)
    assert opt.step_count == 6
    for i, (p, e) in enumerate(zip(params, expected)):
        np.testing.assert_allclose(p.data, e, rtol=1e-12, atol=1e-14, err_msg=f"{name}: parameter {i}")


@pytest.mark.parametrize("name,factory,ref,lr", TABLE, ids=IDS)
def test_matches_numpy_reference_float32(name, factory, ref, lr):
    params, _ = run_pyssl(factory, lr, np.float32, 6)
    expected = run_ref(ref, lr, 6)
    for i, (p, e) in enumerate(zip(params, expected)):
        assert p.data.dtype == np.float32
        np.testing.assert_allclose(p.data, e, rtol=2e-5, atol=2e-5, err_msg=f"{name}: parameter {i}")


def test_reference_changes_parameters():
    """Guard against a vacuous table: every rule must move the parameters."""
    for name, factory, ref, lr in TABLE:
        before = make_params(np.float64)
        after, _ = run_pyssl(factory, lr, np.float64, 2)
        assert any(not np.allclose(a.data, b.data) for a, b in zip(after, before)), name


def test_sgd_first_step_buffer_is_gradient():
    p = Parameter(np.array([1.0, -2.0]))
    opt = SGD([p], 0.1, momentum=0.9, dampening=0.5)
    p.grad[...] = [1.0, 2.0]
    opt.step()
    np.testing.assert_array_equal(opt.state["momentum_buffer"], [1.0, 2.0])  # not (1 - τ) g
    np.testing.assert_allclose(p.data, [0.9, -2.2])
    opt.step()  # b = 0.9 b + 0.5 g
    np.testing.assert_allclose(opt.state["momentum_buffer"], [1.4, 2.8])


def test_adam_first_step_is_sign_times_lr():
    """Bias correction: the first Adam step is α g/(|g| + ε') ≈ α sign(g)."""
    p = Parameter(np.array([1.0, 1.0, 1.0]))
    opt = Adam([p], lr=0.1, eps=1e-12)
    p.grad[...] = [3.0, -0.5, 1e-3]
    opt.step()
    np.testing.assert_allclose(p.data, [0.9, 1.1, 0.9], rtol=1e-9)


def test_adamw_decay_is_decoupled():
    """Zero gradient: Adam (L2) still moves by ~α·sign(θ); AdamW shrinks θ by exactly (1 − αλ)."""
    pa, pw = Parameter(np.array([2.0, -4.0])), Parameter(np.array([2.0, -4.0]))
    Adam([pa], lr=0.1, weight_decay=0.5).step()
    AdamW([pw], lr=0.1, weight_decay=0.5).step()
    np.testing.assert_allclose(pw.data, [2.0 * 0.95, -4.0 * 0.95], rtol=1e-15)
    np.testing.assert_allclose(pa.data, [1.9, -3.9], rtol=1e-7)


def test_lars_excludes_bias_and_norm():
    rng = np.random.default_rng(3)
    w = Parameter(rng.standard_normal((4, 3)))
    b = Parameter(rng.standard_normal(3), decay=False)
    b0 = b.data.copy()
    opt = LARS([w, b], lr=0.5, momentum=0.9, weight_decay=0.1, trust_coefficient=0.01)
    gw, gb = rng.standard_normal((4, 3)), rng.standard_normal(3)
    w.grad[...], b.grad[...] = gw, gb
    w0 = w.data.copy()
    opt.step()
    # bias: neither decay nor adaptation: θ − α g
    np.testing.assert_allclose(b.data, b0 - 0.5 * gb, rtol=1e-14)
    g = gw + 0.1 * w0
    r = 0.01 * np.linalg.norm(w0) / (np.linalg.norm(g) + 1e-8)
    np.testing.assert_allclose(opt.trust_ratios, [r, 1.0], rtol=1e-13)
    np.testing.assert_allclose(w.data, w0 - 0.5 * r * g, rtol=1e-13)
    # without exclusion the bias is adapted too
    b2 = Parameter(b0.copy(), decay=False)
    opt2 = LARS([b2], lr=0.5, weight_decay=0.1, trust_coefficient=0.01, exclude_bias_and_norm=False)
    b2.grad[...] = gb
    opt2.step()
    assert opt2.trust_ratios[0] != 1.0


def test_lars_zero_norms_give_unit_ratio():
    w = Parameter(np.zeros(5))
    v = Parameter(np.ones(5))
    opt = LARS([w, v], lr=0.1, weight_decay=0.0)
    w.grad[...] = 1.0  # ‖θ‖ = 0
    opt.step()  # v has ‖g‖ = 0
    np.testing.assert_array_equal(opt.trust_ratios, [1.0, 1.0])
    np.testing.assert_allclose(w.data, -0.1)
    np.testing.assert_array_equal(v.data, 1.0)


# --- convergence (optax alias_test: parabola and Rosenbrock) ------------------------------------

CONVERGE = {  # name -> (lr, steps) on the parabola, (lr, steps) on Rosenbrock
    "sgd": ((0.1, 300), (1e-3, 20000)),
    "sgd_momentum": ((0.05, 300), (2e-4, 20000)),
    "sgd_nesterov_wd": ((0.05, 300), (2e-4, 20000)),
    "adam": ((0.05, 1000), (0.01, 5000)),
    "adamw": ((0.05, 1000), (0.01, 5000)),
    "lars": ((None, 3000), (None, 20000)),
}
CONV_FACTORY = {
    "sgd": lambda ps, lr: SGD(ps, lr),
    "sgd_momentum": lambda ps, lr: SGD(ps, lr, momentum=0.9),
    "sgd_nesterov_wd": lambda ps, lr: SGD(ps, lr, momentum=0.9, nesterov=True),
    "adam": lambda ps, lr: Adam(ps, lr),
    "adamw": lambda ps, lr: AdamW(ps, lr, weight_decay=0.0),
    "lars": lambda ps, lr: LARS(ps, lr, momentum=0.9, weight_decay=0.0, trust_coefficient=1.0),
}


def _minimise(name, fun_grad, x0, lr, steps):
    p = Parameter(np.array(x0, dtype=np.float64))
    if lr is None:  # LARS: normalised steps need a decaying lr
        lr = LinearWarmupCosine(0.05, total_steps=steps, final_lr=0.0)
    opt = CONV_FACTORY[name]([p], lr)
    for _ in range(steps):
        opt.zero_grad()
        p.grad += fun_grad(p.data)[1]
        opt.step()
    return p.data, fun_grad(p.data)[0]


@pytest.mark.parametrize("name", list(CONVERGE))
def test_converges_on_parabola(name):
    target = np.array([1.0, -2.0, 0.5])
    scale = np.array([1.0, 2.0, 0.5])

    def fg(x):
        return 0.5 * np.sum(scale * (x - target) ** 2), scale * (x - target)

    (lr, steps), _ = CONVERGE[name]
    x, f = _minimise(name, fg, [3.0, 3.0, -3.0], lr, steps)
    np.testing.assert_allclose(x, target, atol=1e-2)


@pytest.mark.parametrize("name", list(CONVERGE))
def test_converges_on_rosenbrock(name):
    def fg(x):
        a, b = x
        f = (1 - a) ** 2 + 100 * (b - a * a) ** 2
        return f, np.array([-2 * (1 - a) - 400 * a * (b - a * a), 200 * (b - a * a)])

    _, (lr, steps) = CONVERGE[name]
    x, f = _minimise(name, fg, [-1.0, 1.5], lr, steps)
    assert f < 1e-2, (name, x, f)


# --- resume bit-exactly ---------------------------------------------------------------------------

@pytest.mark.parametrize("name,factory,ref,lr", TABLE, ids=IDS)
def test_state_dict_resume_is_bit_exact(name, factory, ref, lr):
    full, _ = run_pyssl(factory, lr, np.float32, 8)

    params = make_params(np.float32)
    opt = factory(params, lr)
    for k in range(4):
        opt.zero_grad()
        for p, g in zip(params, grads_for(k, np.float32)):
            p.grad += g
        opt.step()
    saved_params = [p.data.copy() for p in params]
    sd = opt.state_dict()

    # a fresh run: new parameters with the saved values, new optimizer with other hyperparameters
    params2 = [Parameter(v.copy(), decay=d) for v, (_, d) in zip(saved_params, SHAPES)]
    opt2 = factory(params2, 123.0 if not callable(lr) else lr)
    opt2.load_state_dict(sd)
    assert opt2.step_count == 4 and opt2.hyperparameters() == opt.hyperparameters()
    for k in range(4, 8):
        opt2.zero_grad()
        for p, g in zip(params2, grads_for(k, np.float32)):
            p.grad += g
        opt2.step()
    for a, b in zip(full, params2):
        np.testing.assert_array_equal(a.data, b.data)


def test_save_load_file_resume(tmp_path):
    sched = LinearWarmupCosine(0.01, total_steps=10, warmup_steps=3)
    full, _ = run_pyssl(lambda ps, lr: AdamW(ps, lr, weight_decay=0.1), sched, np.float32, 6)
    params = make_params(np.float32)
    opt = AdamW(params, sched, weight_decay=0.1)
    for k in range(3):
        opt.zero_grad()
        for p, g in zip(params, grads_for(k, np.float32)):
            p.grad += g
        opt.step()
    opt.save(tmp_path / "opt.npz")
    params2 = [Parameter(p.data.copy(), decay=p.decay) for p in params]
    opt2 = AdamW(params2, 0.5)  # lr schedule comes back from the file
    opt2.load(tmp_path / "opt.npz")
    assert opt2.lr == sched and opt2.step_count == 3 and opt2.weight_decay == 0.1
    for k in range(3, 6):
        opt2.zero_grad()
        for p, g in zip(params2, grads_for(k, np.float32)):
            p.grad += g
        opt2.step()
    for a, b in zip(full, params2):
        np.testing.assert_array_equal(a.data, b.data)


def test_load_state_dict_rejects_mismatch():
    opt = Adam(make_params(np.float32), 0.1)
    sd = opt.state_dict()
    with pytest.raises(ValueError, match="saved by 'Adam'"):
        SGD(make_params(np.float32), 0.1).load_state_dict(sd)
    with pytest.raises(ValueError, match="layout mismatch"):
        Adam([Parameter(np.zeros(3, np.float32))], 0.1).load_state_dict(sd)
    with pytest.raises(ValueError, match="exp_avg"):
        Adam(make_params(np.float64), 0.1).load_state_dict(sd)
    bad = dict(sd, version=99)
    with pytest.raises(ValueError, match="newer"):
        Adam(make_params(np.float32), 0.1).load_state_dict(bad)
    with pytest.raises(ValueError, match="format"):
        Adam(make_params(np.float32), 0.1).load_state_dict({"step_count": 3})


# --- threads ----------------------------------------------------------------------------------

BIG_SHAPES = [((200, 150), True), ((150,), False), ((40001,), True), ((17,), False), ((29, 1013), True)]


def _big_run(factory, threads, steps=3):
    pyssl.set_num_threads(threads)
    rng = np.random.default_rng(7)
    params = [Parameter(rng.standard_normal(s).astype(np.float32), decay=d) for s, d in BIG_SHAPES]
    opt = factory(params)
    for k in range(steps):
        g = np.random.default_rng(100 + k)
        for p in params:
            p.grad[...] = g.standard_normal(p.data.shape).astype(np.float32)
        opt.step()
    return np.concatenate([p.data.ravel() for p in params]), opt


@pytest.mark.parametrize("factory", [lambda ps: LARS(ps, 0.3, weight_decay=1e-4, trust_coefficient=0.01),
                                     lambda ps: LARS(ps, 0.3, exclude_bias_and_norm=False),
                                     lambda ps: AdamW(ps, 0.01), lambda ps: SGD(ps, 0.1, momentum=0.9)],
                         ids=["lars", "lars_all", "adamw", "sgd"])
def test_one_vs_two_threads_bit_identical(factory, threads):
    a, opt1 = _big_run(factory, 1)
    b, opt2 = _big_run(factory, 2)
    assert opt1.flat.layout.num_blocks > 4  # the reduction really is split in blocks
    np.testing.assert_array_equal(a, b)
    if isinstance(opt1, LARS):
        np.testing.assert_array_equal(opt1.trust_ratios, opt2.trust_ratios)


# --- torch oracle (optional) ------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["sgd", "sgd_nesterov", "sgd_damp", "adam", "adam_l2", "adamw"])
def test_matches_torch(kind):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(11)
    shapes = [(4, 3), (3,), (2, 2, 2)]
    init = [rng.standard_normal(s) for s in shapes]
    grads = [[rng.standard_normal(s) for s in shapes] for _ in range(6)]
    ours = [Parameter(v.copy()) for v in init]
    theirs = [torch.tensor(v.copy(), requires_grad=True) for v in init]
    make = {
        "sgd": (lambda ps: SGD(ps, 0.1, momentum=0.9, weight_decay=0.01),
                lambda ts: torch.optim.SGD(ts, lr=0.1, momentum=0.9, weight_decay=0.01)),
        "sgd_nesterov": (lambda ps: SGD(ps, 0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
                         lambda ts: torch.optim.SGD(ts, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
        "sgd_damp": (lambda ps: SGD(ps, 0.1, momentum=0.7, dampening=0.4),
                     lambda ts: torch.optim.SGD(ts, lr=0.1, momentum=0.7, dampening=0.4)),
        "adam": (lambda ps: Adam(ps, 0.01), lambda ts: torch.optim.Adam(ts, lr=0.01, foreach=False)),
        "adam_l2": (lambda ps: Adam(ps, 0.01, betas=(0.8, 0.95), weight_decay=0.1),
                    lambda ts: torch.optim.Adam(ts, lr=0.01, betas=(0.8, 0.95), weight_decay=0.1, foreach=False)),
        "adamw": (lambda ps: AdamW(ps, 0.01, weight_decay=0.2),
                  lambda ts: torch.optim.AdamW(ts, lr=0.01, weight_decay=0.2, foreach=False)),
    }[kind]
    opt, topt = make[0](ours), make[1](theirs)
    for gs in grads:
        opt.zero_grad()
        topt.zero_grad()
        for p, t, g in zip(ours, theirs, gs):
            p.grad += g
            t.grad = torch.tensor(g)
        opt.step()
        topt.step()
    for p, t in zip(ours, theirs):
        np.testing.assert_allclose(p.data, t.detach().numpy(), rtol=1e-12, atol=1e-14)


def test_schedule_drives_the_step():
    """lr(k) is used at step k (0-based): with StepLR the step sizes follow the schedule."""
    p = Parameter(np.zeros(1))
    opt = SGD([p], StepLR(1.0, step_size=2, gamma=0.5))
    seen = []
    for _ in range(5):
        seen.append(opt.lr_now)
        p.grad[...] = -1.0
        before = p.data.copy()
        opt.step()
        assert math.isclose(float(p.data[0] - before[0]), seen[-1])
    assert seen == [1.0, 1.0, 0.5, 0.5, 0.25]


# --- hypothesis: random layouts and hyperparameters, float64 vs the references ---------------------

from hypothesis import given, settings, strategies as st  # noqa: E402


@settings(max_examples=20)
@given(sizes=st.lists(st.tuples(st.integers(0, 40), st.booleans()), min_size=1, max_size=6),
       lr=st.floats(1e-4, 1.0), mu=st.floats(0.0, 0.99), wd=st.floats(0.0, 0.5), seed=st.integers(0, 2**31 - 1),
       kind=st.sampled_from(["sgd", "nesterov", "adam", "adamw", "lars"]))
def test_random_layouts_match_reference(sizes, lr, mu, wd, seed, kind):
    rng = np.random.default_rng(seed)
    init = [rng.standard_normal(n) for n, _ in sizes]
    decay = [d for _, d in sizes]
    params = [Parameter(v.copy(), decay=d) for v, d in zip(init, decay)]
    if kind == "nesterov" and mu == 0:
        mu = 0.5
    opt, ref = {
        "sgd": (lambda: SGD(params, lr, momentum=mu, weight_decay=wd), sgd_ref(mu, 0.0, False, wd)),
        "nesterov": (lambda: SGD(params, lr, momentum=mu, nesterov=True, weight_decay=wd),
                     sgd_ref(mu, 0.0, True, wd)),
        "adam": (lambda: Adam(params, lr, betas=(mu, 0.999), weight_decay=wd), adam_ref((mu, 0.999), 1e-8, wd)),
        "adamw": (lambda: AdamW(params, lr, betas=(mu, 0.999), weight_decay=wd, exclude_bias_and_norm=True),
                  adam_ref((mu, 0.999), 1e-8, wd, decoupled=True, exclude=True)),
        "lars": (lambda: LARS(params, lr, momentum=mu, weight_decay=wd, trust_coefficient=0.05),
                 lars_ref(mu, wd, 0.05, 1e-8, True)),
    }[kind]
    opt = opt()
    expected = [v.copy() for v in init]
    state = {}
    for t in range(1, 4):
        grads = [rng.standard_normal(v.shape) for v in init]
        for p, g in zip(params, grads):
            p.grad[...] = g
        opt.step()
        ref(expected, grads, state, t, lr, decay)
    for p, e in zip(params, expected):
        np.testing.assert_allclose(p.data, e, rtol=1e-11, atol=1e-13)
