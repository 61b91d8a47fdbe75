"""One measurement of ``benchmarks/bench_pretrain.py``, run in a fresh process of its own.

    python benchmarks/_pretrain_worker.py --lib pyssl|pyssl-torch-first|torch \
        [--precision 32|bf16-mixed] --dims D,H,H --proj H,P1,P2 --batch B \
        --steps S [--warmup W] [--threads T]

Times S steps of SimCLR pretraining after W warm-up steps and prints one JSON line,
``{"ms_per_step": ..., "loss": ..., "info": {...}}``, as the last line of stdout.

The job, identical on both sides:

* data: ``S·B`` rows of standard normal features (numpy, seed 0), one epoch, shuffled per epoch,
  each batch gathered in sorted index order;
* views: two SCARF corruptions per batch (Bahri et al. 2022) — features replaced by values of the
  same feature in random rows of the training set, ratio 0.6;
* network: encoder ``Linear(D,H, no bias) → BatchNorm → ReLU → Linear(H,H)`` and projector
  ``Linear(H,P1, no bias) → BatchNorm → ReLU → Linear(P1,P2)``, run once forward and once
  backward per step on the two views concatenated into one batch of 2B rows (BatchNorm in
  training mode over the 2B rows);
* loss: NT-Xent at temperature 0.1 over the 2B projections (Chen et al. 2020);
* optimizer: AdamW (lr 1e-3, weight decay 1e-4) with a cosine learning-rate schedule stepped every
  step; the loss is read back as a Python float every step.

pyssl runs exactly ``pyssl.pretrain(SimCLR(...))`` (its default ``ScarfCorruption``: exactly
⌊0.6·D⌋ features per row). The PyTorch side is eager PyTorch as a user would write it, with the
SCARF view vectorised (each entry replaced with probability 0.6, pytorch-scarf's convention: the
same expected count), ``torch.optim.AdamW`` with its defaults, and — for ``bf16-mixed`` —
``torch.autocast("cpu", torch.bfloat16)`` around forward and loss.

``pyssl-torch-first`` imports torch (and sets its thread count) before importing pyssl, as a
PyTorch user's process does; the environment is the caller's, so OpenMP is initialised by torch
with whatever policy that environment sets.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time

SCARF_RATIO = 0.6
TEMPERATURE = 0.1
LR = 1e-3
WEIGHT_DECAY = 1e-4


def _ints(text: str) -> list[int]:
    return [int(v) for v in text.split(",")]


def make_data(rows: int, d: int):
    """The training set, the same bytes for every library: standard normal, float32, seed 0."""
    import numpy as np

    return np.random.default_rng(0).standard_normal((rows, d), dtype=np.float32)


# -- pyssl ------------------------------------------------------------------------------------------
def pyssl_gemm_info() -> dict:
    """Which GEMM ran on the pyssl side: pyssl's OpenBLAS (core type, version, threading layer)
    as threadpoolctl sees it, and every OpenMP runtime mapped into the process."""
    import pyssl

    info = {"blas_core": pyssl._core.blas_corename(), "bf16_gemm": pyssl._core.nn.bf16_gemm_impl() or "not used"}
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        info["threadpoolctl"] = "not installed"
        return info
    libs = threadpool_info()
    for lib in libs:
        if lib.get("internal_api") == "openblas" and "scipy_openblas32" in (lib.get("filepath") or ""):
            info["openblas"] = {k: lib.get(k) for k in ("version", "architecture", "threading_layer", "num_threads")}
    info["openmp"] = [{"filepath": lib.get("filepath"), "version": lib.get("version")}
                      for lib in libs if lib.get("user_api") == "openmp"]
    return info


def run_pyssl(dims, proj, batch: int, steps: int, warmup: int, threads: int, precision: str = "32",
              torch_first: bool = False) -> dict:
    """Time ``pyssl.pretrain`` of SimCLR: ``warmup`` steps, then ``steps`` timed steps (one epoch)."""
    if torch_first:
        import torch

        torch.set_num_threads(threads)
    import pyssl
    from pyssl.methods import SimCLR
    from pyssl.nn import MLP

    pyssl.set_num_threads(threads)
    kwargs = {} if precision == "32" else {"precision": precision}
    method = SimCLR(MLP(dims, norm="batch", seed=0), projector=MLP(proj, norm="batch", seed=1),
                    temperature=TEMPERATURE)
    X = make_data(steps * batch, dims[0])
    common = dict(epochs=1, batch_size=batch, lr=LR, weight_decay=WEIGHT_DECAY, progress=False, **kwargs)
    if warmup > 0:
        pyssl.pretrain(method, X[:warmup * batch], **common)
    t0 = time.perf_counter()
    history = pyssl.pretrain(method, X, **common)
    elapsed = time.perf_counter() - t0
    # read after the run: the bf16 engine's kernel name is known once a product has run
    return {"ms_per_step": elapsed / steps * 1e3, "loss": float(history["loss"][-1]), "info": pyssl_gemm_info()}


# -- PyTorch ----------------------------------------------------------------------------------------
def onednn_matmul_impl(torch, autocast) -> str:
    """The oneDNN matmul implementation one Linear runs under ``autocast`` (e.g.
    ``brg_matmul:avx512_core_amx``), read from oneDNN's verbose log; "none" when the product does
    not go through oneDNN (fp32 products go to the BLAS named in the build settings)."""
    import os
    import tempfile

    x, w = torch.randn(64, 64), torch.randn(64, 64)
    saved = os.dup(1)
    with tempfile.TemporaryFile(mode="w+") as log:
        sys.stdout.flush()
        os.dup2(log.fileno(), 1)
        try:
            with torch.backends.mkldnn.verbose(torch.backends.mkldnn.VERBOSE_ON), autocast():
                torch.nn.functional.linear(x, w)
        finally:
            sys.stdout.flush()
            os.dup2(saved, 1)
            os.close(saved)
        log.seek(0)
        impls = [ln.split(",")[6] for ln in log if ",exec,cpu,matmul," in ln]
    return impls[0] if impls else "none"


def torch_gemm_info(torch, autocast) -> dict:
    """PyTorch's CPU path: its ISA level, the BLAS and oneDNN it was built with, the oneDNN
    matmul that ran, and its OpenMP set-up."""
    show = [ln.strip(" -") for ln in torch.__config__.show().splitlines()]
    keep = [ln for ln in show if any(k in ln for k in ("Math Kernel", "MKL-DNN", "OpenMP", "CPU capability"))]
    keep += [f for ln in show if ln.startswith("Build settings") for f in ln.split(", ")
             if f.startswith(("Build settings: BLAS_INFO", "USE_MKLDNN", "USE_OPENMP"))]
    par = [ln.strip() for ln in torch.__config__.parallel_info().splitlines() if "parallel backend" in ln]
    return {"torch": torch.__version__, "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "onednn_matmul": onednn_matmul_impl(torch, autocast), "config": keep, "parallel": par}


def scarf_view(torch, x, reference, ratio: float, gen):
    """SCARF corruption, vectorised: entry (i, j) becomes reference[r_ij, j] with probability ratio."""
    n, d = x.shape
    mask = torch.rand(n, d, generator=gen) < ratio
    rows = torch.randint(0, reference.shape[0], (n, d), generator=gen)
    return torch.where(mask, reference.gather(0, rows), x)


def nt_xent(torch, z, temperature: float):
    """NT-Xent over 2N rows (positive of row a is a ± N; self-similarity excluded)."""
    F = torch.nn.functional
    n2 = z.shape[0]
    n = n2 // 2
    zn = F.normalize(z.float(), dim=1)
    sim = (zn @ zn.T) / temperature
    sim = sim.masked_fill(torch.eye(n2, dtype=torch.bool), float("-inf"))
    target = torch.cat([torch.arange(n, n2), torch.arange(0, n)])
    return F.cross_entropy(sim, target)


def run_torch(dims, proj, batch: int, steps: int, warmup: int, threads: int, precision: str = "32") -> dict:
    """Time the same job in PyTorch eager (fp32, or bf16 autocast for ``bf16-mixed``)."""
    import contextlib

    import torch

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    nn = torch.nn

    def mlp(d):
        return nn.Sequential(nn.Linear(d[0], d[1], bias=False), nn.BatchNorm1d(d[1]), nn.ReLU(),
                             nn.Linear(d[1], d[2]))

    net = nn.Sequential(mlp(dims), mlp(proj))
    net.train()
    X = torch.from_numpy(make_data(steps * batch, dims[0]))
    gen = torch.Generator().manual_seed(0)
    autocast = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if precision == "bf16-mixed" \
        else contextlib.nullcontext

    def train(data, total_steps):
        opt = torch.optim.AdamW(net.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda s: 0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * min(s, total_steps) / total_steps)))
        order = torch.randperm(data.shape[0], generator=gen)
        loss_value = 0.0
        for b in range(total_steps):
            xb = data[order[b * batch:(b + 1) * batch].sort().values]
            x = torch.cat([scarf_view(torch, xb, data, SCARF_RATIO, gen), scarf_view(torch, xb, data, SCARF_RATIO, gen)])
            opt.zero_grad(set_to_none=True)
            with autocast():
                loss = nt_xent(torch, net(x), TEMPERATURE)
            loss.backward()
            opt.step()
            sched.step()
            loss_value = loss.item()
        return loss_value

    if warmup > 0:
        train(X[:warmup * batch], warmup)
    t0 = time.perf_counter()
    loss = train(X, steps)
    elapsed = time.perf_counter() - t0
    return {"ms_per_step": elapsed / steps * 1e3, "loss": loss, "info": torch_gemm_info(torch, autocast)}


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--lib", required=True, choices=["pyssl", "pyssl-torch-first", "torch"])
    p.add_argument("--precision", default="32", choices=["32", "bf16-mixed"])
    p.add_argument("--dims", required=True, type=_ints, help="encoder widths D,H,H")
    p.add_argument("--proj", required=True, type=_ints, help="projector widths H,P1,P2")
    p.add_argument("--batch", required=True, type=int)
    p.add_argument("--steps", required=True, type=int)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args(argv)
    if len(a.dims) != 3 or len(a.proj) != 3 or a.proj[0] != a.dims[-1]:
        p.error(f"--dims needs D,H,H and --proj H,P1,P2 with the same H, got {a.dims} and {a.proj}")
    if a.batch < 2 or a.steps < 1 or a.warmup < 0 or a.threads < 1:
        p.error("--batch must be >= 2, --steps >= 1, --warmup >= 0 and --threads >= 1")
    if a.lib == "torch":
        out = run_torch(a.dims, a.proj, a.batch, a.steps, a.warmup, a.threads, a.precision)
    else:
        out = run_pyssl(a.dims, a.proj, a.batch, a.steps, a.warmup, a.threads, a.precision,
                        torch_first=a.lib == "pyssl-torch-first")
    print(json.dumps(out), flush=True)
    return out


if __name__ == "__main__":
    main(sys.argv[1:])
