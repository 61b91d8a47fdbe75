"""ResNet-18 (CIFAR variant) training step: pyssl fp32 against PyTorch eager fp32 and bf16
autocast, each measurement in a fresh process, alternating within rounds.

    python benchmarks/bench_resnet.py [--batch 128] [--size 32] [--width 64] [--steps N]
                                      [--repeats R] [--threads T] [--json PATH] [--quick]
                                      [--cache-mb MB] [--profile] [--im2col]

The step (``_resnet_worker.py``): forward of a batch of 3×size×size images through ResNet-18
(3×3 stem, no max-pool) → Linear(512, 10) → cross-entropy → backward → SGD with momentum.
Configurations per round: pyssl fp32, pyssl bf16-mixed (when pyssl has oneDNN), torch fp32, torch
bf16 autocast, and — with ``--cache-mb`` — pyssl fp32 with that buffer-cache limit, with
``--im2col`` pyssl fp32 on the portable im2col + OpenBLAS convolutions. The table gives the fastest round's wall ms per step
(other load on a shared machine only adds time) and CPU ms per step (all threads; on a machine
whose cores other work shares, CPU time is the steadier figure), the
convolution GFLOP/s of the step (FLOPs counted analytically, 2 per multiply-add, forward + input
and weight gradients) and its fraction of the GEMM engine's peak as ``bench_gemm.py`` defines it
(threads × FLOP/cycle × nominal clock). ``--quick``: 2 timed steps, 1 round.
"""
from __future__ import annotations

import os

CALLER_ENV = dict(os.environ)

import json  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C  # noqa: E402
from bench_gemm import flops_per_cycle, nominal_ghz  # noqa: E402
from bench_pretrain import load_average  # noqa: E402

WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_resnet_worker.py")


def measure(lib, precision, args, steps, warmup, extra=()) -> dict:
    cmd = [sys.executable, WORKER, "--lib", lib, "--precision", precision, "--batch", str(args.batch),
           "--size", str(args.size), "--width", str(args.width), "--steps", str(steps), "--warmup", str(warmup),
           "--threads", str(args.threads), *extra]
    env = dict(CALLER_ENV)
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as _common: no spinning pool on a shared machine
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _pyssl_has_bf16() -> bool:
    """Whether this pyssl has bf16 convolutions (asked in a subprocess: pyssl is never imported here)."""
    code = "from pyssl import _core; print(int(_core.nn.conv_engine_config()['available']))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=dict(CALLER_ENV))
    return done.returncode == 0 and done.stdout.strip() == "1"


def main(argv=None):
    p = C.parser(__doc__.splitlines()[0])
    p.set_defaults(threads=2)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--size", type=int, default=32)
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--steps", type=int, default=None, help="timed steps per measurement (default 5; 2 with --quick)")
    p.add_argument("--cache-mb", type=int, default=None, help="also run pyssl with this buffer-cache limit (MiB)")
    p.add_argument("--profile", action="store_true", help="print pyssl's seconds per layer type")
    p.add_argument("--im2col", action="store_true", help="also run pyssl fp32 on the im2col + OpenBLAS engine")
    p.add_argument("--torch-bf16", action="store_true",
                   help="time torch bf16 autocast even on a CPU without AVX-512 (scalar kernels: very slow)")
    args = p.parse_args(argv)
    steps = args.steps or (2 if args.quick else 5)
    warmup = 1
    repeats = args.repeats or (1 if args.quick else 2)
    torch = C.try_torch()

    prof = ["--profile"] if args.profile else []
    configs = [("pyssl fp32", "pyssl", "32", prof)]
    if _pyssl_has_bf16():
        configs.append(("pyssl bf16-mixed", "pyssl", "bf16-mixed", prof))
    if args.im2col:
        configs.append(("pyssl fp32, im2col engine", "pyssl", "32", ["--engine", "im2col"]))
    if args.cache_mb is not None:
        configs.append((f"pyssl fp32, cache {args.cache_mb} MiB", "pyssl", "32", ["--cache-mb", str(args.cache_mb)]))
    if torch is not None:
        configs.append(("torch fp32", "torch", "32", []))
        if C.slow_torch_bf16() and not args.torch_bf16:
            print("skipped: torch bf16 autocast (no AVX-512 on this CPU: PyTorch's bf16 runs on scalar kernels; "
                  "--torch-bf16 times it anyway)")
        else:
            configs.append(("torch bf16 autocast", "torch", "bf16-mixed", []))

    fpc, ghz = flops_per_cycle(), nominal_ghz() or 3.0
    peak = args.threads * fpc * ghz
    before = load_average()
    print(f"before: {before}")
    wall = {c[0]: [] for c in configs}
    cpu = {c[0]: [] for c in configs}
    outs = {}
    for r in range(repeats):
        for label, lib, prec, extra in configs:
            out = measure(lib, prec, args, steps, warmup, extra)
            wall[label].append(out["ms_per_step"])
            cpu[label].append(out["cpu_ms_per_step"])
            outs[label] = out
            print(f"round {r + 1}/{repeats} {label:<28} {out['ms_per_step']:10.1f} ms/step wall, "
                  f"{out['cpu_ms_per_step']:10.1f} ms/step CPU (loss {out['loss']:.4f})", flush=True)
    after = load_average()
    print(f"after: {after}")
    flops = next(iter(outs.values()))["flops"]["step"]
    tag = " [--quick, loaded machine: indicative only]" if args.quick else ""
    print(f"\nResNet-18 cifar, batch {args.batch}, 3x{args.size}x{args.size}, width {args.width}, "
          f"{args.threads} threads, {steps} steps x {repeats} round(s){tag}")
    print(f"step FLOPs (convolutions + head, fwd + bwd): {flops / 1e9:.1f} GFLOP; GEMM peak "
          f"{args.threads} x {fpc} x {ghz:.2f} GHz = {peak:.0f} GFLOP/s")
    print("| configuration | wall ms/step (best) | CPU ms/step (best) | GFLOP/s (wall) | of peak | "
          "torch fp32 / this, wall | torch fp32 / this, CPU |")
    print("|---|---|---|---|---|---|---|")
    best = {k: min(v) for k, v in wall.items()}
    for label, *_ in configs:
        gf = flops / (best[label] / 1e3) / 1e9
        ratio = f"{best['torch fp32'] / best[label]:.2f}x" if "torch fp32" in best else "-"
        cratio = f"{min(cpu['torch fp32']) / min(cpu[label]):.2f}x" if "torch fp32" in cpu else "-"
        print(f"| {label} | {best[label]:.0f} | {min(cpu[label]):.0f} | {gf:.1f} | {gf / peak:.1%} | {ratio} | {cratio} |")
    for label in ("pyssl fp32", "pyssl bf16-mixed"):
        prof_s = outs.get(label, {}).get("info", {}).get("profile_s_per_step")
        if prof_s:
            print(f"\n{label}: seconds per step by layer (wall):")
            for k, v in prof_s.items():
                print(f"  {k:<32} {v:8.3f}")
    eng = outs["pyssl fp32"]["info"].get("conv_engine")
    if eng:
        print("\npyssl convolution engine:", json.dumps(eng))
    rows = []
    for base in ("torch fp32", "torch bf16 autocast"):
        if base in wall:
            rows.append(C.row(f"resnet18-cifar b{args.batch} step: pyssl fp32", statistics.median(wall["pyssl fp32"]) / 1e3,
                              base, statistics.median(wall[base]) / 1e3, pyssl_min_s=best["pyssl fp32"] / 1e3,
                              baseline_min_s=best[base] / 1e3))
    if "pyssl bf16-mixed" in wall and "torch bf16 autocast" in wall:
        rows.append(C.row(f"resnet18-cifar b{args.batch} step: pyssl bf16-mixed",
                          statistics.median(wall["pyssl bf16-mixed"]) / 1e3, "torch bf16 autocast",
                          statistics.median(wall["torch bf16 autocast"]) / 1e3,
                          pyssl_min_s=best["pyssl bf16-mixed"] / 1e3, baseline_min_s=best["torch bf16 autocast"] / 1e3))
    machine = C.machine_info(args.threads)
    machine.update(load_before=before, load_after=after, peak_gflops=peak, step_flops=flops, quick=bool(args.quick))
    C.report(rows, machine, args.json, title="ResNet-18 training step (seconds per step)")
    return wall


if __name__ == "__main__":
    main()
