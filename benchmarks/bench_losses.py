"""Forward + backward of each pyssl loss vs the same formula in PyTorch eager (autograd backward).

    python benchmarks/bench_losses.py [--quick] [--threads T] [--json PATH] [--only nt_xent,vicreg]
                                      [--sizes 256x128,1024x2048] [--repeats R]

N in {256, 1024, 4096}, d in {128, 2048} (d is K, the number of prototypes / outputs, for SwAV
and DINO); --quick runs N in {256, 1024}, d = 128. Same thread count for pyssl, numpy and torch.
pyssl times include input validation and output allocation; torch times include building the
graph and the backward pass (gradients set to None each call). Medians of interleaved repeats.
"""
from __future__ import annotations

import sys
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import interleaved, machine_info, parser, report, row, set_threads, try_torch  # noqa: E402
import numpy as np  # noqa: E402  (after _common: it sets the BLAS thread environment)

from pyssl.losses import LOSSES  # noqa: E402
from pyssl.losses.registry import multi_crop, with_queue  # noqa: E402

DINO_VIEWS = (4, 2)  # student views (2 global + 2 local), teacher views (global)
QUEUE = 4096  # InfoNCE bank size


# The inputs of each loss come from the loss registry (the same makers the contract tests use);
# only the benchmark's larger DINO view counts and InfoNCE bank differ.
BENCH_INPUTS = {"dino": multi_crop(*DINO_VIEWS), "info_nce": with_queue(QUEUE)}


def make_inputs(name, n, d, rng):
    make = BENCH_INPUTS.get(name) or LOSSES.entry(name).inputs
    return make(rng, np.float32, n, d)


def pyssl_fn(name, args):
    f = LOSSES.get(name)
    return lambda: f(*args)


def torch_fn(torch, name, args):
    F = torch.nn.functional
    grads = list(LOSSES.entry(name).wrt or range(len(LOSSES.get(name)(*args)) - 1))  # inputs with a gradient
    t = [torch.from_numpy(a) for a in args]
    for i in grads:
        t[i].requires_grad_(True)

    def nt_xent(z1, z2, T=0.1):
        n = z1.shape[0]
        z = F.normalize(torch.cat([z1, z2]), dim=1)
        s = (z @ z.T / T).masked_fill(torch.eye(2 * n, dtype=torch.bool), float("-inf"))
        target = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)])
        return F.cross_entropy(s, target)

    def info_nce(q, k, queue, T=0.2):
        q, k, b = F.normalize(q, dim=1), F.normalize(k, dim=1), F.normalize(queue, dim=1)
        logits = torch.cat([(q * k).sum(1, keepdim=True), q @ b.T], dim=1) / T
        return F.cross_entropy(logits, torch.zeros(q.shape[0], dtype=torch.long))

    def sup_con(z, labels, T=0.1):
        n = z.shape[0]
        z = F.normalize(z, dim=1)
        eye = torch.eye(n, dtype=torch.bool)
        logp = F.log_softmax((z @ z.T / T).masked_fill(eye, float("-inf")), dim=1)
        pos = (labels[:, None] == labels[None, :]) & ~eye
        return -(torch.where(pos, logp, 0.0).sum(1) / pos.sum(1)).mean()

    def negative_cosine(p, z):
        return -F.cosine_similarity(p, z.detach(), dim=1).mean()

    def barlow_twins(z1, z2, lambd=0.0051):
        bn = lambda z: (z - z.mean(0)) / torch.sqrt(z.var(0, unbiased=False) + 1e-5)
        c = bn(z1).T @ bn(z2) / z1.shape[0]
        on = (torch.diagonal(c) - 1).pow(2).sum()
        off = c.pow(2).sum() - torch.diagonal(c).pow(2).sum()
        return on + lambd * off

    def vicreg(x, y):
        n, d = x.shape
        repr_loss = F.mse_loss(x, y)
        x = x - x.mean(0)
        y = y - y.mean(0)
        sx = torch.sqrt(x.var(0) + 1e-4)
        sy = torch.sqrt(y.var(0) + 1e-4)
        std = torch.mean(F.relu(1 - sx)) / 2 + torch.mean(F.relu(1 - sy)) / 2
        cx, cy = x.T @ x / (n - 1), y.T @ y / (n - 1)
        off = lambda c: c.pow(2).sum() - torch.diagonal(c).pow(2).sum()
        return 25 * repr_loss + 25 * std + off(cx) / d + off(cy) / d

    @torch.no_grad()
    def sinkhorn(out, eps=0.05, iters=3):
        Q = torch.exp(out / eps).t()
        B, K = Q.shape[1], Q.shape[0]
        Q /= Q.sum()
        for _ in range(iters):
            Q /= Q.sum(dim=1, keepdim=True)
            Q /= K
            Q /= Q.sum(dim=0, keepdim=True)
            Q /= B
        return (Q * B).t()

    def swav(s1, s2, T=0.1):
        q1, q2 = sinkhorn(s1.detach()), sinkhorn(s2.detach())
        l1 = -(q2 * F.log_softmax(s1 / T, dim=1)).sum(1).mean()
        l2 = -(q1 * F.log_softmax(s2 / T, dim=1)).sum(1).mean()
        return (l1 + l2) / 2

    def dino(student, teacher, center, ts=0.1, tt=0.04):
        q = F.softmax((teacher - center) / tt, dim=-1).detach()
        logp = F.log_softmax(student / ts, dim=-1)
        total, terms = 0.0, 0
        for iq in range(q.shape[0]):
            for v in range(logp.shape[0]):
                if v == iq:
                    continue
                total = total + torch.sum(-q[iq] * logp[v], dim=-1).mean()
                terms += 1
        return total / terms

    def masked_mse(p, t_, m):
        return ((p - t_) ** 2 * m).sum() / m.sum()

    def mask_bce(x, m):
        return F.binary_cross_entropy_with_logits(x, m)

    f = locals().get(name)
    if f is None:  # a registered loss without a PyTorch formula here: pyssl alone
        return None

    def run():
        for i in grads:
            t[i].grad = None
        loss = f(*t)
        loss.backward()
        return loss

    return run


# every registered SSL loss (the supervised cross_entropy and mse of pyssl.nn are benchmarked elsewhere)
NAMES = [n for n in LOSSES.names() if n not in ("cross_entropy", "mse")]


def repeats_for(name, n, d, default):
    if default:
        return default
    heavy = {"nt_xent": (2 * n) ** 2 * d, "sup_con": n * n * d, "info_nce": n * QUEUE * d,
             "barlow_twins": n * d * d, "vicreg": n * d * d}.get(name, n * d * 8)
    return int(np.clip(2e10 / max(heavy, 1), 3, 30))


def main():
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--only", default="", help="comma-separated subset of " + ",".join(NAMES))
    p.add_argument("--sizes", default="", help="comma-separated NxD list, e.g. 256x128,1024x2048")
    args = p.parse_args()
    threads = set_threads(args.threads)
    torch = try_torch()
    names = [n for n in NAMES if not args.only or n in args.only.split(",")]
    sizes = [(256, 128), (1024, 128)] if args.quick else [(n, d) for n in (256, 1024, 4096) for d in (128, 2048)]
    if args.sizes:
        sizes = [tuple(int(v) for v in s.split("x")) for s in args.sizes.split(",")]
    rng = np.random.default_rng(0)
    rows = []
    for name in names:
        for n, d in sizes:
            inputs = make_inputs(name, n, d, rng)
            fns = {"pyssl": pyssl_fn(name, inputs)}
            oracle = torch_fn(torch, name, inputs) if torch is not None else None
            if oracle is not None:
                fns["torch"] = oracle
            reps = repeats_for(name, n, d, args.repeats)
            t = interleaved(fns, repeats=reps if not args.quick else min(reps, 10), warmup=1 if reps < 10 else 2)
            rows.append(row(f"{name} N={n} d={d}", t["pyssl"], "torch eager" if torch else None, t.get("torch"),
                            repeats=reps))
            print(f"  {rows[-1]['name']}: pyssl {t['pyssl'] * 1e3:.2f} ms, torch "
                  f"{t.get('torch', float('nan')) * 1e3:.2f} ms", flush=True)
    report(rows, machine_info(threads), args.json, title="SSL losses, forward + backward (float32)")


if __name__ == "__main__":
    main()
