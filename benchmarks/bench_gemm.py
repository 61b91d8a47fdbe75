"""GEMM throughput: pyssl (scipy-openblas32 through the C++ core) against numpy.matmul, float32.

    python benchmarks/bench_gemm.py [--threads N] [--json PATH]

Peak: cores × 32 FP32 FLOP/cycle (2 FMA pipes × 8 lanes × 2 FLOP) × clock. Two peaks are
printed: the nominal one (clock read from /proc/cpuinfo, the guest's TSC clock) and the effective
one (clock given by --effective-ghz, default 3.6 GHz: an FMA-throughput microbenchmark on this
machine class reached ≈116 GFLOP/s per core = 32 × 3.6, see shared/notes/build_facts.md §6.2).
"""
from __future__ import annotations

import os
import re
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
import _common as C  # noqa: E402

import pyssl  # noqa: E402


def nominal_ghz() -> float | None:
    try:
        with open("/proc/cpuinfo") as f:
            m = re.search(r"cpu MHz\s*:\s*([\d.]+)", f.read())
        return float(m.group(1)) / 1e3 if m else None
    except OSError:
        return None


def main():
    p = C.parser(__doc__)
    p.add_argument("--effective-ghz", type=float, default=3.6,
                   help="sustained clock used for the effective peak (default 3.6, measured in build_facts.md)")
    args = p.parse_args()
    threads = C.set_threads(args.threads)
    sizes = [256, 1024] if args.quick else [256, 1024, 2048]
    rng = np.random.default_rng(0)
    flops_per_cycle = 32  # 2 FMA pipes x 8 fp32 lanes x 2 flop
    ghz = nominal_ghz()
    peak_nominal = threads * flops_per_cycle * ghz if ghz else None
    peak_eff = threads * flops_per_cycle * args.effective_ghz
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
                          frac_effective_peak=gf / peak_eff,
                          frac_nominal_peak=(gf / peak_nominal) if peak_nominal else float("nan")))
    m = C.machine_info(threads)
    m["peak"] = (f"{threads} cores x {flops_per_cycle} FLOP/cycle x {args.effective_ghz} GHz effective = {peak_eff:.0f} GFLOP/s; "
                 f"nominal clock {ghz} GHz -> {peak_nominal and round(peak_nominal)} GFLOP/s")
    C.report(rows, m, args.json, title="GEMM (float32, C = A @ B)")
    print("\npeak:", m["peak"])


if __name__ == "__main__":
    main()
