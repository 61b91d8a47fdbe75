"""SimCLR training step on the GPU: pyssl.cuda.SimCLRStep against PyTorch CUDA eager with the
same layers, batch, initial weights, loss and optimizer.

    python benchmarks/bench_cuda_simclr.py [--json PATH] [--repeats N] [--quick]

Model (issue 7, large size): encoder 2048→4096→4096 (Linear, ReLU, Linear), projector
4096→1024→256 (Linear, ReLU, Linear); batch 512 samples, two views stacked (1024 rows through
the network); NT-Xent with τ = 0.5; SGD momentum 0.9 (also AdamW). Both sides get the views
already on the device (torch tensors; pyssl wraps them through __cuda_array_interface__, no
copy) and both synchronise at the end of each step; the loss is read back once per step in the
"+loss" rows. GEMMs are full float32 unless the row says tf32 (then both sides allow TF32).
Also times the fused NT-Xent alone (z 1024×256) against the same loss in torch eager.
Needs a CUDA device and torch with CUDA; otherwise prints why and exits 0.
"""
from __future__ import annotations

import os
import sys


sys.path.insert(0, os.path.dirname(__file__))
import _common as C  # noqa: E402
import numpy as np  # noqa: E402  (after _common: it sets the BLAS thread environment)

import pyssl.cuda as cuda  # noqa: E402

ENC, PROJ, BATCH, TAU = (2048, 4096, 4096), (4096, 1024, 256), 512, 0.5


def torch_model(torch, weights, relu_after):
    layers = []
    for (w, b), r in zip(weights, relu_after):
        lin = torch.nn.Linear(w.shape[0], w.shape[1])
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(np.ascontiguousarray(w.T)))
            lin.bias.copy_(torch.from_numpy(b))
        layers.append(lin)
        if r:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers).cuda()


def torch_nt_xent(torch, z, tau):
    F = torch.nn.functional
    n2 = z.shape[0]
    zn = F.normalize(z, dim=1)
    s = zn @ zn.T / tau
    s = s.masked_fill(torch.eye(n2, dtype=torch.bool, device=z.device), float("-inf"))
    half = n2 // 2
    target = torch.cat([torch.arange(half, n2), torch.arange(0, half)]).to(z.device)
    return F.cross_entropy(s, target)


def make_torch_step(torch, model, opt_name, lr, x1, x2, want_loss):
    if opt_name == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    else:
        opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = torch_nt_xent(torch, model(torch.cat([x1, x2])), TAU)
        loss.backward()
        opt.step()
        if want_loss:
            loss.item()
        torch.cuda.synchronize()

    return step


def make_pyssl_step(opt_name, lr, weights, x1, x2, want_loss):
    kw = {"momentum": 0.9} if opt_name == "sgd" else {"weight_decay": 1e-4}
    s = cuda.SimCLRStep(ENC, PROJ, temperature=TAU, optimizer=opt_name, lr=lr, weights=weights, **kw)
    d1, d2 = cuda.as_device(x1), cuda.as_device(x2)

    def step():
        s.step(d1, d2, return_loss=want_loss)
        cuda.synchronize()

    return s, step


def first_step_agreement(torch, weights, relu_after, x1, x2):
    """Loss of the first step and the max relative weight difference after it (SGD)."""
    s = cuda.SimCLRStep(ENC, PROJ, temperature=TAU, optimizer="sgd", lr=0.05, momentum=0.9, weights=weights)
    lp = s.step(cuda.as_device(x1), cuda.as_device(x2))
    model = torch_model(torch, weights, relu_after)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    loss = torch_nt_xent(torch, model(torch.cat([x1, x2])), TAU)
    loss.backward()
    opt.step()
    lt = loss.item()
    lin = [m for m in model if isinstance(m, torch.nn.Linear)]
    rel = 0.0
    for (w, _), m in zip(s.get_weights(), lin):
        tw = m.weight.detach().cpu().numpy().T
        rel = max(rel, float(np.abs(w - tw).max() / np.abs(tw).max()))
    return lp, lt, rel


def main():
    p = C.parser(__doc__)
    p.add_argument("--batch", type=int, default=BATCH)
    args = p.parse_args()
    torch = C.try_torch()
    if not cuda.is_available():
        print(f"skipped: pyssl.cuda not available ({cuda.unavailable_reason()})")
        return
    if torch is None or not torch.cuda.is_available():
        print("skipped: torch with CUDA is needed for the baseline")
        return
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    threads = C.set_threads(args.threads)
    batch = args.batch
    reps = args.repeats or (10 if args.quick else 30)

    dims = ENC + PROJ[1:]
    relu_after = [l not in (len(ENC) - 2, len(dims) - 2) for l in range(len(dims) - 1)]
    g = np.random.default_rng(0)
    weights = []
    for i, o in zip(dims[:-1], dims[1:]):
        bound = 1.0 / np.sqrt(i)
        weights.append((g.uniform(-bound, bound, (i, o)).astype(np.float32),
                        g.uniform(-bound, bound, (o,)).astype(np.float32)))
    base = torch.randn(batch, ENC[0], device="cuda")
    x1 = (base + 0.1 * torch.randn_like(base)).contiguous()
    x2 = (base + 0.1 * torch.randn_like(base)).contiguous()

    lp, lt, rel = first_step_agreement(torch, weights, relu_after, x1, x2)
    print(f"first step: loss pyssl {lp:.6f} torch {lt:.6f}; max rel weight diff after SGD step {rel:.2e}")
    print(f"cuBLAS loaded from {cuda.load_cublas()}")

    rows = []
    name = f"{'->'.join(map(str, ENC))} + {'->'.join(map(str, PROJ))} b{batch}"
    cases = [("sgd", False, False), ("sgd", True, False), ("adamw", False, False)]
    if not args.quick:
        cases.append(("sgd", False, True))
    for opt_name, want_loss, tf32 in cases:
        lr = 0.05 if opt_name == "sgd" else 1e-3
        cuda.set_tf32(tf32)
        torch.backends.cuda.matmul.allow_tf32 = tf32
        _, ps = make_pyssl_step(opt_name, lr, weights, x1, x2, want_loss)
        ts = make_torch_step(torch, torch_model(torch, weights, relu_after), opt_name, lr, x1, x2, want_loss)
        t = C.interleaved({"pyssl": ps, "torch": ts}, repeats=reps, warmup=5)
        label = f"simclr step {opt_name}{' +loss' if want_loss else ''}{' tf32' if tf32 else ''} {name}"
        rows.append(C.row(label, t["pyssl"], "torch cuda eager", t["torch"]))
        del ps, ts
        torch.cuda.empty_cache()
    cuda.set_tf32(False)
    torch.backends.cuda.matmul.allow_tf32 = False

    z = torch.randn(2 * batch, PROJ[-1], device="cuda")
    dz = cuda.as_device(z)
    zt = z.clone().requires_grad_(True)

    def p_loss():
        cuda.nt_xent(dz, TAU)  # returns the loss: synchronises

    def t_loss():
        zt.grad = None
        loss = torch_nt_xent(torch, zt, TAU)
        loss.backward()
        loss.item()

    t = C.interleaved({"pyssl": p_loss, "torch": t_loss}, repeats=reps * 3, warmup=5)
    rows.append(C.row(f"nt_xent fwd+bwd z {2 * batch}x{PROJ[-1]}", t["pyssl"], "torch cuda eager", t["torch"]))

    machine = C.machine_info(threads)
    machine.update({"gpu": cuda._cu.device_name(0), "torch_cuda": torch.version.cuda,
                    "cublas": cuda.load_cublas(), "first_step_loss_pyssl": lp, "first_step_loss_torch": lt,
                    "first_step_max_rel_weight_diff": rel})
    C.report(rows, machine, args.json, title=f"SimCLR step on {machine['gpu']} (pyssl.cuda vs torch eager)")


if __name__ == "__main__":
    main()
