"""One MLP training step — forward, cross-entropy, backward, SGD with momentum — pyssl against
PyTorch CPU eager with the same layers, batch, initial weights and thread count.

    python benchmarks/bench_mlp_step.py [--threads N] [--json PATH] [--quick]

Shapes (issue 2): small 64→256→256 (batch 256), medium 784→1024→1024 (batch 256),
large 2048→4096→4096 (batch 512). Layers: Linear → ReLU → Linear (the MLP builder with
norm=None), loss = cross-entropy over the last layer's outputs.
"""
from __future__ import annotations

import os
import sys


sys.path.insert(0, os.path.dirname(__file__))
import _common as C  # noqa: E402
import numpy as np  # noqa: E402  (after _common: it sets the BLAS thread environment)

from pyssl.nn import MLP  # noqa: E402
from pyssl.nn.losses import cross_entropy  # noqa: E402
from pyssl.optim import SGD  # noqa: E402

CASES = {"small": ([64, 256, 256], 256), "medium": ([784, 1024, 1024], 256), "large": ([2048, 4096, 4096], 512)}


def pyssl_step_fn(dims, X, y):
    net = MLP(dims, norm=None, act="relu", seed=0)
    opt = SGD(net.parameters(), lr=0.01, momentum=0.9)

    def step():
        opt.zero_grad()
        out, ctx = net.forward(X)
        _, g = cross_entropy(out, y)
        net.backward(g, ctx, need_input_grad=False)
        opt.step()

    return net, step


def torch_step_fn(torch, net_np, X, y):
    layers = []
    lin = [m for m in net_np.layers if hasattr(m, "weight")]
    for i, m in enumerate(lin):
        t = torch.nn.Linear(m.in_features, m.out_features)
        with torch.no_grad():
            t.weight.copy_(torch.from_numpy(m.weight.data.T.copy()))
            t.bias.copy_(torch.from_numpy(m.bias.data.copy()))
        layers.append(t)
        if i < len(lin) - 1:
            layers.append(torch.nn.ReLU())
    tnet = torch.nn.Sequential(*layers)
    opt = torch.optim.SGD(tnet.parameters(), lr=0.01, momentum=0.9)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    lossf = torch.nn.CrossEntropyLoss()

    def step():
        opt.zero_grad(set_to_none=True)
        loss = lossf(tnet(Xt), yt)
        loss.backward()
        opt.step()

    return step


def main():
    args = C.parser(__doc__).parse_args()
    threads = C.set_threads(args.threads)
    torch = C.try_torch()
    cases = ["small", "medium"] if args.quick else list(CASES)
    rows = []
    for name in cases:
        dims, batch = CASES[name]
        rng = np.random.default_rng(0)
        X = rng.standard_normal((batch, dims[0])).astype(np.float32)
        y = rng.integers(0, dims[-1], size=batch).astype(np.int64)
        net, p_step = pyssl_step_fn(dims, X, y)
        fns = {"pyssl": p_step}
        if torch is not None:
            fns["torch"] = torch_step_fn(torch, net, X, y)
        reps = args.repeats or {"small": 200, "medium": 30, "large": 6}[name]
        t = C.interleaved(fns, repeats=reps, warmup=3)
        rows.append(C.row(f"{name} {'->'.join(map(str, dims))} b{batch}", t["pyssl"],
                          "torch eager" if torch else None, t.get("torch")))
    C.report(rows, C.machine_info(threads), args.json, title="MLP training step (fwd + CE + bwd + SGD momentum)")


if __name__ == "__main__":
    main()
