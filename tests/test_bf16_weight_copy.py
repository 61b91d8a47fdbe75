"""The bfloat16 weight copy an optimizer step writes in its update pass (csrc/optim/flat.hpp
update_and_check, pyssl.optim.FlatParams.keep_bf16_copy): it equals bf16(θ_new) bit for bit for
every rule, it is used by bf16-mixed products only while nothing may have changed the values, and
copies of a model never share it."""
import copy

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import pyssl
from pyssl import _core
from pyssl.nn import Linear, MLP, Parameter, precision
from pyssl.optim import LARS, SGD, Adam, AdamW, FlatParams

needs_engine = pytest.mark.skipif(not precision.available(), reason="bf16-mixed needs pyssl built with oneDNN")

RULES = {
    "sgd": lambda ps: SGD(ps, lr=0.1),
    "sgd_momentum": lambda ps: SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-2),
    "adam": lambda ps: Adam(ps, lr=1e-2, weight_decay=1e-2),
    "adamw": lambda ps: AdamW(ps, lr=1e-2, weight_decay=1e-2),
    "lars": lambda ps: LARS(ps, lr=0.1, weight_decay=1e-2),
}


def _params(sizes, seed):
    rng = np.random.default_rng(seed)
    ps = [Parameter(rng.standard_normal(s).astype(np.float32) * 3) for s in sizes]
    for p in ps:
        p.grad = rng.standard_normal(p.shape).astype(np.float32)
    return ps


@settings(max_examples=15, deadline=None)
@given(rule=st.sampled_from(sorted(RULES)), sizes=st.lists(st.integers(1, 40000), min_size=1, max_size=4),
       seed=st.integers(0, 2**16))
def test_every_rule_writes_the_rounded_values_of_its_update(rule, sizes, seed):
    ps = _params(sizes, seed)
    opt = RULES[rule](ps)
    assert opt.flat.keep_bf16_copy(True)
    for _ in range(2):
        opt.step()
        for p in ps:
            values, copied = p.bf16_operands()
            assert copied is not None, "the step wrote the copy"
            np.testing.assert_array_equal(copied, _core.nn.to_bf16(values))


def test_without_the_copy_the_update_is_the_same():
    a, b = _params([300, 7], 1), _params([300, 7], 1)
    oa, ob = AdamW(a, lr=1e-2), AdamW(b, lr=1e-2)
    oa.flat.keep_bf16_copy(True)
    for _ in range(3):
        oa.step()
        ob.step()
    for p, q in zip(a, b):
        np.testing.assert_array_equal(p.data, q.data)


def test_reading_or_assigning_data_retires_the_copy():
    ps = _params([10, 5], 0)
    opt = SGD(ps, lr=0.1)
    opt.flat.keep_bf16_copy(True)
    opt.step()
    assert all(p.bf16_operands()[1] is not None for p in ps)
    ps[0].data[...] *= 2  # an in-place write goes through .data
    assert ps[0].bf16_operands()[1] is None
    assert ps[1].bf16_operands()[1] is not None
    ps[1].data = ps[1].bf16_operands()[0]  # so does an assignment
    assert ps[1].bf16_operands()[1] is None
    opt.step()  # the next update writes both again
    assert all(p.bf16_operands()[1] is not None for p in ps)


def test_a_rule_without_the_kernel_leaves_the_copy_retired():
    class Plain(SGD):
        writes_bf16_copy = False

        def _update(self, lr):
            self.flat.data -= lr * self.flat.grad
            return True

    ps = _params([10], 0)
    opt = Plain(ps, lr=0.1)
    opt.flat.keep_bf16_copy(True)
    opt.step()
    assert ps[0].bf16_operands()[1] is None


def test_stopping_frees_the_copy_and_copies_of_a_model_never_share_it():
    ps = _params([10], 0)
    opt = SGD(ps, lr=0.1)
    opt.flat.keep_bf16_copy(True)
    opt.step()
    clone = copy.deepcopy(ps[0])
    assert clone.bf16_operands()[1] is None
    flat_clone = copy.deepcopy(opt.flat)
    assert flat_clone.bf16 is None and all(p.bf16_operands()[1] is None for p in flat_clone.params)
    assert opt.flat.keep_bf16_copy(False) is False
    assert opt.flat.bf16 is None and ps[0].bf16_operands()[1] is None


def test_float64_buffers_keep_no_copy_and_the_kernels_refuse_one():
    p = Parameter(np.ones(4))
    p.grad = np.ones(4)
    flat = FlatParams([p])
    assert flat.keep_bf16_copy(True) is False and flat.bf16 is None
    with pytest.raises(ValueError, match="param_bf16"):
        _core.optim.sgd_step(flat.layout, flat.data, flat.grad, None, 0.1, 0.0, 0.0, 0.0, False, True, False,
                             np.zeros(4, np.uint16))


def test_a_copy_of_the_wrong_size_is_refused_by_name():
    ps = _params([10], 0)
    f = FlatParams(ps)
    with pytest.raises(ValueError, match="param_bf16"):
        _core.optim.sgd_step(f.layout, f.data, f.grad, None, 0.1, 0.0, 0.0, 0.0, False, True, False,
                             np.zeros(9, np.uint16))
    with pytest.raises(ValueError, match="overlap"):
        _core.optim.sgd_step(f.layout, f.data, f.grad, None, 0.1, 0.0, 0.0, 0.0, False, True, False,
                             f.data.view(np.uint16)[:10])


@needs_engine
def test_bf16_products_read_the_copy_while_it_is_trusted():
    lin = Linear(8, 3, seed=0)
    opt = SGD(lin.parameters(), lr=0.0)
    opt.flat.keep_bf16_copy(True)
    opt.step()  # lr 0: values unchanged, copy written
    x = np.random.default_rng(0).standard_normal((5, 8)).astype(np.float32)
    with precision.autocast():
        y_copy, _ = lin.forward(x)
        opt.flat.bf16[:] = 0  # a trusted copy is read as it is: zero weights give the bias only
        y_zero, _ = lin.forward(x)
        np.testing.assert_array_equal(y_zero, np.broadcast_to(lin.bias.bf16_operands()[0], y_zero.shape))
        lin.weight.data  # noqa: B018 — reading .data retires the copy: the weight is cast again
        y_cast, _ = lin.forward(x)
    np.testing.assert_array_equal(y_cast, y_copy)


@needs_engine
def test_pretrain_reads_the_copies_after_the_first_update_and_drops_them_when_it_ends(monkeypatch):
    m = pyssl.methods.SimCLR(MLP([6, 8], seed=0))
    X = np.random.default_rng(0).standard_normal((32, 6)).astype(np.float32)
    used = []
    real = _core.nn.dense_forward_bf16

    def spy(x, w, b=None, wb=None):
        used.append(wb is not None)
        return real(x, w, b, wb)

    monkeypatch.setattr(_core.nn, "dense_forward_bf16", spy)
    pyssl.pretrain(m, X, epochs=1, batch_size=16, progress=False, precision="bf16-mixed")
    # 2 steps: the first casts every weight (no update yet), the second reads the first update's copies
    n = len(used) // 2
    assert n > 0 and not any(used[:n]) and all(used[n:])
    assert all(p.bf16_operands()[1] is None for p in m.parameters())
