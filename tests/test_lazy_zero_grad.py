"""zero_grad is lazy: the next backward overwrites the gradient instead of adding to zeros.
The observable behaviour must be exactly that of zero-filling: checked against an explicit
fill for every layer with parameters, with garbage left in the buffers beforehand."""
import numpy as np
import pytest

import pyssl.nn as nn
from pyssl.optim import SGD, FlatParams, clip_grad_norm

rng = np.random.default_rng(0)


def layers():
    return {
        "linear": (lambda: nn.Linear(7, 5, seed=1), (6, 7)),
        "conv2d": (lambda: nn.Conv2d(2, 3, 3, padding=1, seed=1), (2, 2, 5, 5)),
        "layernorm": (lambda: nn.LayerNorm(7), (6, 7)),
        "batchnorm": (lambda: nn.BatchNorm1d(7), (6, 7)),
    }


def grads_after(layer, x, g, n_backward, lazy):
    for p in layer.parameters():
        p.grad[...] = rng.standard_normal(p.shape)  # garbage from an earlier step
    if lazy:
        layer.zero_grad()
    else:
        for p in layer.parameters():
            p.grad.fill(0)
    for _ in range(n_backward):
        y, ctx = layer.forward(x)
        layer.backward(g, ctx)
    return [p.grad.copy() for p in layer.parameters()]


@pytest.mark.parametrize("name", sorted(layers()))
@pytest.mark.parametrize("n_backward", [1, 2])
def test_lazy_zero_equals_explicit_zero(name, n_backward):
    make, shape = layers()[name]
    x = rng.standard_normal(shape)
    layer = make()
    x = x.astype(layer.parameters()[0].dtype)
    y, _ = layer.forward(x)
    g = rng.standard_normal(y.shape).astype(y.dtype)
    want = grads_after(layer, x, g, n_backward, lazy=False)
    got = grads_after(layer, x, g, n_backward, lazy=True)
    for a, b in zip(want, got):
        np.testing.assert_array_equal(a, b)


def test_reading_a_zeroed_grad_gives_zeros_and_mixed_marks_accumulate_correctly():
    lin = nn.Linear(4, 3, seed=0)
    for p in lin.parameters():
        p.grad[...] = 5.0
    lin.zero_grad()
    assert not lin.weight.grad.any()  # the property fills on read
    lin.weight.grad[...] = 1.0        # weight now holds a real gradient, bias is still marked zero
    lin.bias.zero_grad()
    lin.bias._grad[...] = 7.0         # garbage under the mark
    x = rng.standard_normal((5, 4)).astype(np.float32)
    y, ctx = lin.forward(x)
    g = np.ones_like(y)
    lin.backward(g, ctx)
    np.testing.assert_allclose(lin.weight.grad, 1.0 + x.T @ g, rtol=1e-6)
    np.testing.assert_allclose(lin.bias.grad, g.sum(axis=0), rtol=1e-6)


def test_optimizer_step_and_clip_see_zero_for_parameters_no_backward_reached():
    a, b = nn.Linear(3, 3, seed=0), nn.Linear(3, 3, seed=1)
    params = a.parameters() + b.parameters()
    opt = SGD(params, lr=0.5, weight_decay=0.1)
    for p in params:
        p.grad[...] = 3.0
    opt.zero_grad()
    x = rng.standard_normal((4, 3)).astype(np.float32)
    y, ctx = a.forward(x)
    a.backward(np.ones_like(y), ctx)          # b gets no gradient this step
    before = [p.data.copy() for p in b.parameters()]
    opt.step()
    for p, w0 in zip(b.parameters(), before):  # SGD decays every parameter (torch semantics)
        np.testing.assert_allclose(p.data, w0 - 0.5 * 0.1 * w0, rtol=1e-6)  # gradient taken as 0
    opt.zero_grad()
    assert clip_grad_norm(opt, 1.0) == 0.0


def test_flat_params_reattach_copies_a_zeroed_grad_as_zeros():
    lin = nn.Linear(3, 2, seed=0)
    flat = FlatParams(lin.parameters())
    lin.weight.zero_grad()
    lin.weight.grad = np.full((3, 2), 9.0, np.float32)  # re-pointed away from the flat buffer
    lin.weight.zero_grad()
    flat.reattach()
    assert not flat.grad[:6].any()
