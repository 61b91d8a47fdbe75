"""Fuzz test of the public API: hypothesis draws arguments for each public function and class
(random shapes including empty and one-row ones, every numeric dtype and byte order, C /
Fortran / transposed / strided / read-only / misaligned layouts, NaN / Inf / huge values, Python
lists and scalars, extreme hyperparameters) and every outcome is classified:

* a result — and, when every input was finite, every float in it is finite (no silent NaN);
* a ValueError or TypeError whose message says what is wrong (not pybind11's generic
  "incompatible function arguments", not an empty message);
* anything else (IndexError, AttributeError, KeyError, ZeroDivisionError, OverflowError, a
  crash, a hang) fails the test.

Bounded: a fixed number of examples per target (``FUZZ_EXAMPLES``, 40 by default; raise it with
the environment variable ``PYSSL_FUZZ_EXAMPLES`` for a long campaign) with small arrays.
"""
import math
import os
import tempfile
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import pyssl
from pyssl import losses, nn, optim, pretext
from pyssl.nn.checkpoint import load_state, save_state
from pyssl.transfer import KNN, LinearProbe, sample_labels

FUZZ_EXAMPLES = int(os.environ.get("PYSSL_FUZZ_EXAMPLES", "40"))
CALLS = {"calls": 0, "results": 0, "value_errors": 0, "type_errors": 0, "warned": 0}

DTYPES = [np.float32, np.float64, ">f8", ">f4", np.float16, np.int64, np.int32, np.uint8, np.bool_,
          np.complex64]
LAYOUTS = ["c", "fortran", "transposed", "strided", "readonly", "misaligned", "list", "scalar"]


class Drawn:
    """Records whether any drawn input holds a non-finite number."""

    def __init__(self, draw):
        self.draw = draw
        self.nonfinite = False

    def __call__(self, strategy):
        return self.draw(strategy)

    def values(self, shape, dtype, seed, special):
        g = np.random.default_rng(seed)
        x = g.standard_normal(shape)
        if special == "huge":
            x *= 1e30 if np.dtype(dtype).itemsize >= 8 else 1e4
        elif special in ("nan", "inf") and x.size:
            x.reshape(-1)[g.integers(x.size)] = np.nan if special == "nan" else -np.inf
            self.nonfinite = True
        elif special == "zeros":
            x[...] = 0
        dt = np.dtype(dtype)
        if dt.kind in "iub":
            with np.errstate(invalid="ignore", over="ignore"):
                x = np.nan_to_num(x, nan=0, posinf=0, neginf=0)
                x = (np.abs(x) * 3).astype(dt) if dt.kind != "i" else (x * 3).astype(dt)
        else:
            x = x.astype(dt)
        return x

    def array(self, shape=None, *, min_ndim=1, max_ndim=4, max_side=5, dtypes=None, layouts=None):
        d = self.draw
        if shape is None:
            ndim = d(st.integers(min_ndim, max_ndim))
            shape = tuple(d(st.integers(0, max_side)) for _ in range(ndim))
        dtype = d(st.sampled_from(dtypes or DTYPES))
        special = d(st.sampled_from(["plain"] * 6 + ["huge", "nan", "inf", "zeros"]))
        x = self.values(shape, dtype, d(st.integers(0, 2**32 - 1)), special)
        layout = d(st.sampled_from(layouts or LAYOUTS))
        if layout == "fortran":
            x = np.asfortranarray(x)
        elif layout == "transposed" and x.ndim >= 2:
            x = np.ascontiguousarray(np.swapaxes(x, 0, 1)).swapaxes(0, 1)
        elif layout == "strided" and x.ndim >= 1:
            big = np.repeat(x, 2, axis=-1)
            x = big[..., ::2]
        elif layout == "readonly":
            x = x.copy()
            x.flags.writeable = False
        elif layout == "misaligned" and x.dtype.itemsize > 1:
            buf = np.empty(x.nbytes + 1, np.uint8)[1:]
            y = buf.view(x.dtype).reshape(x.shape)
            y[...] = x
            x = y
        elif layout == "list":
            return x.tolist()
        elif layout == "scalar" and x.size:
            return x.reshape(-1)[0].item()
        return x

    def pair(self, **kw):
        """Two arrays, of one shape and dtype most of the time."""
        a = self.array(**kw)
        if self.draw(st.integers(0, 9)) < 7 and isinstance(a, np.ndarray):
            b = self.values(a.shape, a.dtype, self.draw(st.integers(0, 2**32 - 1)), "plain")
            return a, b
        return a, self.array(**kw)

    def rows(self, n=None, d=None, **kw):
        """A float (N, D) array (valid most of the time; any array otherwise)."""
        if self.draw(st.integers(0, 9)) < 8:
            n = self.draw(st.integers(0, 6)) if n is None else n
            d = self.draw(st.integers(1, 5)) if d is None else d
            return self.array((n, d), dtypes=[np.float32, np.float64, ">f8"], layouts=["c", "strided", "readonly"])
        return self.array(**kw)

    def images(self):
        if self.draw(st.integers(0, 9)) < 8:
            shape = (self.draw(st.integers(0, 3)), self.draw(st.integers(1, 2)), self.draw(st.integers(1, 7)),
                     self.draw(st.integers(1, 7)))
            return self.array(shape, dtypes=[np.float32, np.float64], layouts=["c", "strided", "readonly", "fortran"])
        return self.array()

    def real(self, low=-3.0, high=3.0):
        """A hyperparameter: usually in [low, high], sometimes extreme or the wrong type."""
        kind = self.draw(st.integers(0, 19))
        if kind < 12:
            return self.draw(st.floats(low, high))
        extreme = self.draw(st.sampled_from([0, -1, 1e-300, 1e-12, 1e300, 10**400, 2**63, math.inf, math.nan, -0.0,
                                             None, "1", [1.0], True, np.float32(0.5), np.int64(2)]))
        if isinstance(extreme, float) and not math.isfinite(extreme):
            self.nonfinite = True
        return extreme

    def integer(self, low=0, high=8, huge=False):
        """A size or count: usually in [low, high], sometimes invalid. Huge values only where the
        function must bound them (``huge``): elsewhere they are a legitimate request for more
        memory than the machine has."""
        kind = self.draw(st.integers(0, 19))
        if kind < 14:
            return self.draw(st.integers(low, high))
        odd = [-1, 0, 2.0, None, "3", True, np.int32(2)] + ([2**31, 2**63, 10**30] if huge else [])
        return self.draw(st.sampled_from(odd))

    def seed(self):
        return self.draw(st.one_of(st.integers(0, 2**64 - 1), st.sampled_from([-1, 2**64, 1.5, None, "0"])))


def _floats_finite(result) -> bool:
    if isinstance(result, (tuple, list)):
        return all(_floats_finite(r) for r in result)
    if isinstance(result, dict):
        return all(_floats_finite(v) for v in result.values())
    if isinstance(result, (float, np.floating)):
        return math.isfinite(result)
    if isinstance(result, np.ndarray) and result.dtype.kind == "f":
        return bool(np.isfinite(result).all())
    return True


def classify(call, drawn: Drawn):
    """Run ``call`` and fail unless the outcome is a finite result or a clear ValueError/TypeError."""
    CALLS["calls"] += 1
    try:
        with warnings.catch_warnings(record=True) as caught:
            # numpy's RuntimeWarnings (overflow, invalid) stay errors; pyssl's UserWarnings about an
            # adjusted argument (batch_size > N, a queue longer than the data, ...) are an outcome
            warnings.simplefilter("error")
            warnings.simplefilter("always", UserWarning)
            result = call()
        if caught:
            assert all(str(w.message).strip() for w in caught), "a warning without a message"
            CALLS["warned"] += 1
    except (ValueError, TypeError) as exc:
        msg = str(exc)
        assert msg.strip(), f"{type(exc).__name__} without a message"
        assert "incompatible function arguments" not in msg, msg
        CALLS["value_errors" if isinstance(exc, ValueError) else "type_errors"] += 1
        return None
    CALLS["results"] += 1
    if not drawn.nonfinite:
        assert _floats_finite(result), f"non-finite result from finite inputs: {result!r}"[:2000]
    return result


def _mask_like(b):
    """A 0/1 float mask shaped like ``b`` (``b`` itself when it is not an array)."""
    if not isinstance(b, np.ndarray):
        return b
    return (np.arange(b.size).reshape(b.shape) % 2).astype(np.float32)


# Each target draws its arguments with a Drawn and returns a zero-argument call.
def _info_nce(d):
    q, k = d.pair()
    queue = d.rows(d=np.shape(q)[-1] if np.ndim(q) and np.shape(q)[-1] else 3)
    t = d.real(1e-6, 2)
    return lambda: losses.info_nce(q, k, queue, t)


def _sup_con(d):
    z = d.rows()
    n = np.shape(z)[0] if np.ndim(z) else 1
    labels = (d.array((n,), dtypes=[np.int64, np.int32, np.float64, np.uint8]) if d(st.booleans())
              else np.arange(n) % 2)
    t = d.real(1e-6, 2)
    return lambda: losses.sup_con(z, labels, t)


def _loss_targets():
    return {
        "nt_xent": lambda d: (lambda a, b, t: lambda: losses.nt_xent(a, b, t))(*d.pair(), d.real(1e-6, 2)),
        "info_nce": _info_nce,
        "sup_con": _sup_con,
        "negative_cosine": lambda d: (lambda p, z, f: lambda: losses.negative_cosine(p, z, f))(*d.pair(), d(st.sampled_from(["simsiam", "byol", "x", None, ["byol"]]))),
        "symmetric_negative_cosine": lambda d: (lambda p, z: lambda: losses.symmetric_negative_cosine(p, z, z, p))(*d.pair()),
        "barlow_twins": lambda d: (lambda a, b, l, s: lambda: losses.barlow_twins(a, b, l, s))(*d.pair(), d.real(0, 1), d.real(0.01, 2)),
        "vicreg": lambda d: (lambda a, b, w: lambda: losses.vicreg(a, b, sim_weight=w))(*d.pair(), d.real(0, 30)),
        "swav": lambda d: (lambda a, b, t, e, i: lambda: losses.swav(a, b, t, e, i))(*d.pair(), d.real(1e-3, 1), d.real(1e-3, 1), d.integer(1, 4, huge=True)),
        "sinkhorn": lambda d: (lambda s, e: lambda: losses.sinkhorn(s, e))(d.rows(), d.real(1e-3, 1)),
        "dino": lambda d: (lambda s, ts, tt: lambda: losses.dino(s, s[:1] if isinstance(s, np.ndarray) and s.ndim else s, np.zeros(np.shape(s)[-1] if np.ndim(s) else 1, np.float32), ts, tt))(d.array(min_ndim=3, max_ndim=3), d.real(1e-3, 1), d.real(1e-3, 1)),
        "masked_mse": lambda d: (lambda a, b: lambda: losses.masked_mse(a, b, _mask_like(b)))(*d.pair()),
        "mask_bce": lambda d: (lambda a, b: lambda: losses.mask_bce(a, _mask_like(b)))(*d.pair()),
        "cross_entropy": lambda d: (lambda x, s: lambda: nn.cross_entropy(x, np.zeros(np.shape(x)[0] if np.ndim(x) else 1, np.int64), s))(d.rows(), d.real(0, 1)),
        "mse": lambda d: (lambda a, b: lambda: nn.mse(a, b))(*d.pair()),
        "l2_normalize": lambda d: (lambda z: lambda: nn.l2_normalize(z))(d.rows()),
    }


def _layer_call(make):
    def target(d):
        x = d.rows()
        args = make(d, np.shape(x)[-1] if np.ndim(x) >= 1 and np.shape(x)[-1] else 3)
        train = d(st.booleans())

        def call():
            layer = args()  # constructed inside the classified call: bad arguments must raise clearly
            layer.train(train)
            y, ctx = layer.forward(x)
            g = layer.backward(np.ones_like(y), ctx)
            return y, g
        return call
    return target


def _nn_targets():
    return {
        "Linear": _layer_call(lambda d, k: (lambda o: lambda: nn.Linear(k, o, seed=0))(d.integer(1, 4))),
        "activation": _layer_call(lambda d, k: (lambda a: lambda: nn.make_activation(a))(d(st.sampled_from(["relu", "gelu", "tanh", "sigmoid", "elu", None])))),
        "Softmax": _layer_call(lambda d, k: d(st.sampled_from([nn.Softmax, nn.LogSoftmax]))),
        "L2Normalize": _layer_call(lambda d, k: nn.L2Normalize),
        "LayerNorm": _layer_call(lambda d, k: lambda: nn.LayerNorm(k)),
        "BatchNorm1d": _layer_call(lambda d, k: lambda: nn.BatchNorm1d(k)),
        "Dropout": _layer_call(lambda d, k: (lambda p: lambda: nn.Dropout(p))(d.real(0, 0.99))),
        "MLP": _layer_call(lambda d, k: (lambda h, n: lambda: nn.MLP([k, h, 2], norm=n))(d.integer(1, 4), d(st.sampled_from(["batch", "layer", None, "x"])))),
        "Residual": _layer_call(lambda d, k: lambda: nn.Residual(nn.Linear(k, k, seed=1))),
        "GlobalAvgPool": lambda d: (lambda x: lambda: nn.GlobalAvgPool()(x))(d.images()),
        "Flatten": lambda d: (lambda x: lambda: nn.Flatten()(x))(d.images()),
        "Conv2d": lambda d: (lambda x, k, s, p: lambda: nn.Conv2d(np.shape(x)[1] if np.ndim(x) == 4 else 1, 2, k, s, p, seed=0)(x))(d.images(), d.integer(1, 3), d.integer(1, 2, huge=True), d.integer(0, 1)),
        "ConvEncoder2d": lambda d: (lambda x, ch: lambda: nn.ConvEncoder2d(np.shape(x)[1] if np.ndim(x) == 4 else 1, channels=ch, seed=0)(x))(d.images(), d(st.sampled_from([(2,), (2, 3), (), (0,), None, 3]))),
        "MLP.transform": lambda d: (lambda x, b: lambda: nn.MLP([np.shape(x)[-1] if np.ndim(x) == 2 and np.shape(x)[-1] else 3, 2]).transform(x, batch_size=b))(d.rows(), d.integer(1, 4)),
        "Parameter": lambda d: (lambda a: lambda: nn.Parameter(a))(d.array()),
        "set_num_threads": lambda d: (lambda n: lambda: _with_threads(n))(d.integer(1, 4, huge=True)),
    }


def _with_threads(n):
    before = pyssl.get_num_threads()
    try:
        pyssl.set_num_threads(n)
        return pyssl.get_num_threads()
    finally:
        pyssl.set_num_threads(before)


def _pretext_targets():
    return {
        "mask_features": lambda d: (lambda x, r, s: lambda: pretext.mask_features(x, r, s))(d.rows(), d.real(0, 1), d.seed()),
        "gaussian_noise": lambda d: (lambda x, r, s: lambda: pretext.gaussian_noise(x, r, s))(d.rows(), d.real(0, 2), d.seed()),
        "scarf_corrupt": lambda d: (lambda x, r, s: lambda: pretext.scarf_corrupt(x, x, r, s))(d.rows(), d.real(0, 1), d.seed()),
        "vime_corrupt": lambda d: (lambda x, r, s: lambda: pretext.vime_corrupt(x, r, s))(d.rows(), d.real(0, 1), d.seed()),
        "mixup": lambda d: (lambda x, a, s: lambda: pretext.mixup(x, a, s))(d.rows(), d.real(0, 2), d.seed()),
        "span_mask": lambda d: (lambda x, r, s: lambda: pretext.span_mask(x, r, s))(d.rows(), d.real(0, 1), d.seed()),
        "random_permutations": lambda d: (lambda c, n, s: lambda: pretext.random_permutations(c, n, s))(d.integer(0, 5), d.integer(0, 6), d.seed()),
        "random_integers": lambda d: (lambda c, n, s: lambda: pretext.random_integers(c, n, s))(d.integer(0, 5), d.integer(0, 6), d.seed()),
        "jitter": lambda d: (lambda x, r, s: lambda: pretext.jitter(x, r, s))(d.array(min_ndim=3, max_ndim=3), d.real(0, 1), d.seed()),
        "scaling": lambda d: (lambda x, r, s: lambda: pretext.scaling(x, r, s))(d.array(min_ndim=3, max_ndim=3), d.real(0, 1), d.seed()),
        "time_mask": lambda d: (lambda x, r, s: lambda: pretext.time_mask(x, r, s))(d.array(min_ndim=3, max_ndim=3), d.real(0, 1), d.seed()),
        "crop_resize": lambda d: (lambda x, s: lambda: pretext.crop_resize(x, s))(d.array(min_ndim=3, max_ndim=3), d.seed()),
        "rotate90": lambda d: (lambda x, k: lambda: pretext.rotate90(x, k))(d.images(), d.integer(-5, 5, huge=True)),
        "hflip": lambda d: (lambda x: lambda: pretext.hflip(x, np.ones(np.shape(x)[0] if np.ndim(x) else 1, np.int64)))(d.images()),
        "random_hflip": lambda d: (lambda x, p, s: lambda: pretext.random_hflip(x, s, p))(d.images(), d.real(0, 1), d.seed()),
        "gaussian_blur": lambda d: (lambda x, s, lo: lambda: pretext.gaussian_blur(x, s, 3, (lo, 2.0)))(d.images(), d.seed(), d.real(1e-300, 2)),
        "color_jitter": lambda d: (lambda x, s, b: lambda: pretext.color_jitter(x, s, brightness=b))(d.images(), d.seed(), d.real(0, 1)),
        "random_resized_crop": lambda d: (lambda x, s: lambda: pretext.random_resized_crop(x, s, size=(4, 4)))(d.images(), d.seed()),
        "jigsaw_permutation_set": lambda d: (lambda g, c, p: lambda: pretext.jigsaw_permutation_set(g, c, 0, p))(d(st.one_of(st.integers(1, 3), st.sampled_from([1000, 3000, 0, None]))), d.integer(1, 6), d(st.one_of(st.integers(1, 64), st.sampled_from([0, 2**40])))),
        "patch_mask": lambda d: (lambda x, s, r: lambda: pretext.patch_mask(x, 2, r, s))(d.images(), d.seed(), d.real(0, 1)),
        "Compose": lambda d: (lambda x, s: lambda: pretext.Compose([pretext.GaussianNoise(0.1), pretext.FeatureMask(0.3)])(x, s))(d.rows(), d.seed()),
    }


def _transfer_targets():
    def knn(d):
        X, y = d.rows(n=8, d=3), d(st.sampled_from([np.arange(8) % 2, np.linspace(0, 1, 8), np.arange(7), [0] * 8]))
        t, k = d.real(1e-4, 1), d.integer(1, 9)
        return lambda: KNN(nn.Identity(), k=k, temperature=t).fit(X, y).predict(X)

    def probe(d):
        X, y = d.rows(n=8, d=3), d(st.sampled_from([np.arange(8) % 2, np.linspace(0, 1, 8), np.arange(7)]))
        l2 = d.real(0, 1)
        return lambda: LinearProbe(nn.Identity(), l2=l2).fit(X, y).predict_proba(X)

    return {
        "sample_labels": lambda d: (lambda y, f, s: lambda: sample_labels(y, f, s))(d(st.one_of(st.lists(st.integers(0, 3), max_size=12), st.sampled_from([5, [[1, 2]], [], "ab"]))), d.real(0, 1), d.seed()),
        "KNN": knn,
        "LinearProbe": probe,
    }


def _optim_targets():
    def opt(d):
        rule = d(st.sampled_from(["SGD", "Adam", "AdamW", "LARS"]))
        lr, wd = d.real(0, 1), d.real(0, 0.1)
        p = nn.Parameter(np.ones((3, 2), np.float32))

        def call():
            o = getattr(optim, rule)([p], lr=lr, weight_decay=wd)
            p.grad[...] = 1.0
            o.step()
            if not o.last_step_finite:  # reported, never silent: the check must raise
                with pytest.raises(FloatingPointError):
                    o.check_finite()
                return None
            return p.data
        return call

    def checkpoint(d):
        arrays = {str(d(st.sampled_from(["w", "b.c", "x y"]))): d.array(layouts=["c", "fortran", "strided"]),
                  "z": d.array(layouts=["c"])}

        def call():
            with tempfile.TemporaryDirectory() as tmp:
                path = os.path.join(tmp, "c.npz")
                save_state(path, arrays, meta={"n": 1})
                back, meta = load_state(path)
                assert meta == {"n": 1}
                for k, v in arrays.items():
                    np.testing.assert_array_equal(back[k], np.asarray(v))
            return None
        return call

    def train(d):
        X = d.rows(d=3)
        from pyssl.experiments import METHOD_NAMES

        name = d(st.sampled_from(list(METHOD_NAMES)))  # every registered domain-agnostic method
        kw = {"moco": {"queue_size": d.integer(1, 12)}, "simclr": {"temperature": d.real(1e-3, 1)}}.get(name, {})
        epochs, batch, drop = d.integer(1, 2), d.integer(2, 8), d(st.booleans())
        lr = d(st.sampled_from([1e-3, 0.1, 10.0, 1e6]))

        def call():
            from pyssl.experiments import make_method

            method = make_method(name, nn.MLP([3, 4], seed=0), **kw)
            try:
                h = pyssl.pretrain(method, X, epochs=epochs, batch_size=batch, drop_last=drop, lr=lr, progress=False)
            except FloatingPointError as exc:  # a diverged run is reported with advice, never silent
                assert "learning rate" in str(exc)
                return None
            return h["loss"], [p.data for p in method.parameters()]
        return call

    def damaged_checkpoint(d):
        model = nn.MLP([3, 4], seed=0)
        cut = d(st.floats(0, 1))
        flips = d(st.lists(st.tuples(st.floats(0, 1), st.integers(0, 255)), max_size=4))

        def call():
            with tempfile.TemporaryDirectory() as tmp:
                path = os.path.join(tmp, "m.npz")
                nn.save(model, path)
                with open(path, "rb") as f:
                    raw = bytearray(f.read())
                for where, byte in flips:
                    raw[int(where * (len(raw) - 1))] = byte
                with open(path, "wb") as f:
                    f.write(bytes(raw[: max(1, int(cut * len(raw))) if cut < 0.5 else len(raw)]))
                nn.load(nn.MLP([3, 4], seed=1), path)  # loads (the damage missed the data) or a ValueError
            return None
        return call

    return {"optimizer": opt, "checkpoint": checkpoint, "pretrain": train, "damaged_checkpoint": damaged_checkpoint}


TARGETS = {**_loss_targets(), **_nn_targets(), **_pretext_targets(), **_transfer_targets(), **_optim_targets()}


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_fuzz_public_api(name):
    @settings(max_examples=FUZZ_EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(st.data())
    def run(data):
        drawn = Drawn(data.draw)
        call = TARGETS[name](drawn)
        classify(call, drawn)

    run()


def test_fuzz_call_count_report():
    """Runs last (file order): the fuzz above made calls and every outcome was classified."""
    total = CALLS["calls"]
    print(f"\nfuzz: {total} calls over {len(TARGETS)} targets: {CALLS}")
    if total:
        assert CALLS["results"] + CALLS["value_errors"] + CALLS["type_errors"] == total
