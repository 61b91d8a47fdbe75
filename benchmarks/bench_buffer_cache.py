"""What the output buffer cache buys: the same calls with the cache on and off (limit 0), in one run.

    python benchmarks/bench_buffer_cache.py [--threads N] [--json PATH] [--quick]

Outputs above glibc's largest mmap threshold (32 MiB) are mapped afresh by every allocation and
faulted in page by page when the kernel writes them; smaller ones can be too, after other code
frees large temporaries (a numpy SCARF runs between the calls of the (256, 3, 32, 32) case).
Rows: median time per call and minor page faults per call (getrusage), cache on vs off;
speedup = time with the cache off / time with it on.
"""
from __future__ import annotations

import os
import resource
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from _common import machine_info, parser, report, row, set_threads  # noqa: E402
from bench_mlp_step import pyssl_step_fn  # noqa: E402
from bench_pretext import np_scarf  # noqa: E402
import numpy as np  # noqa: E402

import pyssl  # noqa: E402
import pyssl.pretext as P  # noqa: E402


def minor_faults() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def measure(fn, between, repeats):
    """Median seconds of fn() and mean minor faults inside fn(), with between() before each call."""
    for _ in range(3):
        between()
        fn()
    times, faults = [], 0
    for _ in range(repeats):
        between()
        f0 = minor_faults()
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
        faults += minor_faults() - f0
    return statistics.median(times), faults / repeats


def main():
    args = parser(__doc__.splitlines()[0]).parse_args()
    threads = set_threads(args.threads)
    repeats = args.repeats or (10 if args.quick else 40)
    rng = np.random.default_rng(0)
    img = rng.random((256, 3, 32, 32)).astype(np.float32)
    tab = rng.standard_normal((256, 784)).astype(np.float32)
    X = rng.standard_normal((256, 784)).astype(np.float32)
    _, mlp_step = pyssl_step_fn([784, 1024, 1024], X, rng.integers(0, 1024, 256))  # bench_mlp_step's medium case

    def numpy_temporaries():  # a numpy augmentation (SCARF in numpy): several MiB of temporaries
        np_scarf(img, img, 0.3, 1)

    big = rng.random((256, 3, 128, 128)).astype(np.float32)  # 48 MiB per output
    nothing = lambda: None  # noqa: E731
    cases = {
        "hflip (256,3,128,128)": (lambda: P.hflip(big), nothing),
        "rotate90 k=1 (256,3,128,128)": (lambda: P.rotate90(big, 1), nothing),
        "gaussian_noise (256,3,128,128)": (lambda: P.gaussian_noise(big, 0.1, 1), nothing),
        "scarf_corrupt (256,3,32,32), numpy SCARF between": (lambda: P.scarf_corrupt(img, img, 0.3, 1), numpy_temporaries),
        "mask_features (256,784)": (lambda: P.mask_features(tab, 0.3, 1), nothing),
        "MLP step 784->1024->1024 b256": (mlp_step, nothing),
    }
    limit = pyssl.buffer_cache_info()["limit_bytes"]
    rows = []
    for name, (fn, between) in cases.items():
        pyssl.set_buffer_cache_limit(0)
        t_off, f_off = measure(fn, between, repeats)
        pyssl.set_buffer_cache_limit(limit)
        t_on, f_on = measure(fn, between, repeats)
        rows.append(row(name, t_on, "cache off", t_off, faults_on=f_on, faults_off=f_off))
    report(rows, machine_info(threads), args.json, title=f"output buffer cache on vs off (median of {repeats})")


if __name__ == "__main__":
    main()
