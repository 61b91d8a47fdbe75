"""Per-call overhead of the C++ bindings on tiny inputs, where conversion, validation, output
allocation and the GIL release dominate the kernel's own work.

Each row times one ``pyssl._core`` function on inputs small enough that the math takes well under a
microsecond, and reports the median over ``--repeats`` rounds of ``--number`` calls, in
microseconds per call. Run it under two builds (for example before and after a change to
csrc/python) and compare the columns; on a shared machine the figures are indicative only.

    python benchmarks/bench_binding_overhead.py [--quick] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import timeit
from typing import Callable

import numpy as np

from pyssl import _core


def cases() -> dict[str, Callable[[], object]]:
    """The timed calls, by name: each a zero-argument callable over prepared float32 inputs."""
    rng = np.random.default_rng(0)

    def f32(*shape: int) -> np.ndarray:
        return rng.standard_normal(shape).astype(np.float32)

    z1, z2 = f32(8, 4), f32(8, 4)
    labels = np.arange(8, dtype=np.int64) % 4
    x, w, b = f32(8, 4), f32(4, 3), f32(3)
    logits = f32(8, 5)
    offsets = np.array([0, 12], dtype=np.int64)
    layout = _core.optim.FlatLayout(offsets)
    param, grad, buf = f32(12), f32(12), np.zeros(12, np.float32)
    images = f32(2, 1, 4, 4)
    flags = np.array([0, 1], dtype=np.int64)
    ls = _core.losses
    return {
        "losses.nt_xent (8, 4)": lambda: ls.nt_xent(z1, z2, 0.5),
        "losses.sup_con (8, 4)": lambda: ls.sup_con(z1, labels, 0.5),
        "losses.negative_cosine (8, 4)": lambda: ls.negative_cosine(z1, z2, 0.0, 1.0),
        "losses.vicreg (8, 4)": lambda: ls.vicreg(z1, z2, 25.0, 25.0, 1.0, 1e-4),
        "nn.mse (8, 4)": lambda: _core.nn.mse(z1, z2),
        "nn.cross_entropy (8, 5)": lambda: _core.nn.cross_entropy(logits, labels % 5),
        "nn.dense_forward (8, 4)x(4, 3)": lambda: _core.nn.dense_forward(x, w, b),
        "optim.sgd_step (12,)": lambda: _core.optim.sgd_step(
            layout, param, grad, buf, 1e-3, 0.9, 0.0, 0.0, False, False, False
        ),
        "augment.hflip (2, 1, 4, 4)": lambda: _core.augment.hflip(images, flags),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few calls (a smoke run)")
    parser.add_argument("--number", type=int, default=2000, help="calls per round")
    parser.add_argument("--repeats", type=int, default=15, help="rounds; the median is reported")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()
    number, repeats = (50, 3) if args.quick else (args.number, args.repeats)
    _core.set_num_threads(1)
    results = {}
    print(f"pyssl._core from {_core.__file__}")
    print(f"{'call':<34} {'us/call (median)':>17}")
    for name, fn in cases().items():
        fn()  # warm the buffer cache and any lazy initialisation
        times = timeit.repeat(fn, number=number, repeat=repeats)
        us = statistics.median(times) / number * 1e6
        results[name] = us
        print(f"{name:<34} {us:>17.2f}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"core": _core.__file__, "machine": platform.machine(), "us_per_call": results}, fh, indent=1)


if __name__ == "__main__":
    main()
