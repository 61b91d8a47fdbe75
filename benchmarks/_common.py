"""Shared benchmark plumbing: timing (median of repeats), machine info, table and JSON output.

Every benchmark prints a table and, given ``--json PATH``, writes
``{"machine": {...}, "rows": [{"name", "pyssl_s", "baseline", "baseline_s", "speedup"}]}``
with median times in seconds and speedup = baseline_s / pyssl_s (DESIGN.md).
"""
from __future__ import annotations

import os

# Both OpenBLAS copies in the process (numpy's and pyssl's) must stop spinning soon after a call,
# or whichever library ran last keeps a core busy while the other one works and the comparison
# measures the spinner, not the library (shared/notes/build_facts.md §6.3). pyssl sets this for
# its own pool on import; it must be in the environment before numpy loads its copy, so every
# benchmark imports this module first.
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import json
import platform
import statistics
import time


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--json", metavar="PATH", help="also write the rows as JSON")
    p.add_argument("--threads", type=int, default=None, help="thread count for pyssl, numpy and torch (default: all cores)")
    p.add_argument("--repeats", type=int, default=None, help="timed repeats per case (default: per benchmark)")
    p.add_argument("--quick", action="store_true", help="fewer sizes and repeats (smoke run)")
    return p


def set_threads(n: int | None) -> int:
    """Apply one thread count to pyssl, both OpenBLAS pools (via threadpoolctl) and torch."""
    import pyssl

    n = n or os.cpu_count() or 1
    pyssl.set_num_threads(n)
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(n)
    except ImportError:
        pass
    try:
        import torch

        torch.set_num_threads(n)
    except ImportError:
        pass
    return n


def try_torch():
    try:
        import torch

        return torch
    except ImportError:
        return None


ISA_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_tile", "amx_bf16")


def cpu_flags() -> dict:
    """The ISA flags that decide which GEMM kernels can run, from /proc/cpuinfo."""
    try:
        with open("/proc/cpuinfo") as f:
            text = f.read()
    except OSError:
        return {}
    model = next((ln.split(":", 1)[1].strip() for ln in text.splitlines() if ln.startswith("model name")), "?")
    flags = set(next((ln.split(":", 1)[1].split() for ln in text.splitlines() if ln.startswith("flags")), []))
    return {"model": model, **{f: f in flags for f in ISA_FLAGS}}


def slow_torch_bf16() -> bool:
    """True on an x86 CPU without AVX-512, where PyTorch's bf16 autocast has no oneDNN kernels and
    falls to scalar ones (AMD EPYC with AVX2 only, SimCLR step: 9× its fp32 time at the small size,
    17× at medium), so the benchmarks leave it out of the large runs unless asked."""
    f = cpu_flags()
    return bool(f.get("avx2")) and not f.get("avx512f")


def median_time(fn, repeats: int = 20, warmup: int = 3, min_time: float = 0.0) -> float:
    """Median wall time of ``fn()`` over ``repeats`` calls after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    times = []
    t_end = time.perf_counter() + min_time
    while len(times) < repeats or time.perf_counter() < t_end:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def interleaved(fns: dict, repeats: int = 20, warmup: int = 3) -> dict:
    """Median times of several functions called in turn each repeat (same machine state)."""
    for _ in range(warmup):
        for f in fns.values():
            f()
    times = {k: [] for k in fns}
    for _ in range(repeats):
        for k, f in fns.items():
            t0 = time.perf_counter()
            f()
            times[k].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in times.items()}


def machine_info(threads: int) -> dict:
    import numpy as np

    import pyssl

    info = {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(), "threads": threads, "python": platform.python_version(),
            "numpy": np.__version__, "pyssl": pyssl.__version__, "blas_core": pyssl._core.blas_corename()}
    torch = try_torch()
    if torch is not None:
        info["torch"] = torch.__version__
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        if var in os.environ:
            info[var] = os.environ[var]
    info["copy_scaling"] = round(copy_scaling(threads), 2)
    return info


def copy_scaling(threads: int) -> float:
    """How much faster `threads` threads copy a 12 MiB buffer than one thread (pyssl's per-sample
    copy path, rotate90 with k = 0). On a shared VM whose second core is busy this drops to 1 or
    below, and every multi-threaded time in the run is then unrepresentative."""
    import numpy as np

    import pyssl
    import pyssl.pretext as P

    if threads < 2:
        return 1.0
    x = np.ones((256, 3, 64, 64), np.float32)
    before = pyssl.get_num_threads()
    times = {}
    try:
        for t in (1, threads):
            pyssl.set_num_threads(t)
            times[t] = median_time(lambda: P.rotate90(x, 0), repeats=20)
    finally:
        pyssl.set_num_threads(before)
    return times[1] / times[threads]


def row(name: str, pyssl_s: float, baseline: str | None = None, baseline_s: float | None = None, **extra) -> dict:
    r = {"name": name, "pyssl_s": pyssl_s, "baseline": baseline, "baseline_s": baseline_s,
         "speedup": (baseline_s / pyssl_s) if baseline_s else None}
    r.update(extra)
    return r


def report(rows: list[dict], machine: dict, json_path: str | None = None, title: str = "") -> None:
    """Print a Markdown table of the rows and optionally write JSON."""
    extra_keys = [k for k in rows[0] if k not in ("name", "pyssl_s", "baseline", "baseline_s", "speedup")] if rows else []
    if title:
        print(f"\n{title}")
    print(f"threads={machine.get('threads')}  blas={machine.get('blas_core')}  torch={machine.get('torch', 'not installed')}"
          f"  copy_scaling={machine.get('copy_scaling')}")
    if machine.get("threads", 1) > 1 and machine.get("copy_scaling", 2) < 1.2:
        print("warning: a multi-threaded copy is barely faster than a single-threaded one right now "
              "(another load on the cores?); multi-threaded times in this run are not representative")
    print()
    head = ["case", "pyssl (ms)", "baseline", "baseline (ms)", "speedup"] + extra_keys
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for r in rows:
        cells = [r["name"], f"{r['pyssl_s'] * 1e3:.3f}", r["baseline"] or "-",
                 f"{r['baseline_s'] * 1e3:.3f}" if r["baseline_s"] else "-",
                 f"{r['speedup']:.2f}x" if r["speedup"] else "-"]
        cells += [f"{r[k]:.4g}" if isinstance(r[k], float) else str(r[k]) for k in extra_keys]
        print("| " + " | ".join(cells) + " |")
    if json_path:
        with open(json_path, "w") as f:
            json.dump({"machine": machine, "rows": rows}, f, indent=2)
        print(f"\nwrote {json_path}")
