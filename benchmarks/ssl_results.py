"""Results table of issue 5/6: every method × label fractions × seeds on digits (and optionally
the tabular and time-series sets): SSL + linear probe, SSL + fine-tune, the same MLP from
scratch, logistic regression on raw features; mean ± std over seeds and pretraining wall time.

    python benchmarks/ssl_results.py --methods all --seeds 0,1,2 --epochs 100 [--json out.json]

Protocol (digits): stratified 70/30 split (random_state 0), features standardised on the
training part, MLP 64→256→256 with BatchNorm, pretraining on the unlabeled training part with
AdamW (lr 1e-3, cosine), batch 256; labels sampled per seed with at least one per class.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))

import pyssl  # noqa: E402
from pyssl import data  # noqa: E402
from pyssl.experiments import METHOD_NAMES, compare  # noqa: E402

METHOD_KW = {"simclr": {"temperature": 0.5}, "dacl": {"temperature": 0.5}}


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--methods", default="all")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--fractions", default="0.01,0.1,1.0")
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--finetune", action="store_true", help="also fine-tune (slower)")
    p.add_argument("--dataset", default="digits", choices=["digits", "breast_cancer", "wine"])
    p.add_argument("--json")
    args = p.parse_args()
    methods = METHOD_NAMES if args.methods == "all" else args.methods.split(",")
    seeds = [int(s) for s in args.seeds.split(",")]
    fractions = [float(f) for f in args.fractions.split(",")]
    X, y = data.DATASETS[args.dataset]()
    X = X.reshape(len(X), -1)
    Xtr, Xte, ytr, yte = data.stratified_split(X, y, test_size=0.3, seed=0)
    Xtr, Xte = data.standardize(Xtr, Xte)
    spec = {"type": "mlp", "dims": [Xtr.shape[1], 256, 256], "norm": "batch"}
    results = []
    print(f"{args.dataset}: {len(Xtr)} train / {len(Xte)} test; threads={pyssl.get_num_threads()}", flush=True)
    for m in methods:
        for s in seeds:
            t0 = time.perf_counter()
            rows, t_pre, hist = compare(Xtr, ytr, Xte, yte, spec, method=m, fractions=fractions, seed=s,
                                        epochs=args.epochs, method_kw=METHOD_KW.get(m), with_finetune=args.finetune)
            for r in rows:
                results.append({"method": m, "seed": s, "pretrain_s": t_pre, "first_loss": hist["loss"][0],
                                "last_loss": hist["loss"][-1], **r})
            print(f"  {m} seed {s}: pretrain {t_pre:.1f} s, loss {hist['loss'][0]:.3f} → {hist['loss'][-1]:.3f}, "
                  + ", ".join(f"{r['fraction']:g}: {r['ssl_probe']:.3f}" for r in rows)
                  + f" ({time.perf_counter() - t0:.0f} s)", flush=True)
    cols = ["ssl_probe"] + (["ssl_finetune"] if args.finetune else []) + ["scratch", "raw_logreg"]
    print("\n| method | labels | " + " | ".join(cols) + " | pretrain s |")
    print("|---|---|" + "---|" * (len(cols) + 1))
    for m in methods:
        for f in fractions:
            rs = [r for r in results if r["method"] == m and r["fraction"] == f]
            cells = [f"{np.mean([r[c] for r in rs]):.3f} ± {np.std([r[c] for r in rs]):.3f}" for c in cols]
            print(f"| {m} | {f:g} | " + " | ".join(cells) + f" | {np.mean([r['pretrain_s'] for r in rs]):.1f} |")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=1)


if __name__ == "__main__":
    main()
