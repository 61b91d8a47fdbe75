"""Fused optimizer steps: pyssl vs a vectorised numpy formulation vs torch.optim (foreach / fused).

Each case updates a model-like list of float32 parameters (square weight matrices and biases)
totalling about 1M or 8M scalars, one optimizer step per call, same thread count everywhere.

    python benchmarks/bench_optim.py [--threads N] [--json PATH] [--quick]
"""
from __future__ import annotations


from _common import interleaved, machine_info, parser, report, row, set_threads, try_torch
import numpy as np  # noqa: E402  (after _common: it sets the BLAS thread environment)

from pyssl.nn import Parameter
from pyssl.optim import LARS, SGD, Adam, AdamW

LR, MU, WD, ETA, B1, B2, EPS = 0.01, 0.9, 1e-4, 0.001, 0.9, 0.999, 1e-8


def shapes_for(total: int) -> list[tuple]:
    layers = 4 if total <= 2_000_000 else 8
    d = int(round((total / layers) ** 0.5))
    out = []
    for _ in range(layers):
        out += [(d, d), (d,)]
    return out


# --- numpy: the same rules on the same per-parameter arrays, in-place ufuncs ---------------------

class NumpyRule:
    def __init__(self, kind, params, grads):
        self.kind, self.p, self.g = kind, params, grads
        self.decay = [x.ndim > 1 for x in params]
        self.s1 = [np.zeros_like(x) for x in params]
        self.s2 = [np.zeros_like(x) for x in params]
        self.tmp = [np.empty_like(x) for x in params]
        self.t = 0

    def step(self):
        self.t += 1
        k = self.kind
        for i, (p, g, a, b, tmp) in enumerate(zip(self.p, self.g, self.s1, self.s2, self.tmp)):
            if k == "sgd_momentum":  # b = μ b + (g + λ p); p -= α b
                np.multiply(p, np.float32(WD), out=tmp)
                tmp += g
                a *= np.float32(MU)
                a += tmp
                np.multiply(a, np.float32(LR), out=tmp)
                p -= tmp
            elif k in ("adam", "adamw"):
                bc1, bc2 = 1 - B1 ** self.t, 1 - B2 ** self.t
                if k == "adamw":
                    p *= np.float32(1 - LR * WD)
                    gg = g
                else:
                    np.multiply(p, np.float32(WD), out=tmp)
                    tmp += g
                    gg = tmp.copy()
                a *= np.float32(B1)
                a += np.float32(1 - B1) * gg
                b *= np.float32(B2)
                np.multiply(gg, gg, out=tmp)
                tmp *= np.float32(1 - B2)
                b += tmp
                np.sqrt(b, out=tmp)
                tmp *= np.float32(1 / np.sqrt(bc2))
                tmp += np.float32(EPS)
                np.divide(a, tmp, out=tmp)
                tmp *= np.float32(LR / bc1)
                p -= tmp
            elif k == "lars":
                if self.decay[i]:
                    np.multiply(p, np.float32(WD), out=tmp)
                    tmp += g
                    wn, gn = np.linalg.norm(p), np.linalg.norm(tmp)
                    r = ETA * wn / (gn + EPS) if wn > 0 and gn > 0 else 1.0
                else:
                    tmp[...] = g
                    r = 1.0
                tmp *= np.float32(LR * r)
                a *= np.float32(MU)
                a += tmp
                p -= a


# --- torch ------------------------------------------------------------------------------------------

def torch_lars_step(torch, params, vel):
    """LARS (SimCLR form) with torch foreach ops: per-tensor norms, then one foreach update."""
    with torch.no_grad():
        dec = [p for p in params if p.ndim > 1]
        dg = [p.grad for p in params if p.ndim > 1]
        g = torch._foreach_add(dg, dec, alpha=WD)
        wn = torch._foreach_norm(dec)
        gn = torch._foreach_norm(g)
        r = [torch.where((w > 0) & (n > 0), ETA * w / (n + EPS), torch.ones_like(w)) for w, n in zip(wn, gn)]
        it = iter(zip(g, r))
        grads = []
        for p in params:
            if p.ndim > 1:
                gi, ri = next(it)
                grads.append(gi * (ri * LR))
            else:
                grads.append(p.grad * LR)
        torch._foreach_mul_(vel, MU)
        torch._foreach_add_(vel, grads)
        torch._foreach_sub_(params, vel)


def torch_case(torch, kind, shapes, rng_seed):
    rng = np.random.default_rng(rng_seed)
    params = [torch.tensor(rng.standard_normal(s).astype(np.float32), requires_grad=True) for s in shapes]
    for p in params:
        p.grad = torch.tensor(rng.standard_normal(p.shape).astype(np.float32))
    if kind == "lars":
        vel = [torch.zeros_like(p) for p in params]
        return (lambda: torch_lars_step(torch, params, vel)), "torch foreach (hand-written LARS)"
    cls = {"sgd_momentum": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW}[kind]
    kw = dict(lr=LR, weight_decay=WD)
    if kind == "sgd_momentum":
        kw["momentum"] = MU
    for mode in ("fused", "foreach"):
        try:
            opt = cls(params, **kw, **{mode: True})
            opt.step()
            return opt.step, f"torch.optim {mode}"
        except (RuntimeError, TypeError, ValueError):
            continue
    opt = cls(params, **kw)
    return opt.step, "torch.optim"


def pyssl_case(kind, shapes, rng_seed):
    rng = np.random.default_rng(rng_seed)
    params = [Parameter(rng.standard_normal(s).astype(np.float32), decay=len(s) > 1) for s in shapes]
    opt = {"sgd_momentum": lambda: SGD(params, LR, momentum=MU, weight_decay=WD),
           "adam": lambda: Adam(params, LR, weight_decay=WD),
           "adamw": lambda: AdamW(params, LR, weight_decay=WD),
           "lars": lambda: LARS(params, LR, momentum=MU, weight_decay=WD, trust_coefficient=ETA, eps=EPS)}[kind]()
    opt.flat.grad[...] = rng.standard_normal(opt.flat.size).astype(np.float32)
    return opt.step


def numpy_case(kind, shapes, rng_seed):
    rng = np.random.default_rng(rng_seed)
    params = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    grads = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    return NumpyRule(kind, params, grads).step


def main():
    args = parser(__doc__).parse_args()
    threads = set_threads(args.threads)
    torch = try_torch()
    sizes = [1_000_000] if args.quick else [1_000_000, 8_000_000]
    repeats = args.repeats or (5 if args.quick else 15)
    rows = []
    for total in sizes:
        shapes = shapes_for(total)
        n = sum(int(np.prod(s)) for s in shapes)
        label = f"{n / 1e6:.1f}M"
        for kind in ("sgd_momentum", "adam", "adamw", "lars"):
            fns = {"pyssl": pyssl_case(kind, shapes, 0), "numpy": numpy_case(kind, shapes, 0)}
            tname = None
            if torch is not None:
                fns["torch"], tname = torch_case(torch, kind, shapes, 0)
            t = interleaved(fns, repeats=repeats, warmup=2)
            rows.append(row(f"{kind} {label} f32", t["pyssl"], "numpy (in-place ufuncs)", t["numpy"],
                            params=n))
            if torch is not None:
                rows.append(row(f"{kind} {label} f32", t["pyssl"], tname, t["torch"], params=n))
    report(rows, machine_info(threads), args.json, title="Fused optimizer step (one call per model)")


if __name__ == "__main__":
    main()
