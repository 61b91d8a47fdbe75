"""Data-parallel pretraining on MPI: 1 process × T threads against T processes × 1 thread.

The whole ``pyssl.pretrain`` step (views, forward, global-batch loss, backward, gradient sum,
AdamW) for SimCLR at the medium size (MLP 784→1024→1024 with BatchNorm, projector 1024→512→128,
global batch 256, SCARF views), each configuration in its own fresh process(es). Reports the time
per step, the share of a step spent in collectives (gathers for the loss and BatchNorm
statistics, the gradient sum; it includes waiting for the slower rank), and the cost of the
gradient sum per MB for 1–64 MB buffers, from which the README's scaling estimate is made.

    python benchmarks/bench_distributed.py [--steps 20] [--json PATH]

Needs ``pip install ".[mpi]"``; as root, Open MPI needs OMPI_ALLOW_RUN_AS_ROOT=1 (set here).
"""
from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import time

import _common  # noqa: F401  (sets the OpenBLAS / OpenMP environment first)
from _common import machine_info, parser, report, row

SIZES = {"medium": dict(d=784, h=1024, p1=512, p2=128, batch=256),
         "small": dict(d=64, h=256, p1=256, p2=64, batch=256)}


def child(size: str, steps: int, threads: int) -> None:
    import numpy as np

    import pyssl
    from pyssl import distributed, methods, nn

    pyssl.set_num_threads(threads)
    g = distributed.init()
    s = SIZES[size]
    per_rank = s["batch"] // g.world_size
    X = np.random.default_rng(0).standard_normal((s["batch"] * steps, s["d"])).astype(np.float32)
    comm = {"t": 0.0}

    def timed(fn):
        def wrapper(*a, **k):
            t0 = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                comm["t"] += time.perf_counter() - t0
        return wrapper

    if g.world_size > 1:
        g.allgather_rows = timed(g.allgather_rows)
        g.allreduce_sum_ = timed(g.allreduce_sum_)
    enc = nn.MLP([s["d"], s["h"], s["h"]], norm="batch", seed=0)
    method = methods.SimCLR(enc, projector=nn.MLP([s["h"], s["p1"], s["p2"]], norm="batch", seed=1),
                            temperature=0.5)
    epochs, per_epoch_comm = 4, []

    def cb(epoch, history, m):
        per_epoch_comm.append(comm["t"])
        comm["t"] = 0.0

    hist = pyssl.pretrain(method, X, epochs=epochs, batch_size=per_rank, progress=False, callbacks=[cb])
    step = statistics.median(hist["epoch_time"][1:]) / steps
    comm_share = statistics.median(per_epoch_comm[1:]) / statistics.median(hist["epoch_time"][1:])
    out = {"step_s": step, "comm_share": comm_share if g.world_size > 1 else 0.0,
           "grad_mb": sum(p.data.nbytes for p in method.parameters()) / 2**20}
    if g.world_size > 1:
        per_mb = {}
        for mb in (1, 4, 16, 64):
            buf = np.ones(mb * 2**18, np.float32)
            for _ in range(2):
                g.allreduce_sum_(buf)
            ts = []
            for _ in range(7):
                g.barrier()
                t0 = time.perf_counter()
                g.allreduce_sum_(buf)
                ts.append(time.perf_counter() - t0)
            per_mb[mb] = statistics.median(ts)
        out["allreduce_s"] = per_mb
    if g.is_main:
        print("RESULT " + json.dumps(out), flush=True)


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--size", default="medium", choices=sorted(SIZES))
    p.add_argument("--child", default=None, help=argparse_hidden())
    args = p.parse_args()
    threads = args.threads or os.cpu_count() or 2
    if args.child:
        child(args.size, args.steps, threads)
        return
    exe = shutil.which("mpiexec") or os.path.join(os.path.dirname(sys.executable), "mpiexec")
    if not os.path.exists(exe):
        sys.exit("bench_distributed needs mpiexec: pip install '.[mpi]'")
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    me = os.path.abspath(__file__)
    base = [sys.executable, me, "--size", args.size, "--steps", str(args.steps)]
    configs = {"1 process x %d threads" % threads: base + ["--child", "1", "--threads", str(threads)],
               "%d processes x 1 thread" % threads: [exe, "-n", str(threads), "--oversubscribe", *base,
                                                     "--child", "1", "--threads", "1"]}
    results = {k: [] for k in configs}
    for _ in range(2):  # alternate the configurations, each in fresh processes
        for name, cmd in configs.items():
            res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
            line = [ln for ln in res.stdout.splitlines() if ln.startswith("RESULT ")]
            if res.returncode != 0 or not line:
                sys.exit(f"{name} failed:\n{res.stdout}\n{res.stderr}")
            results[name].append(json.loads(line[0][7:]))
    single, multi = (min(v, key=lambda r: r["step_s"]) for v in results.values())
    rows = [row(f"SimCLR {args.size} step, {name}", r["step_s"], "1 process x %d threads" % threads,
                single["step_s"], comm_share=round(r["comm_share"], 3), grad_mb=round(r["grad_mb"], 1))
            for name, r in zip(configs, (single, multi))]
    for mb, t in multi["allreduce_s"].items():
        rows.append(row(f"gradient sum of {mb} MB over {threads} ranks", t, None, None,
                        comm_share=0.0, grad_mb=float(mb)))
    print(f"uptime: {open('/proc/loadavg').read().split()[:3]}")
    report(rows, machine_info(threads), args.json, title="bench_distributed")
    per_mb = {int(k): v for k, v in multi["allreduce_s"].items()}
    print(f"\ngradient sum: {per_mb[64] / 64 * 1e3:.3f} ms per MB at 64 MB ({64 / per_mb[64] / 1024:.2f} GB/s) "
          f"on this machine's shared memory")


def argparse_hidden():
    import argparse

    return argparse.SUPPRESS


if __name__ == "__main__":
    main()
