"""Reliability: no silent non-finite result, clear errors for bad input, checkpoints checked on
load, and every object a user builds survives pickle / deepcopy (and, for estimators,
scikit-learn's clone) and keeps training bit for bit."""
import copy
import json
import math
import os
import pickle

import numpy as np
import pytest
from hypothesis import given, strategies as st

import pyssl
from pyssl import losses, methods, nn, optim, pretext, pretrain
from pyssl.data import load_array
from pyssl.nn.checkpoint import load_state, save_state
from pyssl.transfer import KNN, FineTune, LinearProbe, sample_labels


def _finite(*arrays):
    return all(np.isfinite(np.asarray(a)).all() for a in arrays)


# -- non-finite parameters after an optimizer step ------------------------------------------------

OPTIMIZERS = {
    "sgd": lambda ps: optim.SGD(ps, lr=0.1),
    "sgd_momentum": lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9),
    "sgd_nesterov": lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True),
    "adam": lambda ps: optim.Adam(ps, lr=0.1),
    "adamw": lambda ps: optim.AdamW(ps, lr=0.1, weight_decay=0.01),
    "lars": lambda ps: optim.LARS(ps, lr=0.1, momentum=0.9),
}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_optimizer_step_reports_non_finite_parameters(name, dtype, bad, rng):
    # 3 parameters, the middle one spans several kernel blocks (so several threads may run)
    ps = [nn.Parameter(rng.standard_normal(s).astype(dtype)) for s in [(3,), (5, pyssl._core.optim.BLOCK_SIZE), (4,)]]
    opt = OPTIMIZERS[name](ps)
    for p in ps:
        p.grad[...] = rng.standard_normal(p.shape)
    opt.step()
    assert opt.last_step_finite
    opt.check_finite()  # no error
    for _ in range(2):  # a second step exercises the momentum paths
        ps[1].grad[...] = rng.standard_normal(ps[1].shape)
        ps[1].grad[3, 70000 % ps[1].shape[1]] = bad
        opt.step()
        assert not opt.last_step_finite
    with pytest.raises(pyssl.NonFiniteError, match=r"1 of 3 parameters NaN or Inf .*1 \(5, ") as err:
        opt.check_finite("at step 7")
    assert isinstance(err.value, FloatingPointError) and isinstance(err.value, ValueError)


def test_custom_rule_without_report_is_checked():
    class Halve(optim.Optimizer):
        def _update(self, lr):  # returns None: the base class checks the buffer itself
            self.flat.data *= 0.5 if lr < 1 else np.inf

    p = nn.Parameter(np.ones(3, np.float32))
    opt = Halve([p], lr=0.1)
    opt.step()
    assert opt.last_step_finite
    opt.lr = 2.0
    opt.step()
    with pytest.raises(FloatingPointError, match="NaN or Inf"):
        opt.check_finite()


def test_pretrain_raises_when_the_last_update_diverges(rng):
    # one step per run: the loss before the update is finite, the update overflows float32
    X = rng.standard_normal((8, 5)).astype(np.float32)
    m = methods.SimCLR(nn.MLP([5, 6]))
    m.setup(X)
    opt = optim.SGD(m.parameters(), lr=1e30, weight_decay=1e30)  # lr·λ·θ overflows
    with pytest.raises(FloatingPointError, match=r"epoch 0, step 0.*lower the learning rate"):
        pretrain(m, X, epochs=1, batch_size=8, optimizer=opt, progress=False)


def test_pretrain_vicreg_conv_sgd_momentum_never_returns_non_finite(rng):
    X = rng.standard_normal((31, 1, 7, 7)).astype(np.float32)
    for epochs in (1, 2, 3):
        m = methods.VICReg(nn.ConvEncoder2d(1, channels=(4,), seed=0))
        m.setup(X)
        opt = optim.SGD(m.parameters(), lr=0.05, momentum=0.9)
        try:
            pretrain(m, X, epochs=epochs, batch_size=2, optimizer=opt, drop_last=False, progress=False)
        except (FloatingPointError, ValueError) as exc:  # a diverged loss, or parameters after the update
            assert "learning rate" in str(exc)
            continue
        assert all(np.isfinite(p.data).all() for p in m.parameters())


# -- tiny temperatures and blur widths --------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("t", [1e-12, 1e-30, 1e-6])
def test_losses_finite_at_tiny_temperatures(dtype, t, rng):
    z1 = rng.standard_normal((8, 5)).astype(dtype)
    z2 = rng.standard_normal((8, 5)).astype(dtype)
    queue = rng.standard_normal((6, 5)).astype(dtype)
    labels = np.arange(8) % 3
    s = rng.standard_normal((2, 8, 4)).astype(dtype)
    out = [losses.nt_xent(z1, z2, temperature=t), losses.info_nce(z1, z2, queue, temperature=t),
           losses.sup_con(z1, labels, temperature=t), losses.swav(z1, z2, temperature=t),
           losses.dino(s, s[:1], np.zeros(4, dtype), student_temp=t, teacher_temp=t),
           losses.DINOLoss(4, student_temp=t, teacher_temp=t)(s, s[:1])]
    for res in out:
        assert _finite(*res), res


def test_nt_xent_identical_rows_tiny_temperature_is_log_of_negatives():
    # the max entry of each row is now exactly exp(0): collapsed embeddings give log(2N − 1)
    z = np.ones((4, 3), np.float64)
    loss, dz1, dz2 = losses.nt_xent(z, z, temperature=1e-12)
    assert loss == pytest.approx(math.log(7), rel=1e-9)
    assert _finite(dz1, dz2)


@pytest.mark.parametrize("sigma", [(1e-200, 1e-200), (1e-300, 1e-160)])
def test_gaussian_blur_vanishing_sigma_is_identity(sigma, rng):
    img = rng.standard_normal((3, 2, 6, 5)).astype(np.float32)
    out, sig = pretext.gaussian_blur(img, 0, kernel_size=3, sigma=sigma)
    np.testing.assert_array_equal(out, img)


def test_knn_regression_small_temperature_is_the_stable_weighted_mean(rng):
    X = rng.standard_normal((30, 4)).astype(np.float32)
    y = rng.standard_normal(30)
    knn = KNN(nn.Identity(), k=5, task="regression", temperature=0.001).fit(X, y)
    pred = knn.predict(X[:7])
    assert _finite(pred)
    # reference: max-shifted softmax weights over the 5 most similar training rows (float64)
    bank = X / np.linalg.norm(X, axis=1, keepdims=True)
    sims = (bank[:7] @ bank.T).astype(np.float32).astype(np.float64)
    for i in range(7):
        top = np.argsort(-sims[i], kind="stable")[:5]
        w = np.exp((sims[i, top] - sims[i, top].max()) / 0.001)
        assert pred[i] == pytest.approx(np.sum(w * y[top]) / np.sum(w), rel=1e-4, abs=1e-6)


# -- data files and label sampling -------------------------------------------------------------------

def test_load_array_checks_rows_labels_and_overflow(tmp_path):
    p = tmp_path / "d.npz"
    np.savez(p, X=np.zeros((4, 2)), y=np.arange(6))
    with pytest.raises(ValueError, match=r"one label per sample \(4\)"):
        load_array(p)
    np.savez(p, X=np.zeros((3, 2)), y=np.array([0.0, np.nan, 1.0]))
    with pytest.raises(ValueError, match=r"missing \(NaN\).*rows \[1\]"):
        load_array(p)
    np.save(tmp_path / "big.npy", np.full((2, 2), 1e300))
    with pytest.raises(ValueError, match="overflow"):
        load_array(tmp_path / "big.npy")
    np.savez(p, X=np.ones((3, 2)), y=np.array([0, 1, 1]))
    X, y = load_array(p)
    assert X.dtype == np.float32 and X.shape == (3, 2) and y.tolist() == [0, 1, 1]


def test_load_array_wraps_unreadable_numpy_files(tmp_path):
    (tmp_path / "empty.npy").write_bytes(b"")
    with pytest.raises(ValueError, match="empty.npy"):
        load_array(tmp_path / "empty.npy")
    good = tmp_path / "good.npz"
    np.savez(good, X=np.ones((3, 2)))
    (tmp_path / "bad.npz").write_bytes(good.read_bytes()[:40])
    with pytest.raises(ValueError, match="bad.npz"):
        load_array(tmp_path / "bad.npz")


@pytest.mark.parametrize("y, exc, match", [([[1, 2]], ValueError, "1-D"), (5, ValueError, "1-D"),
                                           ([], ValueError, "empty"), ([0.0, np.nan], ValueError, "NaN")])
def test_sample_labels_rejects_bad_labels(y, exc, match):
    with pytest.raises(exc, match=match):
        sample_labels(y, 0.5)


@given(st.lists(st.integers(0, 4), min_size=1, max_size=40), st.floats(0.01, 1.0), st.booleans())
def test_sample_labels_indices_in_range(y, fraction, classification):
    idx = sample_labels(y, fraction, classification=classification)
    assert idx.size >= 1 and np.all((0 <= idx) & (idx < len(y))) and np.all(np.diff(idx) > 0)


# -- MoCo queue: checkpoint shapes and batches larger than the queue ---------------------------------

def test_moco_checkpoint_with_other_queue_size_is_refused(rng, tmp_path):
    X = rng.standard_normal((8, 5)).astype(np.float32)
    small = methods.MoCo(nn.MLP([5, 6]), queue_size=1)
    small.setup(X)
    big = methods.MoCo(nn.MLP([5, 6]), queue_size=32)
    with pytest.warns(UserWarning, match="queue_size=32 is larger than the 8 training samples"):
        big.setup(X)
    before = big.queue.copy()
    with pytest.raises(ValueError, match=r"'queue' has shape \(1, 128\).*\(32, 128\).*queue_size"):
        big.load_state_dict(small.state_dict())
    np.testing.assert_array_equal(big.queue, before)  # nothing was copied


@pytest.mark.parametrize("n, size, ptr", [(6, 4, 1), (4, 4, 3), (3, 8, 6), (9, 2, 0)])
def test_moco_queue_is_a_ring_buffer(n, size, ptr, rng):
    m = methods.MoCo(nn.MLP([5, 6]), queue_size=size)
    m.setup(rng.standard_normal((8, 5)).astype(np.float32))
    ref = m.queue.copy()
    keys = rng.standard_normal((n, ref.shape[1])).astype(np.float32)
    for j in range(n):  # enqueue one by one
        ref[(ptr + j) % size] = keys[j]
    m.queue_ptr[0] = ptr
    m._keys = keys
    m.on_step_end(0, 10)
    np.testing.assert_array_equal(m.queue, ref)
    assert m.queue_ptr[0] == (ptr + n) % size


def test_moco_queue_smaller_than_batch_trains(rng):
    X = rng.standard_normal((16, 5)).astype(np.float32)
    m = methods.MoCo(nn.MLP([5, 6]), queue_size=3)
    h = pretrain(m, X, epochs=2, batch_size=8, progress=False)
    assert _finite(h["loss"])


# -- dtype equivalence in the bindings -----------------------------------------------------------------

def test_unpickled_int64_arrays_are_accepted(rng):
    img = rng.standard_normal((2, 1, 4, 4)).astype(np.float32)
    k = pickle.loads(pickle.dumps(np.array([0, 1])))
    np.testing.assert_array_equal(pretext.rotate90(img, k), pretext.rotate90(img, np.array([0, 1])))
    f = pickle.loads(pickle.dumps(np.array([1, 0])))
    np.testing.assert_array_equal(pretext.hflip(img, f), pretext.hflip(img, np.array([1, 0])))
    z = rng.standard_normal((6, 3)).astype(np.float32)
    labels = pickle.loads(pickle.dumps(np.array([0, 0, 1, 1, 2, 2])))
    assert losses.sup_con(z, labels)[0] == losses.sup_con(z, np.array([0, 0, 1, 1, 2, 2]))[0]


# -- transfer ------------------------------------------------------------------------------------------

def test_linear_probe_regression_has_no_class_scores(rng):
    X = rng.standard_normal((20, 4)).astype(np.float32)
    probe = LinearProbe(nn.Identity()).fit(X, rng.standard_normal(20))
    for f in (probe.decision_function, probe.predict_proba):
        with pytest.raises(ValueError, match="classification"):
            f(X)
    assert _finite(probe.predict(X))


# -- checkpoints -----------------------------------------------------------------------------------------

def test_save_state_refuses_object_arrays(tmp_path):
    p = tmp_path / "o.npz"
    with pytest.raises(TypeError, match=r"'w' has dtype object"):
        save_state(p, {"w": np.zeros(2, dtype=object)})
    assert not p.exists() and not list(tmp_path.iterdir())


def _write_header(path, header: bytes):
    np.savez(path, w=np.zeros(2), __pyssl_meta__=np.frombuffer(header, dtype=np.uint8))


@pytest.mark.parametrize("header", [
    {"format": "pyssl-checkpoint", "format_version": "2", "meta": {}},
    {"format": "pyssl-checkpoint", "format_version": None, "meta": {}},
    {"format": "pyssl-checkpoint", "format_version": 1.5, "meta": {}},
    {"format": "pyssl-checkpoint", "format_version": 1, "meta": [1]},
    ["pyssl-checkpoint", 1], "just a string", b"\xff\xfe\x00", b"not json {",
])
def test_malformed_checkpoint_headers_raise_one_clear_error(header, tmp_path):
    p = tmp_path / "c.npz"
    _write_header(p, header if isinstance(header, bytes) else json.dumps(header).encode())
    with pytest.raises(ValueError, match="c.npz"):
        load_state(p)


def test_checkpoint_round_trip_still_loads(tmp_path):
    p = tmp_path / "ok.npz"
    save_state(p, {"w": np.arange(3.0), "s": np.array(["a", "b"])}, meta={"k": 1})
    arrays, meta = load_state(p)
    assert arrays["w"].tolist() == [0.0, 1.0, 2.0] and meta == {"k": 1}


# -- layer inputs and arguments -----------------------------------------------------------------------

# (every registered layer takes nested lists like arrays: tests/contracts/test_contract_layers.py)


def test_layers_take_big_endian_input_as_native():
    x = np.array([[1.0, -2.0], [0.5, 3.0]])
    np.testing.assert_array_equal(nn.ReLU()(x.astype(">f8")), nn.ReLU()(x))
    lin = nn.Linear(2, 3, seed=0)
    np.testing.assert_array_equal(lin(x.astype(np.float32).astype(">f4")), lin(x.astype(np.float32)))


@pytest.mark.parametrize("layer", [nn.GlobalAvgPool(), nn.Flatten()])
def test_pool_and_flatten_check_shapes(layer):
    for bad in (np.ones(3, np.float32), [1.0], np.ones((0,), np.float32)):
        with pytest.raises(ValueError, match="at least 2-D"):
            layer(bad)
    assert layer(np.ones((0, 3, 2), np.float32)).shape[0] == 0


def test_integer_range_errors():
    with pytest.raises(ValueError, match="n must be <= 1024"):
        pyssl.set_num_threads(2**31)
    z = np.ones((4, 3), np.float32)
    with pytest.raises(ValueError, match="'temperature'.*float range"):
        losses.nt_xent(z, z, temperature=10**400)


@pytest.mark.parametrize("call, exc, match", [
    (lambda: nn.Conv2d(1, 2, None), TypeError, "kernel_size"),
    (lambda: nn.Conv2d(1, 2, (3, 3, 3)), ValueError, "kernel_size"),
    (lambda: nn.ConvEncoder2d(1, channels=()), ValueError, "channels"),
    (lambda: nn.ConvEncoder1d(1, channels=(4, 0)), ValueError, "channels"),
    (lambda: nn.MLP([3, 2]).transform(np.ones((2, 3)), batch_size=0), ValueError, "batch_size"),
    (lambda: nn.MLP([3, 2]).transform(np.ones((2, 3)), batch_size=None), TypeError, "batch_size"),
    (lambda: losses.negative_cosine(np.ones((2, 3)), np.ones((2, 3)), form=["byol"]), ValueError, "form"),
    (lambda: losses.barlow_twins(np.ones((2, 3)), np.ones((2, 3)), scale=None), TypeError, "scale"),
    (lambda: losses.barlow_twins(np.ones((2, 3)), np.ones((2, 3)), scale="2"), TypeError, "scale"),
    (lambda: pretext.Compose(None), TypeError, "transforms"),
    (lambda: nn.Parameter([[1.0, 2.0], [3.0]]), TypeError, "rectangular"),
    (lambda: pretext.jigsaw_permutation_set(grid=3000, count=2, pool=1), ValueError, "count"),
    (lambda: pretext.jigsaw_permutation_set(grid=1000, count=2), ValueError, "lower grid or pool"),
])
def test_argument_errors_name_the_argument(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_ssl_embedding_arguments():
    pytest.importorskip("sklearn")
    from pyssl.sklearn import SSLEmbedding

    X = np.random.default_rng(0).standard_normal((12, 4))
    with pytest.raises(TypeError, match="method"):
        SSLEmbedding(hidden=(8,), method=1).fit(X)
    with pytest.raises(ValueError, match="hidden"):
        SSLEmbedding(hidden=()).fit(X)
    with pytest.raises(TypeError, match=r"hidden=\(3,\)"):
        SSLEmbedding(hidden=3).fit(X)
    assert SSLEmbedding(hidden=(3,), epochs=1, batch_size=12).fit(X).transform(X).shape == (12, 3)


def test_big_endian_float64_keeps_float64_in_losses_and_pretext(rng):
    z1, z2 = rng.standard_normal((6, 3)), rng.standard_normal((6, 3))
    native = losses.nt_xent(z1, z2)
    swapped = losses.nt_xent(z1.astype(">f8"), z2.astype(">f8"))
    assert swapped[0] == native[0] and swapped[1].dtype == np.float64
    x = rng.standard_normal((4, 5))
    a = pretext.gaussian_noise(x.astype(">f8"), 0.1, 3)
    assert a.dtype == np.float64
    np.testing.assert_array_equal(a, pretext.gaussian_noise(x, 0.1, 3))


# -- pickling, deep copies and clones -------------------------------------------------------------------

def _copies(obj):
    return [pickle.loads(pickle.dumps(obj)), copy.deepcopy(obj)]


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_optimizer_and_model_copy_keep_training_bit_identically(name, rng):
    model = nn.MLP([4, 8, 3], seed=0)
    opt = OPTIMIZERS[name](model)
    X = rng.standard_normal((6, 4)).astype(np.float32)

    def steps(model, opt, k):
        for i in range(k):
            opt.zero_grad()
            y, ctx = model.forward(X * (i + 1))
            model.backward(np.ascontiguousarray(y - 1), ctx)
            opt.step()
        return [p.data.copy() for p in model.parameters()]

    steps(model, opt, 2)
    copies = _copies((model, opt))
    want = steps(model, opt, 3)
    for m2, o2 in copies:
        o2.flat.check()  # raises if a parameter was re-pointed
        assert o2.step_count == opt.step_count - 3
        got = steps(m2, o2, 3)
        for a, b in zip(want, got):
            np.testing.assert_array_equal(a, b)


def test_copied_optimizer_alone_is_independent(rng):
    model = nn.Linear(3, 2, seed=0)
    opt = optim.SGD(model, lr=0.1, momentum=0.9)
    opt2 = copy.deepcopy(opt)
    opt2.flat.check()
    opt.flat.check()
    assert opt2.params[0] is not model.weight
    np.testing.assert_array_equal(opt2.params[0].data, model.weight.data)


@pytest.mark.parametrize("make, data", [
    (lambda: methods.VIME(nn.MLP([6, 8])), "rows"),
    (lambda: methods.MaskedModeling(nn.MLP([6, 8])), "rows"),
    (lambda: methods.DenoisingAutoencoder(nn.MLP([6, 8])), "rows"),
    (lambda: methods.MoCo(nn.MLP([6, 8]), queue_size=8), "rows"),
    (lambda: methods.DINO(nn.MLP([6, 8])), "rows"),
    (lambda: methods.RotationPrediction(nn.ConvEncoder2d(1, channels=(4,))), "images"),
    (lambda: methods.Jigsaw(nn.ConvEncoder2d(1, channels=(4,))), "images"),
])
def test_trained_methods_pickle_and_keep_training_bit_identically(make, data, rng):
    X = (rng.standard_normal((8, 6)) if data == "rows" else rng.standard_normal((8, 1, 6, 6))).astype(np.float32)
    m = make()
    m.setup(X)
    opt = optim.AdamW(m.parameters(), lr=1e-3)
    pretrain(m, X, epochs=1, batch_size=4, optimizer=opt, progress=False)
    copies = _copies((m, opt))
    h = pretrain(m, X, epochs=1, batch_size=4, optimizer=opt, seed=1, progress=False)
    for m2, o2 in copies:
        h2 = pretrain(m2, X, epochs=1, batch_size=4, optimizer=o2, seed=1, progress=False)
        assert h2["loss"] == h["loss"]
        for a, b in zip(m.parameters(), m2.parameters()):
            np.testing.assert_array_equal(a.data, b.data)


def test_estimators_clone_and_pickle(rng):
    sk = pytest.importorskip("sklearn.base")
    X = rng.standard_normal((12, 4)).astype(np.float32)
    y = np.arange(12) % 2
    for est in (LinearProbe(nn.MLP([4, 3], seed=0), l2=0.1), KNN(nn.Identity(), k=3),
                FineTune(nn.MLP([4, 3], seed=0), epochs=2, batch_size=4)):
        fitted = copy.deepcopy(est).fit(X, y)
        fresh = sk.clone(est)
        assert type(fresh) is type(est) and not hasattr(fresh, "task_")
        assert fresh.get_params().keys() == est.get_params().keys()
        np.testing.assert_array_equal(fresh.fit(X, y).predict(X), fitted.predict(X))
        for c in _copies(fitted):
            np.testing.assert_array_equal(c.predict(X), fitted.predict(X))
    with pytest.raises(ValueError, match="invalid parameters"):
        LinearProbe(nn.Identity()).set_params(alpha=1)


@pytest.mark.parametrize("call", [
    lambda z: losses.barlow_twins(z, z[::-1].copy(), scale=1e300),
    lambda z: losses.vicreg(z, z[::-1].copy(), cov_weight=1e300),
    lambda z: losses.nt_xent(z, z, temperature=1e300),
    lambda z: losses.nt_xent(z, z, temperature=1e-300),
])
def test_weights_that_overflow_float32_raise(call, rng):
    z = rng.standard_normal((4, 3)).astype(np.float32)
    with pytest.raises(ValueError, match="overflow"):
        call(z)


def test_exception_inside_a_parallel_region_reaches_python(threads):
    # the per-sample scratch of knots + 2 spline values cannot be allocated: std::bad_alloc is
    # thrown inside the OpenMP region, and must come back as MemoryError instead of terminating
    pyssl.set_num_threads(2)
    x = np.ones((256, 2, 256), np.float32)
    with pytest.raises(MemoryError):
        pretext.time_warp(x, 0.1, 0, knots=2**40)
    assert pretext.time_warp(x, 0.1, 0).shape == x.shape  # the pool still works


@pytest.mark.parametrize("call", [
    lambda v: pretext.rotate90(np.ones((1, 1, 2, 2), np.float32), v),
    lambda v: nn.Conv2d(1, 1, 1, stride=v),
    lambda v: pretext.random_integers(2, v, 0),
    lambda v: losses.swav(np.ones((3, 2)), np.ones((3, 2)), iterations=v),
])
def test_integers_beyond_the_kernels_range_raise_value_error(call):
    for v in (2**63, 10**30):
        with pytest.raises(ValueError, match="must"):
            call(v)


def test_copied_stale_flat_params_stay_stale(rng):
    model = nn.Linear(3, 2, seed=0)
    opt = optim.SGD(model, lr=0.1)
    model.weight.data = np.zeros((5,), np.float32)  # re-pointed elsewhere (another shape, even)
    for o in _copies(opt):
        with pytest.raises(RuntimeError, match="no longer points"):
            o.flat.check()
        with pytest.raises(RuntimeError, match="no longer points"):
            o.step()


@pytest.mark.parametrize("layer, x", [(nn.Linear(3, 2), np.ones((2, 3))), (nn.Conv2d(1, 1, 1), np.ones((1, 1, 2, 2))),
                                      (nn.Conv1d(1, 1, 1), np.ones((1, 1, 4)))])
def test_float64_input_to_a_float32_layer_says_how_to_cast(layer, x):
    with pytest.raises(TypeError, match=r"has dtype float32 but x has dtype float64; cast with x.astype\(np.float32\)"):
        layer(x)
    assert layer(x.astype(np.float32)).dtype == np.float32


@given(st.floats(-12, 1), st.integers(0, 2**32 - 1))
def test_contrastive_float32_agrees_with_float64_at_any_temperature(log_t, seed):
    # the loss is computed as log Σ exp(s(x − max)) + s(max − positive): no cancellation of two
    # huge terms, so float32 keeps its relative precision even at τ = 1e-12
    g = np.random.default_rng(seed)
    a, b = g.standard_normal((6, 4)), g.standard_normal((6, 4))
    t = 10.0 ** log_t
    l64 = losses.nt_xent(a, b, t)[0]
    l32 = losses.nt_xent(a.astype(np.float32), b.astype(np.float32), t)[0]
    assert l32 == pytest.approx(l64, rel=1e-4, abs=1e-4)
    q64 = losses.info_nce(a, b, a[::-1].copy(), t)[0]
    q32 = losses.info_nce(a.astype(np.float32), b.astype(np.float32), a[::-1].astype(np.float32), t)[0]
    assert q32 == pytest.approx(q64, rel=1e-4, abs=1e-4)
