"""The whole job: ``pyssl.pretrain`` of SimCLR (views, forward, NT-Xent, backward, AdamW) against
the same work in PyTorch eager, fp32 and bf16 autocast, plus pyssl in a process that imported
PyTorch first.

    python benchmarks/bench_pretrain.py [--sizes small,medium,large] [--steps N] [--repeats R]
                                        [--threads T] [--json PATH] [--quick]

Sizes (encoder d→h→h with BatchNorm / projector h→p1→p2 / batch):
small 64→256→256 / 256→256→64 / 256, medium 784→1024→1024 / 1024→512→128 / 256,
large 2048→4096→4096 / 4096→1024→256 / 512. The job is described in ``_pretrain_worker.py``.

Every measurement runs in a fresh process of its own (``_pretrain_worker.py``) with the
environment this script was started with, so neither library's thread pool sees the other's, and
each starts as it would for a user. The configurations alternate within each of ``--repeats``
rounds (pyssl, torch fp32, pyssl with torch imported first, torch bf16, pyssl bf16-mixed when
``pyssl.pretrain`` has a ``precision`` argument). The headline table gives the fastest round's
milliseconds per step (other load on a shared machine only adds time); the DESIGN.md rows and
JSON give the median over rounds, with the fastest as ``pyssl_min_s`` / ``baseline_min_s``.
Two threads by default, for every library.
"""
from __future__ import annotations

import os

# The environment as the caller gave it, before _common sets the wait policies for the
# in-process check below: the workers must start as a user's process would.
CALLER_ENV = dict(os.environ)

import inspect  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C  # noqa: E402

WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_pretrain_worker.py")

# name: (encoder dims, projector dims, batch, timed steps, warm-up steps)
SIZES = {
    "small": ([64, 256, 256], [256, 256, 64], 256, 200, 20),
    "medium": ([784, 1024, 1024], [1024, 512, 128], 256, 40, 5),
    "large": ([2048, 4096, 4096], [4096, 1024, 256], 512, 6, 2),
}

def load_average() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "load average: " + ", ".join(f"{v:.2f}" for v in os.getloadavg())


def pyssl_has_precision() -> bool:
    import pyssl

    return "precision" in inspect.signature(pyssl.pretrain).parameters


def measure(lib: str, precision: str, size: str, steps: int | None, threads: int) -> dict:
    """Run one worker process and return its JSON result."""
    enc, proj, batch, default_steps, warmup = SIZES[size]
    cmd = [sys.executable, WORKER, "--lib", lib, "--precision", precision,
           "--dims", ",".join(map(str, enc)), "--proj", ",".join(map(str, proj)), "--batch", str(batch),
           "--steps", str(steps or default_steps), "--warmup", str(warmup), "--threads", str(threads)]
    done = subprocess.run(cmd, capture_output=True, text=True, env=CALLER_ENV)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def configurations(has_torch: bool, has_bf16: bool) -> list[tuple[str, str, str]]:
    """(label, worker lib, precision) in the order they alternate within a round."""
    out = [("pyssl fp32", "pyssl", "32")]
    if has_torch:
        out += [("torch fp32", "torch", "32"), ("pyssl fp32, torch imported first", "pyssl-torch-first", "32"),
                ("torch bf16 autocast", "torch", "bf16-mixed")]
    if has_bf16:
        out.append(("pyssl bf16-mixed", "pyssl", "bf16-mixed"))
    return out


def summary_rows(size: str, times: dict[str, list[float]]) -> list[dict]:
    """DESIGN.md rows for one size from per-configuration lists of ms/step (median over rounds)."""
    enc, proj, batch, _, _ = SIZES[size]
    med = {k: statistics.median(v) / 1e3 for k, v in times.items()}
    low = {k: min(v) / 1e3 for k, v in times.items()}
    shape = f"{'->'.join(map(str, enc))} / {'->'.join(map(str, proj[1:]))} / b{batch}"
    rows = []

    def add(case, mine, base):
        if mine in med and base in med:
            rows.append(C.row(f"{size} {shape}: {case}", med[mine], base, med[base],
                              pyssl_min_s=low[mine], baseline_min_s=low[base]))

    add("pyssl fp32", "pyssl fp32", "torch fp32")
    add("pyssl fp32", "pyssl fp32", "torch bf16 autocast")
    add("pyssl bf16-mixed", "pyssl bf16-mixed", "torch fp32")
    add("pyssl bf16-mixed", "pyssl bf16-mixed", "torch bf16 autocast")
    # speedup < 1 here is the slowdown that importing torch first causes
    add("pyssl fp32 after import torch", "pyssl fp32, torch imported first", "pyssl fp32")
    return rows


def headline(size: str, times: dict[str, list[float]]) -> str:
    """One line of the README-style table: ms/step per configuration (the fastest of the rounds:
    on a shared machine other load only ever adds time) and the ratios."""
    best = {k: min(v) for k, v in times.items()}
    cells = [size] + [f"{best[k]:.2f}" if k in best else "-" for k in
                      ("pyssl fp32", "pyssl bf16-mixed", "torch fp32", "torch bf16 autocast",
                       "pyssl fp32, torch imported first")]
    mine = min(v for k, v in best.items() if k in ("pyssl fp32", "pyssl bf16-mixed"))
    torch_best = min((v for k, v in best.items() if k.startswith("torch")), default=None)
    cells.append(f"{best['torch fp32'] / best['pyssl fp32']:.2f}x" if "torch fp32" in best else "-")
    cells.append(f"{torch_best / mine:.2f}x" if torch_best else "-")
    first = best.get("pyssl fp32, torch imported first")
    cells.append(f"{first / best['pyssl fp32']:.2f}x" if first else "-")
    return "| " + " | ".join(cells) + " |"


def main(argv=None):
    p = C.parser(__doc__.splitlines()[0])
    p.set_defaults(threads=2)
    p.add_argument("--sizes", default="small,medium,large", help="comma-separated subset of " + ",".join(SIZES))
    p.add_argument("--steps", type=int, default=None, help="timed steps per measurement (default: per size)")
    p.add_argument("--torch-bf16", action="store_true",
                   help="time torch bf16 autocast at large even on a CPU without AVX-512 (minutes a step)")
    args = p.parse_args(argv)
    sizes = ["small", "medium"] if args.quick and args.sizes == p.get_default("sizes") else args.sizes.split(",")
    unknown = [s for s in sizes if s not in SIZES]
    if unknown:
        p.error(f"--sizes: unknown {unknown}; choose from {','.join(SIZES)}")
    repeats = args.repeats or (1 if args.quick else 2)
    threads = args.threads

    flags = C.cpu_flags()
    print("cpu:", flags.pop("model", "?"), " ".join(f"{k}={'yes' if v else 'no'}" for k, v in flags.items()))
    print("before:", load_average())
    machine = C.machine_info(threads)
    machine.update(C.cpu_flags())
    machine["load_before"] = load_average()
    for var in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "OPENBLAS_THREAD_TIMEOUT", "OMP_NUM_THREADS"):
        machine[f"caller_{var}"] = CALLER_ENV.get(var, "unset")
    torch = C.try_torch()
    configs = configurations(torch is not None, pyssl_has_precision())

    times = {s: {label: [] for label, _, _ in configs} for s in sizes}
    # Without AVX-512 PyTorch's bf16 autocast falls to scalar kernels (on an AMD EPYC with AVX2
    # only: 182 ms against 21 ms fp32 at small, 2242 against 129 at medium); at large one step
    # would take about a minute, and fp32 is PyTorch's best there anyway.
    skip = {("large", "torch bf16 autocast")} if C.slow_torch_bf16() and not args.torch_bf16 else set()
    for s, label in sorted(skip):
        if s in times:
            print(f"skipped: {s} {label} (no AVX-512 on this CPU: PyTorch's bf16 runs ~15x slower than its fp32)")
            del times[s][label]
    info = {}
    for r in range(repeats):
        for s in sizes:
            for label, lib, precision in configs:
                if (s, label) in skip:
                    continue
                out = measure(lib, precision, s, args.steps, threads)
                times[s][label].append(out["ms_per_step"])
                info.setdefault(label, out["info"])
                print(f"round {r + 1}/{repeats} {s:>6} {label:<34} {out['ms_per_step']:9.3f} ms/step"
                      f"  (loss {out['loss']:.4f})", flush=True)

    print("\nGEMM paths that ran:")
    for label, i in info.items():
        if "blas_core" in i:
            ob = i.get("openblas", {})
            omp = ", ".join(lib["filepath"] for lib in i.get("openmp", []))
            print(f"  {label}: OpenBLAS {ob.get('version', '?')} core={ob.get('architecture', i['blas_core'])}"
                  f" threading={ob.get('threading_layer', '?')}; OpenMP: {omp or '?'}")
        else:
            print(f"  {label}: torch {i['torch']} capability={i['cpu_capability']}"
                  f" oneDNN matmul={i['onednn_matmul']}; " + "; ".join(i["config"]))
    machine["gemm"] = info
    machine["load_after"] = load_average()
    print("after:", machine["load_after"])

    print(f"\nms/step, fastest of {repeats} round(s), {threads} threads")
    print("| size | pyssl fp32 | pyssl bf16-mixed | torch fp32 | torch bf16 autocast | pyssl fp32 after import torch"
          " | pyssl vs torch fp32 | pyssl best vs torch best | import-torch-first slowdown |")
    print("|" + "---|" * 9)
    for s in sizes:
        print(headline(s, times[s]))
    rows = [row for s in sizes for row in summary_rows(s, times[s])]
    C.report(rows, machine, args.json, title="SimCLR pretrain, whole loop (seconds per step as DESIGN.md rows)")
    return times


if __name__ == "__main__":
    main()
