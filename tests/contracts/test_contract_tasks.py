"""Every registered pretext task (``pyssl.pretext.TASKS``) trains through the one generic method,
:class:`pyssl.methods.PretextTaskMethod`, with the loss it names resolved from the loss registry;
and its pseudolabels are fixed by the seed. A newly registered task is covered automatically."""
import numpy as np
import pytest

import pyssl
from pyssl import methods, nn, pretext
from pyssl.losses import LOSSES

from ._helpers import assert_every_public_class_registered

DATA = {"rows": (12, 6), "sequences": (12, 2, 16), "images": (12, 1, 8, 8), "tokens": (12, 5, 3)}


def _task(entry):
    return (entry.example or entry.obj)()


def _data(entry, seed=0):
    return np.random.default_rng(seed).standard_normal(DATA[entry.data]).astype(np.float64)


def _encoder(task, X):
    inputs = task.generate(X[:2], 0)[0]
    return nn.Sequential(nn.Flatten(), nn.MLP([int(np.prod(inputs.shape[1:])), 16, 8], dtype=np.float64, seed=0))


@pytest.mark.parametrize("name", pretext.TASKS.names())
def test_every_task_trains_one_step_through_the_generic_method(name):
    entry = pretext.TASKS.entry(name)
    task, X = _task(entry), _data(entry)
    names = task.loss if isinstance(task.loss, tuple) else (task.loss,)
    assert all(n in LOSSES for n in names), f"{name} names losses {names} not in the registry"
    enc = _encoder(task, X)
    m = methods.PretextTaskMethod(enc, task)
    before = [p.data.copy() for p in enc.parameters()]
    hist = pyssl.pretrain(m, X, epochs=1, batch_size=12, lr=1e-2, seed=0, progress=False)
    assert len(hist["loss"]) == 1 and np.isfinite(hist["loss"][0])
    assert any(not np.array_equal(a, p.data) for a, p in zip(before, enc.parameters())), f"{name}: encoder did not move"
    assert len(m.trainable_modules()) == 1 + len(names)


@pytest.mark.parametrize("name", pretext.TASKS.names())
def test_task_pseudolabels_are_fixed_by_the_seed(name):
    entry = pretext.TASKS.entry(name)
    task, X = _task(entry), _data(entry)

    def bits(seed):
        inputs, z = task.generate(X, seed)
        zs = z if isinstance(z, tuple) else (z,)
        return np.asarray(inputs).tobytes() + b"".join(np.asarray(v).tobytes() for v in zs)

    assert bits(3) == bits(3)


def test_a_loss_without_a_task_adapter_is_refused_at_construction():
    class Bad(pretext.PretextTask):
        loss = "barlow_twins"

        def generate(self, x, seed):
            return x, x

        def head_output_size(self, input_shape):
            return 2

    with pytest.raises(ValueError, match="cannot score a pretext task"):
        methods.PretextTaskMethod(nn.MLP([3, 2]), Bad())
    Bad.loss = "no_such_loss"
    with pytest.raises(ValueError, match="unknown loss 'no_such_loss'"):
        methods.PretextTaskMethod(nn.MLP([3, 2]), Bad())
    with pytest.raises(TypeError, match="pretext task"):
        methods.PretextTaskMethod(nn.MLP([3, 2]), "masked")


def test_no_class_name_is_shared_by_methods_and_pretext():
    assert not set(methods.__all__) & set(pretext.__all__)


def test_every_public_task_class_is_registered():
    assert_every_public_class_registered(pretext, pretext.PretextTask, pretext.TASKS)