"""Command line: ``pyssl demo | pretrain | evaluate | theory | bench``.

    pyssl demo                         # pretrain on digits, compare against baselines (≈2 min)
    pyssl pretrain data.csv --label-column y --method vicreg --epochs 50 --out enc.npz
    pyssl evaluate enc.npz data.csv --label-column y --adapt probe,knn,finetune
    pyssl evaluate enc.npz --dataset digits --foundation   # one checkpoint, three downstream tasks
    pyssl theory --methods simclr,vicreg,byol --out theory.csv --plot theory.png
    pyssl bench                        # run the benchmark scripts found in ./benchmarks
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np


def _fail(msg: str) -> int:
    print(f"pyssl: error: {msg}", file=sys.stderr)
    return 2


def _load_labeled(args):
    from . import data

    if getattr(args, "dataset", None):
        if args.dataset not in data.DATASETS:
            raise ValueError(f"unknown dataset {args.dataset!r}; choose from {sorted(data.DATASETS)}")
        return data.DATASETS[args.dataset]()
    if not getattr(args, "data", None):
        raise ValueError("give a data file (.npy/.npz/.csv) or --dataset")
    return data.load_array(args.data, getattr(args, "label_column", None))


# -- demo -------------------------------------------------------------------------------------------
def cmd_demo(args) -> int:
    from . import data
    from .experiments import compare, format_table

    t_all = time.perf_counter()
    X, y = data.load_digits()
    Xtr, Xte, ytr, yte = data.stratified_split(X, y, test_size=0.3, seed=0)
    Xtr, Xte = data.standardize(Xtr, Xte)
    spec = {"type": "mlp", "dims": [X.shape[1], 256, 256], "norm": "batch"}
    epochs = 20 if args.quick else args.epochs
    print(f"pyssl demo: digits {Xtr.shape[0]} train / {Xte.shape[0]} test, encoder MLP 64→256→256, "
          f"method {args.method}, {epochs} epochs (batch 256), threads={__import__('pyssl').get_num_threads()}")
    kw = {"temperature": 0.5} if args.method in ("simclr",) else {}
    rows, t_pre, hist = compare(Xtr, ytr, Xte, yte, spec, method=args.method, epochs=epochs, seed=args.seed,
                                fractions=(0.01, 0.1, 1.0), method_kw=kw, progress=not args.no_progress,
                                finetune_epochs=30 if args.quick else 60)
    print(f"\npretraining: {t_pre:.1f} s, loss {hist['loss'][0]:.4f} → {hist['loss'][-1]:.4f}\n")
    print("test accuracy by fraction of training labels")
    print(format_table(rows, ["fraction", "n_labels", "ssl_probe", "ssl_finetune", "scratch", "raw_logreg"],
                       ["labels", "n", f"{args.method} + linear probe", f"{args.method} + fine-tune",
                        "MLP from scratch", "logistic regression (raw)"]))
    print(f"\ntotal {time.perf_counter() - t_all:.1f} s")
    return 0


# -- pretrain -------------------------------------------------------------------------------------------
def cmd_pretrain(args) -> int:
    from .experiments import make_encoder, make_method
    from .nn.checkpoint import save_state
    from .train import pretrain

    cfg = {}
    if args.config:
        with open(args.config) as f:
            cfg = json.load(f)
    X, _ = _load_labeled(args)
    opts = {"method": args.method, "epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr,
            "hidden": args.hidden, "seed": args.seed, "standardize": not args.no_standardize}
    opts.update({k: v for k, v in cfg.items() if k in opts})
    if opts["standardize"]:
        from .data import standardize

        mu_sd = (X.mean(axis=0), X.std(axis=0))
        X = standardize(X)
    dims = [int(np.prod(X.shape[1:]))] + [int(h) for h in str(opts["hidden"]).split(",")]
    if X.ndim > 2:
        X = X.reshape(X.shape[0], -1)
    spec = {"type": "mlp", "dims": dims, "norm": "batch", "seed": opts["seed"]}
    enc = make_encoder(spec)
    method = make_method(opts["method"], enc, **cfg.get("method_kwargs", {}))
    hist = pretrain(method, X, epochs=opts["epochs"], batch_size=opts["batch_size"], lr=opts["lr"],
                    seed=opts["seed"], progress=not args.no_progress)
    meta = {"kind": "encoder", "encoder": spec, "method": opts["method"], "history": dict(hist),
            "standardize": opts["standardize"]}
    arrays = {f"encoder.{k}": v for k, v in enc.state_dict().items()}
    if opts["standardize"]:
        arrays["input.mean"], arrays["input.std"] = mu_sd
    save_state(args.out, arrays, meta)
    print(f"pretrained {opts['method']} for {opts['epochs']} epochs: loss {hist['loss'][0]:.4f} → "
          f"{hist['loss'][-1]:.4f}; encoder saved to {args.out}")
    if args.plot:
        _plot_loss(hist["loss"], args.plot, opts["method"])
    return 0


def _plot_loss(losses, path, title):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed (pip install 'pyssl[plot]'): no plot written", file=sys.stderr)
        return
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot(range(1, len(losses) + 1), losses)
    ax.set_xlabel("epoch")
    ax.set_ylabel("pretext loss")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    print(f"loss curve written to {path}")


# -- evaluate -------------------------------------------------------------------------------------------
def _load_encoder(path):
    from .experiments import make_encoder
    from .nn.checkpoint import load_state

    arrays, meta = load_state(path)
    if meta.get("kind") != "encoder":
        raise ValueError(f"{path!r} is not an encoder checkpoint written by 'pyssl pretrain'")
    enc = make_encoder(meta["encoder"])
    enc.load_state_dict({k[8:]: v for k, v in arrays.items() if k.startswith("encoder.")})
    norm = (arrays["input.mean"], arrays["input.std"]) if "input.mean" in arrays else None
    return enc, meta, norm


def cmd_evaluate(args) -> int:
    from .data import stratified_split
    from .experiments import format_table
    from .transfer import KNN, FineTune, LinearProbe

    enc, meta, norm = _load_encoder(args.checkpoint)
    X, y = _load_labeled(args)
    if y is None:
        raise ValueError("evaluate needs labels: give --label-column for .csv or a 'y' array in .npz")
    X = X.reshape(X.shape[0], -1)
    if norm is not None:
        mu, sd = norm
        X = ((X - mu) / np.where(sd > 1e-8, sd, 1.0)).astype(np.float32)
    if X.shape[1] != meta["encoder"]["dims"][0]:
        raise ValueError(f"data has {X.shape[1]} features but the encoder expects {meta['encoder']['dims'][0]}")
    tasks = {"label": y}
    if args.foundation:
        yi = np.asarray(y)
        tasks = {"label (multi-class)": yi, "label >= median (binary)": (yi >= np.median(yi)).astype(np.int64),
                 "label as number (regression)": yi.astype(np.float64) + 0.5}
    adapters = [a.strip() for a in args.adapt.split(",")]
    rows = []
    for tname, t in tasks.items():
        strat = t if np.issubdtype(np.asarray(t).dtype, np.integer) else None
        if strat is not None:
            Xtr, Xte, ytr, yte = stratified_split(X, t, test_size=0.3, seed=args.seed)
        else:
            rng = np.random.default_rng(args.seed)
            perm = rng.permutation(len(t))
            cut = int(0.7 * len(t))
            Xtr, Xte, ytr, yte = X[perm[:cut]], X[perm[cut:]], t[perm[:cut]], t[perm[cut:]]
        task = "regression" if strat is None else "classification"
        row = {"task": tname, "metric": "R²" if strat is None else "accuracy"}
        for a in adapters:
            if a == "probe":
                row["probe"] = LinearProbe(enc, task=task).fit(Xtr, ytr).score(Xte, yte)
            elif a == "knn":
                row["knn"] = KNN(enc, task=task).fit(Xtr, ytr).score(Xte, yte)
            elif a == "finetune":
                row["finetune"] = FineTune(enc, epochs=args.finetune_epochs, seed=args.seed, task=task).fit(Xtr, ytr).score(Xte, yte)
            else:
                raise ValueError(f"unknown adaptation {a!r}; use probe, knn, finetune")
        rows.append(row)
    print(f"checkpoint {args.checkpoint}: {meta.get('method')} encoder {meta['encoder']['dims']}")
    print(format_table(rows, ["task", "metric"] + adapters))
    return 0


# -- theory -------------------------------------------------------------------------------------------
def cmd_theory(args) -> int:
    from . import data
    from .experiments import make_encoder, make_method
    from .theory import plot_theory, run_theory

    X, y = data.load_digits()
    Xtr, Xte, ytr, yte = data.stratified_split(X, y, test_size=0.3, seed=args.seed)
    Xtr, Xte = data.standardize(Xtr, Xte)
    methods = {}
    for name in args.methods.split(","):
        enc = make_encoder({"type": "mlp", "dims": [Xtr.shape[1], 256, 256], "norm": "batch", "seed": args.seed})
        methods[name] = make_method(name, enc)
    # L*_adapt: linear head fitted on the labeled training part, its loss measured on the test part.
    rows = run_theory(methods, Xtr, Xtr, ytr, Xte, yte, epochs=args.epochs, seed=args.seed, every=args.every,
                      csv_path=args.out, progress=not args.no_progress)
    print(f"{'method':>12} {'epoch':>5} {'L_pre':>10} {'L*_adapt':>10}")
    for r in rows:
        print(f"{r['method']:>12} {r['epoch']:>5} {r['pretrain_loss']:>10.4f} {r['adapt_loss']:>10.4f}")
    print(f"wrote {args.out}")
    if args.plot:
        print(f"wrote {args.plot}" if plot_theory(rows, args.plot) else "matplotlib not installed: no plot")
    return 0


# -- bench -------------------------------------------------------------------------------------------
def cmd_bench(args) -> int:
    here = os.path.abspath(args.dir)
    if not os.path.isdir(here):
        return _fail(f"no benchmarks folder at {here!r}; run from the repository root or pass --dir")
    scripts = sorted(f for f in os.listdir(here) if f.startswith("bench_") and f.endswith(".py"))
    if args.only:
        scripts = [s for s in scripts if any(k in s for k in args.only.split(","))]
    rc = 0
    for s in scripts:
        print(f"\n=== {s}", flush=True)
        cmd = [sys.executable, os.path.join(here, s)] + (["--quick"] if args.quick else [])
        rc |= subprocess.call(cmd)
    return rc


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pyssl", description="Self-supervised learning with C++ kernels.")
    p.add_argument("--threads", type=int, default=None, help="threads for kernels and BLAS (default: all cores)")
    sub = p.add_subparsers(dest="cmd", required=True)

    d = sub.add_parser("demo", help="pretrain on digits and compare against baselines")
    d.add_argument("--method", default="simclr")
    d.add_argument("--epochs", type=int, default=375, help="pretraining epochs (375 = 1500 steps of batch 256)")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--quick", action="store_true", help="fewer epochs (smoke run)")
    d.add_argument("--no-progress", action="store_true")
    d.set_defaults(fn=cmd_demo)

    t = sub.add_parser("pretrain", help="pretrain an encoder on unlabeled data")
    t.add_argument("data", nargs="?", help=".npy / .npz / .csv file")
    t.add_argument("--dataset", help="built-in dataset instead of a file (digits, breast_cancer, wine)")
    t.add_argument("--label-column", help="CSV column to drop before pretraining (name or index)")
    t.add_argument("--method", default="simclr")
    t.add_argument("--epochs", type=int, default=50)
    t.add_argument("--batch-size", type=int, default=256)
    t.add_argument("--lr", type=float, default=1e-3)
    t.add_argument("--hidden", default="256,256", help="encoder widths after the input, comma-separated")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--config", help="JSON file with any of the options above and method_kwargs")
    t.add_argument("--no-standardize", action="store_true")
    t.add_argument("--out", default="encoder.npz")
    t.add_argument("--plot", help="write the loss curve as PNG (needs matplotlib)")
    t.add_argument("--no-progress", action="store_true")
    t.set_defaults(fn=cmd_pretrain)

    e = sub.add_parser("evaluate", help="adapt a pretrained encoder to labeled data")
    e.add_argument("checkpoint")
    e.add_argument("data", nargs="?")
    e.add_argument("--dataset")
    e.add_argument("--label-column")
    e.add_argument("--adapt", default="probe,knn,finetune")
    e.add_argument("--foundation", action="store_true",
                   help="evaluate three derived tasks (multi-class, binary, regression) from one checkpoint")
    e.add_argument("--finetune-epochs", type=int, default=50)
    e.add_argument("--seed", type=int, default=0)
    e.set_defaults(fn=cmd_evaluate)

    th = sub.add_parser("theory", help="record L_pre against L*_adapt during pretraining")
    th.add_argument("--methods", default="simclr,vicreg,byol")
    th.add_argument("--epochs", type=int, default=30)
    th.add_argument("--every", type=int, default=3)
    th.add_argument("--seed", type=int, default=0)
    th.add_argument("--out", default="theory.csv")
    th.add_argument("--plot", default=None)
    th.add_argument("--no-progress", action="store_true")
    th.set_defaults(fn=cmd_theory)

    b = sub.add_parser("bench", help="run the benchmark scripts")
    b.add_argument("--dir", default="benchmarks")
    b.add_argument("--only", help="comma-separated substrings of script names")
    b.add_argument("--quick", action="store_true")
    b.set_defaults(fn=cmd_bench)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    import pyssl

    if args.threads is not None:
        pyssl.set_num_threads(args.threads)
    try:
        return args.fn(args)
    except (ValueError, FileNotFoundError, ImportError, TypeError) as exc:
        return _fail(str(exc))


if __name__ == "__main__":
    sys.exit(main())
