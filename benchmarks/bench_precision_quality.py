"""Does bf16-mixed pretraining learn as well as float32? The README's protocol (stratified 70/30
split, random_state 0, standardised on the training part, SimCLR τ = 0.5, 100 epochs, linear probe
at 1% / 10% / 100% of the labels) on one image set (digits, MLP), one table (breast_cancer, MLP)
and one series set (GunPoint, 1-D CNN; its projector's Linear layers run in bf16), for
precision "32" and "bf16-mixed", seeds 0, 1, 2; mean ± std of the probe's test accuracy.

    python benchmarks/bench_precision_quality.py [--epochs 100] [--seeds 0,1,2] [--datasets digits,breast_cancer,gunpoint]

Needs scikit-learn (and aeon for GunPoint: pip install ".[data,timeseries]").
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

import pyssl
from pyssl import data
from pyssl.experiments import compare

sys.path.insert(0, os.path.dirname(__file__))
from ssl_domains import prepare  # noqa: E402  (the Results protocol's split and encoder)

LOADERS = {
    "digits": (data.load_digits, "mlp"),
    "breast_cancer": (data.load_breast_cancer, "mlp"),
    "gunpoint": (lambda: data.load_gunpoint()[:2], "conv1d"),
}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--datasets", default="digits,breast_cancer,gunpoint")
    args = p.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    fractions = (0.01, 0.1, 1.0)
    print(f"pyssl {pyssl.__version__}, bf16 engine available: {pyssl.nn.precision.available()}, "
          f"threads {pyssl.get_num_threads()}")
    print("| dataset | precision | 1% labels | 10% labels | 100% labels | final loss | pretrain s |")
    print("|---|---|---|---|---|---|---|")
    for name in args.datasets.split(","):
        loader, kind = LOADERS[name]
        X, y = loader()
        Xtr, Xte, ytr, yte, spec, bs = prepare(X, y, kind)
        for precision in ("32", "bf16-mixed"):
            acc = {f: [] for f in fractions}
            losses, secs = [], []
            for seed in seeds:
                t0 = time.perf_counter()
                rows, t_pre, hist = compare(Xtr, ytr, Xte, yte, spec, method="simclr", fractions=fractions,
                                            seed=seed, epochs=args.epochs, batch_size=bs,
                                            method_kw={"temperature": 0.5}, with_finetune=False,
                                            precision=precision)
                for r in rows:
                    acc[r["fraction"]].append(r["ssl_probe"])
                losses.append(hist["loss"][-1])
                secs.append(t_pre)
            cells = [f"{np.mean(acc[f]):.3f} ± {np.std(acc[f]):.3f}" for f in fractions]
            print(f"| {name} | {precision} | " + " | ".join(cells) +
                  f" | {np.mean(losses):.4f} | {np.mean(secs):.1f} |", flush=True)


if __name__ == "__main__":
    main()
