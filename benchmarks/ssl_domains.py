"""README results table: SSL methods × domains × label fractions against supervised-from-scratch
and raw-feature logistic regression, with pretraining wall time.

    python benchmarks/ssl_domains.py [--methods simclr,vicreg] [--epochs 100] [--seed 0] [--json out.json]

Domains: images (digits, MLP on 64 pixels), tabular (breast_cancer, wine; MLP), time series
(GunPoint, ItalyPowerDemand from aeon's bundled copies; 1-D conv encoder with time-series views:
crop-resize, jitter, scaling, time masking). Every set: stratified 70/30 split (random_state 0),
standardised on the training part, pretraining on the unlabeled training part only.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))


import pyssl  # noqa: E402
from pyssl import data  # noqa: E402
from pyssl.experiments import compare, format_table  # noqa: E402


def domains(include_ts=True):
    out = {"digits (image)": (data.load_digits, "mlp"), "breast_cancer (tabular)": (data.load_breast_cancer, "mlp"),
           "wine (tabular)": (data.load_wine, "mlp")}
    if include_ts:
        out["GunPoint (series)"] = (lambda: data.load_gunpoint()[:2], "conv1d")
        out["ItalyPower (series)"] = (lambda: data.load_italy_power()[:2], "conv1d")
    return out


def prepare(X, y, kind):
    """The protocol's split and encoder: stratified 70/30 split (random_state 0), standardised on
    the training part; an MLP 256→256 with BatchNorm ("mlp", flattened input) or a 1-D CNN
    (32, 64 channels, kernel 5; "conv1d"); batch size N/4 within [32, 256].
    Returns (Xtr, Xte, ytr, yte, encoder_spec, batch_size)."""
    Xtr, Xte, ytr, yte = data.stratified_split(X, y, test_size=0.3, seed=0)
    Xtr, Xte = data.standardize(Xtr, Xte)
    if kind == "mlp":
        Xtr, Xte = Xtr.reshape(len(Xtr), -1), Xte.reshape(len(Xte), -1)
        spec = {"type": "mlp", "dims": [Xtr.shape[1], 256, 256], "norm": "batch"}
    else:
        spec = {"type": "conv1d", "in_channels": Xtr.shape[1], "channels": [32, 64], "kernel_size": 5}
    return Xtr, Xte, ytr, yte, spec, min(256, max(32, len(Xtr) // 4))


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--methods", default="simclr,vicreg")
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--fractions", default="0.01,0.1,1.0")
    p.add_argument("--no-timeseries", action="store_true")
    p.add_argument("--json")
    args = p.parse_args()
    fractions = [float(f) for f in args.fractions.split(",")]
    try:
        import aeon  # noqa: F401
        has_ts = not args.no_timeseries
    except ImportError:
        has_ts = False
        print("aeon not installed (pip install 'pyssl[timeseries]'): skipping time series")
    rows = []
    for dname, (loader, kind) in domains(has_ts).items():
        X, y = loader()
        Xtr, Xte, ytr, yte, spec, bs = prepare(X, y, kind)
        for m in args.methods.split(","):
            t0 = time.perf_counter()
            res, t_pre, hist = compare(Xtr, ytr, Xte, yte, spec, method=m, fractions=fractions, seed=args.seed,
                                       epochs=args.epochs, batch_size=bs,
                                       method_kw={"temperature": 0.5} if m == "simclr" else None)
            for r in res:
                rows.append({"domain": dname, "method": m, "pretrain_s": round(t_pre, 1), **r})
            print(f"{dname} {m}: {time.perf_counter() - t0:.0f} s", flush=True)
    print()
    print(format_table(rows, ["domain", "method", "fraction", "n_labels", "ssl_probe", "ssl_finetune", "scratch",
                              "raw_logreg", "pretrain_s"],
                       ["domain", "method", "labels", "n", "SSL + probe", "SSL + fine-tune", "scratch",
                        "logreg (raw)", "pretrain s"]))
    print(f"\nthreads={pyssl.get_num_threads()}, epochs={args.epochs}, seed={args.seed}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
