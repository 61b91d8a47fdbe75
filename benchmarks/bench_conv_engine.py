"""Convolution engines on ResNet-18's (CIFAR variant) convolution shapes: im2col + OpenBLAS against
oneDNN float32 / bf16, batch-split (thread-invariant) against one multi-threaded primitive, plain
nchw against blocked layouts; oneDNN's implementation per pass; and whether each pass gives the
same bits at 1 and 2 threads.

    python benchmarks/bench_conv_engine.py [--batch 128] [--reps 2] [--quick] [--json PATH]

Per configuration and layer: wall and CPU (time.process_time, all threads) ms of forward +
backward-data + backward-weights, summed over the distinct ResNet-18 layers weighted by how often
each occurs in the network. --quick: batch 16, 1 rep.
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np

import pyssl
from pyssl import _core

# (C_in, C_out, H=W, kernel, stride, count in ResNet-18 cifar)
LAYERS = [(3, 64, 32, 3, 1, 1), (64, 64, 32, 3, 1, 4), (64, 128, 32, 3, 2, 1), (128, 128, 16, 3, 1, 3),
          (64, 128, 32, 1, 2, 1), (128, 256, 16, 3, 2, 1), (256, 256, 8, 3, 1, 3), (128, 256, 16, 1, 2, 1),
          (256, 512, 8, 3, 2, 1), (512, 512, 4, 3, 1, 3), (256, 512, 8, 1, 2, 1)]


def run_layer(engine, x, w, dy, stride, pad, bf16):
    dw = np.zeros_like(w)
    if engine == "im2col":
        y, cols = _core.nn.conv2d_forward(x, w, None, (stride, stride), (pad, pad))
        dx = _core.nn.conv2d_backward(cols, w, dy, list(x.shape), dw, None, (stride, stride), (pad, pad), False, True)
    else:
        y = _core.nn.conv2d_dnnl_forward(x, w, None, (stride, stride), (pad, pad), (1, 1), None, bf16)
        dx = _core.nn.conv2d_dnnl_backward(x, w, dy, dw, None, (stride, stride), (pad, pad), False, True, (1, 1),
                                           None, bf16)
    return y, dx, dw


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--reps", type=int, default=2)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--json", default=None)
    a = p.parse_args(argv)
    if a.quick:
        a.batch, a.reps = 16, 1
    pyssl.set_num_threads(a.threads)
    configs = [("im2col fp32", "im2col", False, True, True),
               ("onednn fp32 split blocked", "onednn", False, True, True),
               ("onednn fp32 split plain", "onednn", False, True, False),
               ("onednn fp32 whole blocked", "onednn", False, False, True),
               ("onednn bf16 split blocked", "onednn", True, True, True),
               ("onednn bf16 whole blocked", "onednn", True, False, True)]
    rng = np.random.default_rng(0)
    results = {}
    impls = {}
    invariance = {}
    for label, engine, bf16, split, blocked in configs:
        if engine == "onednn":
            _core.nn.conv_engine_config(batch_split=split, blocked=blocked)
        wall = cpu = 0.0
        for (ci, co, hw, k, s, count) in LAYERS:
            x = rng.standard_normal((a.batch, ci, hw, hw)).astype(np.float32)
            w = (rng.standard_normal((co, ci, k, k)) * 0.1).astype(np.float32)
            pad = k // 2
            ho = (hw + 2 * pad - k) // s + 1
            dy = rng.standard_normal((a.batch, co, ho, ho)).astype(np.float32)
            run_layer(engine, x, w, dy, s, pad, bf16)  # warm-up: primitive creation
            best_w, best_c = float("inf"), float("inf")
            for _ in range(a.reps):
                t0, c0 = time.perf_counter(), time.process_time()
                run_layer(engine, x, w, dy, s, pad, bf16)
                best_w = min(best_w, time.perf_counter() - t0)
                best_c = min(best_c, time.process_time() - c0)
            wall += count * best_w
            cpu += count * best_c
            if engine == "onednn" and (ci, co, k, s) in ((64, 64, 3, 1), (3, 64, 3, 1), (256, 512, 1, 2)):
                cfg = _core.nn.conv_engine_config()
                key = "bf16" if bf16 else "fp32"
                impls.setdefault(label, {})[f"{ci}->{co} k{k} s{s}"] = {
                    n: cfg[n + ("_bf16" if bf16 else "")] for n in ("forward", "backward_data", "backward_weights")}
                outs = []
                for t in (1, 2):
                    pyssl.set_num_threads(t)
                    outs.append(run_layer(engine, x, w, dy, s, pad, bf16))
                pyssl.set_num_threads(a.threads)
                invariance.setdefault(label, {})[f"{ci}->{co} k{k} s{s} {key}"] = {
                    n: bool(o1.tobytes() == o2.tobytes()) for n, o1, o2 in zip(("forward", "backward_data",
                                                                                "backward_weights"), *outs)}
        results[label] = {"wall_ms": 1e3 * wall, "cpu_ms": 1e3 * cpu}
        print(f"{label:30s} wall {1e3 * wall:9.1f} ms   CPU {1e3 * cpu:9.1f} ms   (batch {a.batch}, all ResNet-18 convs)")
    _core.nn.conv_engine_config(batch_split=True, blocked=True)
    print(json.dumps({"impl": impls, "bit_identical_1_vs_2_threads": invariance}, indent=1))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"batch": a.batch, "results": results, "impl": impls, "invariance": invariance}, f, indent=1)


if __name__ == "__main__":
    main()
