"""GEMM throughput: pyssl (scipy-openblas32 through the C++ core) against numpy.matmul, float32.

    python benchmarks/bench_gemm.py [--threads N] [--json PATH]

Peak = threads × FP32 FLOP/cycle × clock. FLOP/cycle = 2 FMA pipes × lanes × 2: 16 lanes on an
Intel CPU with AVX-512 (two 512-bit FMA units), 8 on AVX2-only CPUs and on AMD Zen 4 (which
executes 512-bit FMAs as two 256-bit halves). The clock is the nominal one from /proc/cpuinfo
(the guest's TSC clock); turbo can lift sustained throughput above this nominal peak, so
--ghz overrides it when the sustained clock is known.
"""
from __future__ import annotations

import os
import re
import sys


sys.path.insert(0, os.path.dirname(__file__))
import _common as C  # noqa: E402
import numpy as np  # noqa: E402  (after _common: it sets the BLAS thread environment)

import pyssl  # noqa: E402


def flops_per_cycle() -> int:
    try:
        with open("/proc/cpuinfo") as f:
            info = f.read()
    except OSError:
        return 32
    intel = "GenuineIntel" in info
    if "avx512f" in info and intel:
        return 64
    return 32


def nominal_ghz() -> float | None:
    try:
        with open("/proc/cpuinfo") as f:
            m = re.search(r"cpu MHz\s*:\s*([\d.]+)", f.read())
        return float(m.group(1)) / 1e3 if m else None
    except OSError:
        return None


def main():
    p = C.parser(__doc__)
    p.add_argument("--ghz", type=float, default=None, help="clock for the peak (default: nominal, /proc/cpuinfo)")
    args = p.parse_args()
    threads = C.set_threads(args.threads)
    sizes = [256, 1024] if args.quick else [256, 1024, 2048]
    rng = np.random.default_rng(0)
    fpc = flops_per_cycle()
    ghz = args.ghz or nominal_ghz() or 3.0
    peak = threads * fpc * ghz
    rows = []
    for n in sizes:
        a = rng.standard_normal((n, n)).astype(np.float32)
        b = rng.standard_normal((n, n)).astype(np.float32)
        reps = args.repeats or (30 if n <= 1024 else 8)
        t = C.interleaved({"pyssl": lambda: pyssl._core.matmul(a, b), "numpy": lambda: np.matmul(a, b)},
                          repeats=reps)
        gf = 2 * n**3 / t["pyssl"] / 1e9
        rows.append(C.row(f"sgemm {n}^3", t["pyssl"], "numpy.matmul", t["numpy"],
                          pyssl_gflops=gf, numpy_gflops=2 * n**3 / t["numpy"] / 1e9,
                          frac_of_peak=gf / peak))
    m = C.machine_info(threads)
    m["peak"] = f"{threads} threads x {fpc} FLOP/cycle x {ghz:.2f} GHz = {peak:.0f} GFLOP/s"
    C.report(rows, m, args.json, title="GEMM (float32, C = A @ B)")
    print("\npeak:", m["peak"])


if __name__ == "__main__":
    main()
