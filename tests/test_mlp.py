"""MLP with norms and activations: float64 finite-difference gradients (BatchNorm in training
mode), checkpoints round trip (running statistics included) and bad checkpoint loads."""
import numpy as np
import pytest

import pyssl
from pyssl.nn import MLP, BatchNorm1d, LayerNorm, Dropout
from pyssl.testing import check_module_gradients


@pytest.mark.parametrize("norm", ["batch", "layer", None])
@pytest.mark.parametrize("act", ["relu", "gelu", "tanh", "sigmoid"])
def test_mlp_gradients_fd(norm, act, rng):
    net = MLP([4, 6, 5, 3], norm=norm, act=act, dtype=np.float64, seed=1)
    x = rng.standard_normal((5, 4))
    assert net.training
    check_module_gradients(net, x, seed=2)


@pytest.mark.parametrize("norm", ["batch", "layer"])
def test_mlp_eval_gradients_fd(norm, rng):
    net = MLP([3, 5, 2], norm=norm, act="tanh", dtype=np.float64, seed=0)
    for _ in range(3):
        net.forward(rng.standard_normal((8, 3)))  # non-trivial running stats
    net.eval()
    check_module_gradients(net, rng.standard_normal((1, 3)))


def test_mlp_structure():
    net = MLP([4, 8, 8, 2], norm="batch", dropout=0.1, seed=0)
    kinds = [type(m).__name__ for m in net.layers]
    assert kinds == ["Linear", "BatchNorm1d", "ReLU", "Dropout", "Linear", "BatchNorm1d", "ReLU", "Dropout",
                     "Linear"]
    assert isinstance(MLP([4, 8, 2], norm="layer").layers[1], LayerNorm)
    assert net.layers[0].bias is None and net.layers[-1].bias is not None
    assert not any(isinstance(m, (BatchNorm1d, Dropout)) for m in MLP([3, 4, 2], norm=None).layers)


@pytest.mark.parametrize("norm", ["batch", "layer", None])
def test_save_load_round_trip(norm, tmp_path, rng):
    net = MLP([5, 7, 3], norm=norm, dtype=np.float32, seed=3)
    for _ in range(4):  # move the BN running stats away from their initial values
        net.forward(rng.standard_normal((6, 5)).astype(np.float32))
    path = tmp_path / "mlp.npz"
    pyssl.nn.save(net, path, meta={"epoch": 4})
    other = MLP([5, 7, 3], norm=norm, dtype=np.float32, seed=99)
    assert pyssl.nn.load(other, path) == {"epoch": 4}
    for (k, a), (k2, b) in zip(sorted(net.state_dict().items()), sorted(other.state_dict().items())):
        assert k == k2
        np.testing.assert_array_equal(a, b)
    if norm == "batch":
        bn = other.layers[1]
        assert not np.all(bn.running_var == 1) and not np.all(bn.running_mean == 0)
        assert bn.running_mean is bn._buffers["running_mean"]  # loaded in place
    x = rng.standard_normal((4, 5)).astype(np.float32)
    net.eval()
    other.eval()
    np.testing.assert_array_equal(net(x), other(x))


def test_load_into_wrong_shape_raises(tmp_path):
    path = tmp_path / "mlp.npz"
    pyssl.nn.save(MLP([5, 7, 3], seed=0), path)
    with pytest.raises(ValueError, match="shape mismatch"):
        pyssl.nn.load(MLP([5, 8, 3], seed=0), path)
    with pytest.raises(ValueError, match="missing keys"):
        pyssl.nn.load(MLP([5, 7, 3], norm=None, seed=0), path)


def test_load_non_checkpoint_raises(tmp_path):
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"this is not a checkpoint")
    with pytest.raises(ValueError, match="not a pyssl checkpoint"):
        pyssl.nn.load(MLP([2, 3]), junk)
    plain = tmp_path / "plain.npz"
    np.savez(plain, w=np.ones(3))
    with pytest.raises(ValueError, match="not a pyssl checkpoint"):
        pyssl.nn.load(MLP([2, 3]), plain)


def test_training_step_reduces_loss(rng):
    """A few plain GD steps on cross-entropy through MLP(norm="batch") lower the loss."""
    X = rng.standard_normal((64, 6)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(np.int64)
    net = MLP([6, 16, 2], norm="batch", act="gelu", seed=0)
    losses = []
    for _ in range(30):
        out, ctx = net.forward(X)
        loss, g = pyssl.nn.cross_entropy(out, y)
        losses.append(loss)
        net.zero_grad()
        net.backward(g, ctx, need_input_grad=False)
        for p in net.parameters():
            p.data -= 0.5 * p.grad
    assert losses[-1] < 0.5 * losses[0]
