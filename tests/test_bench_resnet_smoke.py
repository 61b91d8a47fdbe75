"""The ResNet benchmark keeps running: its worker times a tiny ResNet-18 step in a fresh process
(no timing is checked), counts the FLOPs the benchmark divides by, and both libraries' steps
compute the same loss from the same initial weights."""
import json
import math
import os
import runpy
import subprocess
import sys

import numpy as np
import pytest

WORKER = os.path.join(os.path.dirname(__file__), "..", "benchmarks", "_resnet_worker.py")


def run_worker(*args):
    return subprocess.run([sys.executable, WORKER, *args], capture_output=True, text=True, timeout=300)


def test_pyssl_worker_runs_and_profiles():
    done = run_worker("--lib", "pyssl", "--batch", "4", "--size", "8", "--width", "2", "--steps", "1",
                      "--warmup", "1", "--threads", "1", "--profile")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["ms_per_step"] > 0 and math.isfinite(out["loss"])
    assert "RecomputeConv2d.backward" in out["info"]["profile_s_per_step"]


def test_flop_count_matches_the_layers():
    """ResNet-18 cifar at 32×32: 0.556 GMAC per image for the convolutions (the usual figure)."""
    w = runpy.run_path(WORKER, run_name="worker")
    f = w["resnet18_flops"](1, 32, 64)
    assert abs((f["forward"] - 2 * 512 * 10) / 2 / 1e9 - 0.5559) < 0.001


def test_pyssl_bf16_runs_with_onednn_and_is_refused_without():
    from pyssl.nn import precision

    done = run_worker("--lib", "pyssl", "--precision", "bf16-mixed", "--batch", "4", "--size", "8", "--width", "2",
                      "--steps", "1", "--warmup", "0", "--threads", "1")
    if precision.available():
        assert done.returncode == 0, done.stderr
        out = json.loads(done.stdout.strip().splitlines()[-1])
        assert math.isfinite(out["loss"]) and out["info"]["conv_engine"]["forward_bf16"]
    else:
        assert done.returncode != 0 and "bf16" in done.stderr


def test_pyssl_and_torch_resnets_agree_in_eval():
    """Same architecture: with the torch ResNet's weights copied in, pyssl's forward matches."""
    torch = pytest.importorskip("torch")
    from pyssl.nn import ResNet

    w = runpy.run_path(WORKER, run_name="worker")
    tnet = w["torch_resnet18"](torch, 4)[:-3].double().eval()  # drop pool, flatten, fc
    net = ResNet(18, 3, "cifar", width=4, dtype=np.float64, seed=0)
    tparams = [p for n, p in tnet.named_parameters()]
    mine = net.parameters()
    assert [tuple(p.shape) for p in tparams] == [p.shape for p in mine]
    for a, b in zip(mine, tparams):
        a.data[...] = b.detach().numpy()
    tbufs = [b for n, b in tnet.named_buffers() if "running" in n]
    for (name, buf), t in zip([(n, b) for n, b in net.named_buffers()], tbufs):
        buf[...] = t.numpy()
    x = np.random.default_rng(0).standard_normal((2, 3, 16, 16))
    net.eval()
    ref = tnet(torch.from_numpy(x)).mean(dim=(2, 3)).detach().numpy()
    np.testing.assert_allclose(net(x), ref, rtol=1e-9, atol=1e-10)
    net.train()
    tnet.train()
    ref = tnet(torch.from_numpy(x)).mean(dim=(2, 3)).detach().numpy()
    np.testing.assert_allclose(net(x), ref, rtol=1e-8, atol=1e-9)


def test_pyssl_and_torch_training_steps_agree():
    """Three SGD steps of the benchmark's job from the same weights: the same losses (float64), so
    both sides time the same computation."""
    torch = pytest.importorskip("torch")
    from pyssl.nn import Linear, ResNet, Sequential
    from pyssl.nn.losses import cross_entropy
    from pyssl.optim import SGD

    w = runpy.run_path(WORKER, run_name="worker")
    tnet = w["torch_resnet18"](torch, 2).double().train()
    net = Sequential(ResNet(18, 3, "cifar", width=2, dtype=np.float64, seed=0), Linear(16, 10, dtype=np.float64))
    for a, (name, b) in zip(net.parameters(), tnet.named_parameters()):
        a.data[...] = b.detach().numpy().T if name.endswith("weight") and b.ndim == 2 else b.detach().numpy()
    x = np.random.default_rng(0).standard_normal((6, 3, 8, 8))
    y = np.arange(6) % 10
    opt = SGD(net.parameters(), lr=w["LR"], momentum=w["MOMENTUM"], weight_decay=w["WEIGHT_DECAY"])
    topt = torch.optim.SGD(tnet.parameters(), lr=w["LR"], momentum=w["MOMENTUM"], weight_decay=w["WEIGHT_DECAY"])
    for _ in range(3):
        net.zero_grad()
        out, ctx = net.forward(x)
        loss, g = cross_entropy(out, y)
        net.backward(g, ctx, need_input_grad=False)
        opt.step()
        topt.zero_grad()
        tl = torch.nn.functional.cross_entropy(tnet(torch.from_numpy(x)), torch.from_numpy(y))
        tl.backward()
        topt.step()
        assert loss == pytest.approx(tl.item(), rel=1e-9)
