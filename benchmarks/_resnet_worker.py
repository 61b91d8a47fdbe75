"""One measurement of ``benchmarks/bench_resnet.py``, run in a fresh process of its own.

    python benchmarks/_resnet_worker.py --lib pyssl|torch [--precision 32|bf16-mixed] \
        [--batch 128] [--size 32] [--width 64] [--steps S] [--warmup W] [--threads T] [--profile]

Times S training steps after W warm-up steps and prints one JSON line,
``{"ms_per_step": ..., "loss": ..., "info": {...}}``, as the last line of stdout.

The job, identical on both sides: a ResNet-18, CIFAR variant (3×3 stem, no max-pool; He et al.
2016 / solo-learn), on a fixed batch of ``batch`` standard-normal images 3×size×size (numpy, seed
0) with fixed random labels in 0..9; global-average-pooled features → Linear(8w, 10) →
cross-entropy; backward; SGD (lr 0.05, momentum 0.9, weight decay 5e-4) step. BatchNorm in
training mode. The loss is read back as a Python float every step.

PyTorch: eager ``torchvision``-style ResNet-18 written out here (no torchvision needed), fp32, or
``torch.autocast("cpu", torch.bfloat16)`` around forward and loss for ``bf16-mixed``. pyssl
``bf16-mixed``: the forward runs inside ``pyssl.nn.precision.autocast("bf16-mixed")`` (bf16
convolutions and Linear products on oneDNN, float32 master weights, BatchNorm and loss float32).
``--engine im2col`` (pyssl only) runs float32 convolutions on im2col + OpenBLAS instead of oneDNN.

``--cache-mb`` (pyssl only) sets the buffer-cache limit (the step's ~2 GiB of im2col buffers
exceed the 1 GiB default, so part of them is returned to the system and page-faulted back every
step). ``--profile`` (pyssl only) adds the seconds spent per layer type (forward and backward) over
the timed steps to ``info``.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict

LR, MOMENTUM, WEIGHT_DECAY = 0.05, 0.9, 5e-4


def make_batch(batch: int, size: int):
    import numpy as np

    rng = np.random.default_rng(0)
    return (rng.standard_normal((batch, 3, size, size), dtype=np.float32),
            rng.integers(0, 10, size=batch).astype(np.int64))


def resnet18_flops(batch: int, size: int, width: int) -> dict:
    """Multiply-add FLOPs (2 per MAC) of the convolutions and the linear head: forward, and the
    training step (forward + input gradients + weight gradients; no input gradient for the stem,
    whose input needs none)."""
    convs = []  # (C_in, C_out, k, H_out)
    h = size
    convs.append((3, width, 3, h))
    c = width
    for stage in range(4):
        w = width * 2**stage
        for b in range(2):
            stride = 2 if stage > 0 and b == 0 else 1
            if stride == 2:
                h = (h - 1) // 2 + 1
            convs.append((c, w, 3, h))
            convs.append((w, w, 3, h))
            if stride != 1 or c != w:
                convs.append((c, w, 1, h))
            c = w
    fwd = [2 * batch * co * ho * ho * ci * k * k for ci, co, k, ho in convs]
    head = 2 * batch * c * 10
    forward = sum(fwd) + head
    step = 3 * sum(fwd) - fwd[0] + 3 * head
    return {"forward": forward, "step": step}


# -- pyssl ------------------------------------------------------------------------------------------
def run_pyssl(batch, size, width, steps, warmup, threads, profile=False, cache_mb=None, precision="32",
              engine=None) -> dict:
    import contextlib

    import pyssl
    from pyssl.nn import precision as _precision
    from pyssl.nn import Linear, ResNet, Sequential
    from pyssl.nn.losses import cross_entropy
    from pyssl.optim import SGD

    pyssl.set_num_threads(threads)
    if engine is not None:
        pyssl._core.nn.conv_engine_config(engine=engine)
    autocast = (lambda: _precision.autocast("bf16-mixed")) if precision == "bf16-mixed" else contextlib.nullcontext
    x, y = make_batch(batch, size)
    net = Sequential(ResNet(18, in_channels=3, variant="cifar", width=width, seed=0), Linear(8 * width, 10, seed=1))
    opt = SGD(net.parameters(), lr=LR, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY)
    times = defaultdict(float)
    if profile:
        _instrument(net, times)

    def step():
        net.zero_grad()
        with autocast():
            out, ctx = net.forward(x)
        loss, g = cross_entropy(out, y)
        net.backward(g, ctx, need_input_grad=False)
        opt.step()
        return float(loss)

    if cache_mb is not None:
        pyssl.set_buffer_cache_limit(cache_mb << 20)
    for _ in range(warmup):
        step()
    times.clear()
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(steps):
        loss = step()
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    info = {"blas_core": pyssl._core.blas_corename(), "buffer_cache": pyssl.buffer_cache_info(),
            "conv_engine": pyssl._core.nn.conv_engine_config()}
    if profile:
        info["profile_s_per_step"] = {k: v / steps for k, v in sorted(times.items(), key=lambda kv: -kv[1])}
    return {"ms_per_step": elapsed / steps * 1e3, "cpu_ms_per_step": cpu / steps * 1e3, "loss": loss, "info": info}


def _instrument(net, times):
    """Wrap every leaf layer's forward/backward with a timer keyed by its class name (the
    blocks' own Python glue is what remains of the step)."""
    for m in net.modules():
        if m._modules:
            continue
        name = type(m).__name__
        if name.startswith("BatchNorm"):
            name += "+relu" if m.relu else ""
        for kind in ("forward", "backward", "forward_fused", "backward_fused"):
            fn = getattr(m, kind, None)
            if fn is None:
                continue

            def wrapped(*a, _fn=fn, _key=f"{name}.{kind.split('_')[0]}", **k):
                t0 = time.perf_counter()
                try:
                    return _fn(*a, **k)
                finally:
                    times[_key] += time.perf_counter() - t0

            object.__setattr__(m, kind, wrapped)


# -- PyTorch ----------------------------------------------------------------------------------------
def torch_resnet18(torch, width: int):
    nn = torch.nn

    class Basic(nn.Module):
        def __init__(self, cin, c, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, c, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(c)
            self.conv2 = nn.Conv2d(c, c, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(c)
            self.short = (nn.Sequential(nn.Conv2d(cin, c, 1, stride, bias=False), nn.BatchNorm2d(c))
                          if stride != 1 or cin != c else nn.Identity())

        def forward(self, x):
            h = torch.relu(self.bn1(self.conv1(x)))
            return torch.relu(self.bn2(self.conv2(h)) + self.short(x))

    layers = [nn.Conv2d(3, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True)]
    c = width
    for stage in range(4):
        w = width * 2**stage
        for b in range(2):
            layers.append(Basic(c, w, 2 if stage > 0 and b == 0 else 1))
            c = w
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, 10)]
    return nn.Sequential(*layers)


def run_torch(batch, size, width, steps, warmup, threads, precision) -> dict:
    import contextlib

    import torch

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    xn, yn = make_batch(batch, size)
    x, y = torch.from_numpy(xn), torch.from_numpy(yn)
    net = torch_resnet18(torch, width)
    net.train()
    opt = torch.optim.SGD(net.parameters(), lr=LR, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY)
    autocast = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if precision == "bf16-mixed" \
        else contextlib.nullcontext

    def step():
        opt.zero_grad(set_to_none=True)
        with autocast():
            loss = torch.nn.functional.cross_entropy(net(x), y)
        loss.backward()
        opt.step()
        return loss.item()

    for _ in range(warmup):
        step()
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(steps):
        loss = step()
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    info = {"torch": torch.__version__, "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "mkldnn": torch.backends.mkldnn.is_available()}
    return {"ms_per_step": elapsed / steps * 1e3, "cpu_ms_per_step": cpu / steps * 1e3, "loss": loss, "info": info}


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--lib", required=True, choices=["pyssl", "torch"])
    p.add_argument("--precision", default="32", choices=["32", "bf16-mixed"])
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--size", type=int, default=32)
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--profile", action="store_true")
    p.add_argument("--cache-mb", type=int, default=None, help="pyssl buffer-cache limit in MiB (default: the library's)")
    p.add_argument("--engine", default=None, choices=["onednn", "im2col"], help="pyssl float32 convolution engine")
    a = p.parse_args(argv)
    if a.batch < 2 or a.steps < 1 or a.warmup < 0 or a.threads < 1 or a.size < 8 or a.width < 1:
        p.error("--batch >= 2, --steps >= 1, --warmup >= 0, --threads >= 1, --size >= 8, --width >= 1")
    if a.lib == "torch":
        out = run_torch(a.batch, a.size, a.width, a.steps, a.warmup, a.threads, a.precision)
    else:
        out = run_pyssl(a.batch, a.size, a.width, a.steps, a.warmup, a.threads, a.profile, a.cache_mb, a.precision,
                        a.engine)
    out["flops"] = resnet18_flops(a.batch, a.size, a.width)
    print(json.dumps(out), flush=True)
    return out


if __name__ == "__main__":
    main(sys.argv[1:])
