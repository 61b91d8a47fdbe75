"""MAE pretraining step with a ViT-Tiny encoder: pyssl against the same MAE in PyTorch eager,
fp32 and bf16 autocast.

    python benchmarks/bench_vit_mae.py [--steps N] [--repeats R] [--threads T] [--batch B]
                                       [--json PATH] [--quick]

ViT-Tiny (patch 4 on 3×32×32, dim 192, depth 12, heads 3), batch 128, mask ratio 0.75, decoder
128-wide × 2 blocks; the job is described in ``_vit_mae_worker.py``. Every measurement runs in
a fresh process with the caller's environment; the configurations alternate within each round
(pyssl fp32, torch fp32, torch bf16 autocast, pyssl bf16-mixed when ``pyssl.pretrain`` has a
``precision`` argument). Reported: the fastest round's ms/step (other load only adds time) and
the median over rounds in the JSON rows. ``--quick``: 3 timed steps, 1 round. Two threads by
default for every library.
"""
from __future__ import annotations

import os

CALLER_ENV = dict(os.environ)

import inspect  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C  # noqa: E402

WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_vit_mae_worker.py")


def measure(lib, precision, batch, steps, warmup, threads, model, env=None) -> dict:
    dim, depth, heads = model
    cmd = [sys.executable, WORKER, "--lib", lib, "--precision", precision, "--batch", str(batch),
           "--steps", str(steps), "--warmup", str(warmup), "--threads", str(threads),
           "--dim", str(dim), "--depth", str(depth), "--heads", str(heads)]
    done = subprocess.run(cmd, capture_output=True, text=True, env={**CALLER_ENV, **(env or {})})
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def mae_step_flops(batch, model, dec=(128, 2, 4), img=32, patch=4, channels=3, mask_ratio=0.75) -> float:
    """Multiply-add FLOPs (2 per MAC) of forward + backward (≈ 3× forward) of the GEMMs and the
    attention products of one step: the GEMM engine's work."""
    dim, depth, _ = model
    L = (img // patch) ** 2
    P = channels * patch * patch
    k = int(L * (1 - mask_ratio)) + 1

    def blocks(n_tok, d, n):
        return n * (n_tok * (12 * d * d) + 2 * n_tok * n_tok * d)  # qkv+proj+mlp(4x) MACs, QKᵀ and PV

    macs = batch * (L * P * dim) + blocks(k, dim, depth) * batch
    macs += batch * ((k - 1) * dim * dec[0] + blocks(L, dec[0], dec[1]) + L * dec[0] * P)
    return 3 * 2 * macs


def main(argv=None):
    p = C.parser(__doc__.splitlines()[0])
    p.set_defaults(threads=2)
    p.add_argument("--steps", type=int, default=None, help="timed steps per measurement (default 10, quick 3)")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--model", default="192,12,3", help="dim,depth,heads of the encoder (default ViT-Tiny)")
    p.add_argument("--torch-bf16", action="store_true",
                   help="time torch bf16 autocast even on a CPU without AVX-512 (scalar kernels: very slow)")
    args = p.parse_args(argv)
    steps = args.steps or (3 if args.quick else 10)
    warmup = 1 if args.quick else 2
    repeats = args.repeats or (1 if args.quick else 3)
    model = tuple(int(v) for v in args.model.split(","))
    import pyssl

    configs = [("pyssl fp32", "pyssl", "32", None)]
    if C.try_torch() is not None:
        # PyTorch's libgomp spin-waits by default: on a machine whose cores are busy with other
        # work that costs it several times its time, so it is also measured with passive waiting
        passive = {"OMP_WAIT_POLICY": "PASSIVE"}
        configs += [("torch fp32", "torch", "32", None), ("torch fp32 passive", "torch", "32", passive)]
        if C.slow_torch_bf16() and not args.torch_bf16:
            print("skipped: torch bf16 autocast (no AVX-512 on this CPU: PyTorch's bf16 runs on scalar kernels; "
                  "--torch-bf16 times it anyway)")
        else:
            configs += [("torch bf16 autocast", "torch", "bf16-mixed", None),
                        ("torch bf16 passive", "torch", "bf16-mixed", passive)]
    if "precision" in inspect.signature(pyssl.pretrain).parameters:
        configs.append(("pyssl bf16-mixed", "pyssl", "bf16-mixed", None))
    machine = C.machine_info(args.threads)
    times = {label: [] for label, _, _, _ in configs}
    for r in range(repeats):
        for label, lib, precision, env in configs:
            out = measure(lib, precision, args.batch, steps, warmup, args.threads, model, env)
            times[label].append(out["ms_per_step"])
            print(f"round {r + 1}/{repeats} {label:<22} {out['ms_per_step']:9.1f} ms/step (loss {out['loss']:.4f})",
                  flush=True)
    flops = mae_step_flops(args.batch, model)
    gemm = measure("gemm", "32", args.batch, steps, warmup, args.threads, model)["info"]
    machine["gemm_gflops"] = gemm["gflops"]
    print(f"\nViT dim,depth,heads={model}, batch {args.batch}, mask 0.75, {args.threads} threads, "
          f"{steps} steps; fastest of {repeats} round(s). Loaded machine: indicative only.")
    print(f"GEMM work per step ≈ {flops / 1e9:.1f} GFLOP (forward + backward); pyssl GEMM engine on the "
          f"{gemm['shape']} product: {gemm['gflops']:.1f} GFLOP/s (the step's FLOP limit ≈ "
          f"{flops / gemm['gflops'] / 1e6:.0f} ms)")
    print("| configuration | ms/step | GFLOP/s | % of GEMM rate | vs torch fp32 | vs torch bf16 | vs torch fp32 passive | "
          "vs torch bf16 passive |")
    print("|---|---|---|---|---|---|---|---|")
    best = {k: min(v) for k, v in times.items()}
    for label in times:
        rate = flops / best[label] / 1e6
        ratios = [f"{best[b] / best[label]:.2f}x" if b in best else "— (not run)" for b in
                  ("torch fp32", "torch bf16 autocast", "torch fp32 passive", "torch bf16 passive")]
        print(f"| {label} | {best[label]:.1f} | {rate:.1f} | {100 * rate / gemm['gflops']:.0f}% | "
              + " | ".join(ratios) + " |")
    rows = []
    med = {k: statistics.median(v) / 1e3 for k, v in times.items()}
    for mine in [k for k in med if k.startswith("pyssl")]:
        for base in [k for k in med if k.startswith("torch")]:
            rows.append(C.row(f"ViT{model} MAE b{args.batch}: {mine}", med[mine], base, med[base],
                              pyssl_min_s=min(times[mine]) / 1e3, baseline_min_s=min(times[base]) / 1e3))
    C.report(rows, machine, args.json, title="ViT-Tiny MAE step (seconds per step)")
    return times


if __name__ == "__main__":
    main()
