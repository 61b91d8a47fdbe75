"""Command line: ``pyssl demo | pretrain | evaluate | embed | theory | bench``.

    pyssl demo                         # pretrain on digits, compare against baselines (≈2 min)
    pyssl pretrain data.csv --label-column y --method vicreg --epochs 50 --out enc.npz
    pyssl pretrain photos/ --image-size 32 --out enc.npz          # one sub-folder per class
    pyssl evaluate enc.npz data.csv --label-column y --adapt probe,knn,finetune
    pyssl embed enc.npz data.csv --label-column y --out emb.npy
    pyssl theory --methods simclr,vicreg,byol --out theory.csv --plot theory.png
    pyssl bench                        # run the benchmark scripts found in ./benchmarks

Data is a ``.csv`` / ``.npy`` / ``.npz`` file or a folder of images. The encoder follows the
rank of the samples: an MLP for table rows (N, D), a 1-D CNN for series (N, C, T), a 2-D CNN for
images (N, C, H, W) (``--encoder`` overrides), and each method's default views follow the same
rank. Checkpoints load in Python with ``pyssl.load_encoder(path)``.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time

import numpy as np

ADAPTERS = ("probe", "knn", "finetune")
_LABEL_LIKE = ("label", "labels", "target", "class", "y", "species", "outcome", "diagnosis")


def _fail(msg: str) -> int:
    print(f"pyssl: error: {msg}", file=sys.stderr)
    return 2


def _note(msg: str) -> None:
    print(f"pyssl: {msg}", file=sys.stderr, flush=True)


def _progress(args):
    """pretrain's progress argument: off with --no-progress, else its own rule (a bar only when
    stderr is a terminal)."""
    return False if getattr(args, "no_progress", False) else None


# -- argument types ---------------------------------------------------------------------------------
def _positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {v}")
    return v


def _int_list(text) -> list[int]:
    if isinstance(text, (list, tuple)):
        text = ",".join(str(v) for v in text)
    try:
        out = [int(v) for v in str(text).split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not out or min(out) < 1:
        raise argparse.ArgumentTypeError(f"expected comma-separated positive integers, got {text!r}")
    return out


def _adapters(text: str) -> list[str]:
    names = [a.strip() for a in text.split(",") if a.strip()]
    bad = [a for a in names if a not in ADAPTERS]
    if bad or not names:
        raise argparse.ArgumentTypeError(f"unknown adaptation {', '.join(bad) or text!r}; use a comma-separated "
                                         f"subset of {', '.join(ADAPTERS)}")
    return names


def _methods(text: str) -> list[str]:
    from .experiments import METHOD_NAMES

    names = [m.strip().lower().replace("-", "_") for m in text.split(",") if m.strip()]
    bad = [m for m in names if m not in METHOD_NAMES]
    if bad or not names:
        raise argparse.ArgumentTypeError(f"unknown method {', '.join(bad) or text!r}; choose from "
                                         f"{', '.join(METHOD_NAMES)}")
    return names


def _method(text: str) -> str:
    names = _methods(text)
    if len(names) != 1:
        raise argparse.ArgumentTypeError(f"give one method, got {text!r}")
    return names[0]


def _image_size(text) -> tuple[int, int]:
    parts = str(text).lower().replace("×", "x").replace(",", "x").split("x")  # "32x48", or [32, 48] in a config
    try:
        hw = [int(p) for p in parts]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected SIZE or HEIGHTxWIDTH, got {text!r}") from None
    if len(hw) not in (1, 2) or min(hw) < 1:
        raise argparse.ArgumentTypeError(f"expected SIZE or HEIGHTxWIDTH with positive sizes, got {text!r}")
    return (hw[0], hw[-1])


# -- data -------------------------------------------------------------------------------------------
def _load(args, path, need_labels: bool, what: str = "data", as_frame: bool = False):
    """(X, y) from a built-in dataset, a folder of images, or a .csv / .npy / .npz file. A CSV
    table with text or missing feature values (or any CSV, with ``as_frame``) comes as a pandas
    DataFrame, for a table encoder."""
    from . import data

    if path is None:
        name = getattr(args, "dataset", None)
        if not name:
            raise ValueError(f"give a {what} file (.csv/.npy/.npz) or image folder, or --dataset")
        if name not in data.DATASETS:
            raise ValueError(f"unknown dataset {name!r}; choose from {sorted(data.DATASETS)}")
        return data.DATASETS[name]()
    if os.path.isdir(path):
        X, y, classes = data.load_image_folder(path, size=args.image_size, mode=args.image_mode)
        _note(f"{what}: {X.shape[0]} images of {X.shape[1]}×{X.shape[2]}×{X.shape[3]} from {path}"
              + (f" in {len(classes)} classes" if classes else " (no class sub-folders: unlabeled)"))
        return X, y
    if path.lower().endswith(".csv"):
        X, y, names = data.load_csv(path, args.label_column, delimiter=args.delimiter,
                                    drop_columns=args.drop_columns or (), return_columns=True, mixed=True,
                                    as_frame=as_frame)
        if args.label_column is None and not need_labels:
            hint = [n for n in names if n.strip().lower() in _LABEL_LIKE]
            _note(f"no --label-column given: all {len(names)} columns of {path} are used as features"
                  + (f", including {hint[0]!r}; pass --label-column {shlex.quote(hint[0])} to keep it out" if hint
                     else f" (the last is {names[-1]!r}); pass --label-column NAME to keep a label column out"))
        return X, y
    if args.label_column is not None:
        raise ValueError("--label-column applies to .csv files; a .npz carries labels as its 'y' array")
    return data.load_array(path)


def _labels_required(y, path, what="data"):
    if y is None:
        raise ValueError(f"{what} {path!r} has no labels: give --label-column for .csv, a 'y' array in .npz, "
                         "or one sub-folder per class for images")


# -- config -----------------------------------------------------------------------------------------
_NOT_CONFIGURABLE = {"help", "config", "fn", "sub", "threads", "argv"}


def _apply_config(args, argv):
    """Reparse ``argv`` with the JSON file's values as defaults, so that explicit flags win;
    unknown keys are an error naming the valid ones. ``method_kwargs`` go to the method."""
    sub = args.sub
    with open(args.config) as f:
        try:
            cfg = json.load(f)
        except json.JSONDecodeError as exc:
            raise ValueError(f"--config {args.config!r} is not valid JSON: {exc}") from None
    if not isinstance(cfg, dict):
        raise ValueError(f"--config {args.config!r} must hold a JSON object, got {type(cfg).__name__}")
    dests = {a.dest for a in sub._actions} - _NOT_CONFIGURABLE
    cfg = {k.replace("-", "_"): v for k, v in cfg.items()}
    if "standardize" in cfg:
        cfg["no_standardize"] = not cfg.pop("standardize")
    method_kw = cfg.pop("method_kwargs", {})
    unknown = sorted(set(cfg) - dests)
    if unknown:
        raise ValueError(f"unknown key(s) {unknown} in --config {args.config!r}; valid keys: "
                         f"{sorted(dests | {'method_kwargs'})}")
    if not isinstance(method_kw, dict):
        raise ValueError(f"method_kwargs in --config {args.config!r} must be an object")
    sub.set_defaults(**{k: v if isinstance(v, (bool, int, float)) or v is None else
                        (",".join(map(str, v)) if isinstance(v, list) else str(v)) for k, v in cfg.items()})
    new = sub._pyssl_root.parse_args(argv)
    new.method_kwargs = method_kw
    return new


# -- demo -------------------------------------------------------------------------------------------
def cmd_demo(args) -> int:
    from . import data, get_num_threads
    from .experiments import compare, format_table

    t_all = time.perf_counter()
    X, y = data.load_digits()
    Xtr, Xte, ytr, yte = data.stratified_split(X, y, test_size=0.3, seed=0)
    Xtr, Xte = data.standardize(Xtr, Xte)
    spec = {"type": "mlp", "dims": [X.shape[1], 256, 256], "norm": "batch"}
    epochs = 20 if args.quick else args.epochs
    print(f"pyssl demo: digits {Xtr.shape[0]} train / {Xte.shape[0]} test, encoder MLP 64→256→256, "
          f"method {args.method}, {epochs} epochs (batch 256), threads={get_num_threads()}")
    kw = {"temperature": 0.5} if args.method in ("simclr",) else {}
    rows, t_pre, hist = compare(Xtr, ytr, Xte, yte, spec, method=args.method, epochs=epochs, seed=args.seed,
                                fractions=(0.01, 0.1, 1.0), method_kw=kw, progress=_progress(args),
                                finetune_epochs=30 if args.quick else 60)
    print(f"\npretraining: {t_pre:.1f} s, loss {hist['loss'][0]:.4f} → {hist['loss'][-1]:.4f}\n")
    print("test accuracy by fraction of training labels")
    print(format_table(rows, ["fraction", "n_labels", "ssl_probe", "ssl_finetune", "scratch", "raw_logreg"],
                       ["labels", "n", f"{args.method} + linear probe", f"{args.method} + fine-tune",
                        "MLP from scratch", "logistic regression (raw)"]))
    print(f"\ntotal {time.perf_counter() - t_all:.1f} s")
    return 0


# -- pretrain ---------------------------------------------------------------------------------------
def _table_model(frame, args, seed):
    """A PretrainedEncoder around a TabularEncoder fitted on ``frame``, and the packed rows."""
    from .pretrained import PretrainedEncoder
    from .tables import TabularEncoder

    if args.encoder == "conv":
        raise ValueError("--encoder conv needs series or images; a table with text or missing values takes the "
                         "table encoder (--encoder auto or mlp)")
    enc = TabularEncoder(hidden=args.hidden or (256, 256), seed=seed)
    Xin = enc.encode(frame, fit=True)
    s = enc.schema
    _note(f"table: {len(s.numeric_)} numeric column(s) (standardised; missing entries get a learned value and an "
          f"indicator), {len(s.categorical_)} categorical column(s) embedded: "
          + (", ".join(f"{c} ({len(k)} categories)" for c, k in zip(s.categorical_, s.categories_)) or "none"))
    return PretrainedEncoder(enc, (enc.in_features,), None, False, meta={"encoder": enc.spec()}), Xin


def _rows(model, X, what: str = "data"):
    """X checked against the checkpoint's input; a DataFrame packed by its table schema."""
    from .tables import as_model_input, find_table_encoder, is_frame

    enc = find_table_encoder(model)
    if is_frame(X) and enc is not None:
        enc.schema.check_columns(X, what)
        return as_model_input(model, X)
    if is_frame(X):
        return as_model_input(model, X, name=what)
    model.check_input(X, what)
    return X


def _model_and_inputs(X, args, seed):
    """The PretrainedEncoder for X's samples and X as its inner encoder sees it (standardised,
    flattened for an MLP on series or images; a table with text or missing values packed by a
    table encoder's schema)."""
    from .pretrained import Standardize, build_encoder
    from .tables import is_frame

    if is_frame(X):
        return _table_model(X, args, seed)

    std = None if args.no_standardize else Standardize.fit(X)
    model = build_encoder(X.shape[1:], args.encoder, args.hidden, seed=seed, standardize=std)
    Xin = std(X) if std is not None else X
    if model.flatten:
        Xin = Xin.reshape(Xin.shape[0], -1)
    return model, np.ascontiguousarray(Xin, dtype=np.float32)


def _describe(model) -> str:
    spec = model.meta["encoder"]
    if spec["type"] == "table":
        s = spec["schema"]
        return (f"table ({len(s['numeric'])} numeric, {len(s['categorical'])} categorical columns) → MLP "
                + "→".join(map(str, spec["hidden"])))
    if spec["type"] == "mlp":
        return "MLP " + "→".join(map(str, spec["dims"])) + (" (flattened)" if model.flatten else "")
    return f"{spec['type']} CNN channels {spec['in_channels']}→" + "→".join(map(str, spec["channels"]))


def cmd_pretrain(args) -> int:
    from .experiments import make_method
    from .nn.checkpoint import load_state
    from .pretrained import save_encoder
    from .train import pretrain

    out_dir = os.path.dirname(os.path.abspath(args.out))
    if not os.path.isdir(out_dir):
        raise FileNotFoundError(f"cannot write --out {args.out!r}: folder {out_dir!r} does not exist")
    X, _ = _load(args, args.data, need_labels=False)
    model, Xin = _model_and_inputs(X, args, args.seed)
    method = make_method(args.method, model.encoder, **getattr(args, "method_kwargs", {}))
    user_ckpt = args.checkpoint or args.resume
    ckpt = user_ckpt or os.path.splitext(args.out)[0] + ".resume.npz"
    if args.epochs is None:
        from .train import default_epochs

        args.epochs = default_epochs(len(Xin), args.batch_size)
    _note(f"pretraining {args.method} on {X.shape[0]} samples of shape {tuple(X.shape[1:])}, encoder "
          f"{_describe(model)}, {args.epochs} epoch{'s' if args.epochs > 1 else ''}")
    try:
        hist = pretrain(method, Xin, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                        progress=_progress(args), checkpoint=ckpt, resume=args.resume,
                        precision=getattr(args, "precision", "32"))
    except KeyboardInterrupt:
        if not os.path.exists(ckpt):
            _note("interrupted before the first epoch finished: nothing saved")
            return 130
        epoch = int(load_state(ckpt)[1].get("epoch", -1)) + 1
        again = [a for a in args.argv]
        if "--resume" not in again:
            again += ["--resume", ckpt]
        _note(f"interrupted; the training state after epoch {epoch} of {args.epochs} is in {ckpt}. Continue with:\n"
              f"  pyssl {shlex.join(again)}")
        return 130
    save_encoder(args.out, model, method=args.method, history=dict(hist))
    if not user_ckpt and os.path.exists(ckpt):
        os.unlink(ckpt)
    print(f"pretrained {args.method} for {args.epochs} epoch{'s' if args.epochs > 1 else ''}: loss {hist['loss'][0]:.4f} → "
          f"{hist['loss'][-1]:.4f}; encoder saved to {args.out}")
    if args.plot:
        _plot_loss(hist["loss"], args.plot, args.method)
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


# -- evaluate ---------------------------------------------------------------------------------------
def _split(X, t, classification: bool, seed: int):
    from .data import stratified_split

    if classification:
        return stratified_split(X, t, test_size=0.3, seed=seed)
    perm = np.random.default_rng(seed).permutation(len(t))
    cut = int(0.7 * len(t))
    return X[perm[:cut]], X[perm[cut:]], t[perm[:cut]], t[perm[cut:]]


def cmd_evaluate(args) -> int:
    from .experiments import format_table
    from .pretrained import load_encoder
    from .transfer import KNN, FineTune, LinearProbe

    from .tables import find_table_encoder

    model = load_encoder(args.checkpoint)
    table = find_table_encoder(model) is not None
    X, y = _load(args, args.data, need_labels=True, as_frame=table)
    _labels_required(y, args.data)
    X = _rows(model, X, "data")
    test = None
    if args.test is not None:
        Xt, yt = _load(args, args.test, need_labels=True, what="test data", as_frame=table)
        _labels_required(yt, args.test, "test data")
        Xt = _rows(model, Xt, "test data")
        test = (Xt, yt)
    y = np.asarray(y)
    numeric = np.issubdtype(y.dtype, np.number)
    if args.task == "regression" and not numeric:
        raise ValueError(f"--task regression needs numeric targets; the labels are text (e.g. {y[0]!r})")
    tasks = {"label": (y, args.task, test[1] if test else None)}
    if args.foundation:
        if not numeric:
            raise ValueError("--foundation derives a binary and a regression task from numeric labels; "
                             f"the labels are text (e.g. {y[0]!r})")
        med = np.median(y)
        tasks = {"label (multi-class)": (y, "classification", test[1] if test else None),
                 "label >= median (binary)": ((y >= med).astype(np.int64), "classification",
                                              (test[1] >= med).astype(np.int64) if test else None),
                 "label as number (regression)": (y.astype(np.float64), "regression",
                                                  test[1].astype(np.float64) if test else None)}
    rows, n_jobs, job = [], len(tasks) * len(args.adapt), 0
    for tname, (t, task, t_test) in tasks.items():
        if task == "auto":
            floaty = np.issubdtype(t.dtype, np.floating) and not np.all(np.mod(t, 1) == 0)
            task = "regression" if floaty else "classification"
        if test is None:
            Xtr, Xte, ytr, yte = _split(X, t, task == "classification", args.seed)
        else:
            Xtr, Xte, ytr, yte = X, test[0], t, t_test
        row = {"task": tname, "metric": "accuracy" if task == "classification" else "R²"}
        for a in args.adapt:
            job += 1
            _note(f"[{job}/{n_jobs}] {tname}: {a} on {len(Xtr)} samples, scored on {len(Xte)} ...")
            t0 = time.perf_counter()
            adapter: LinearProbe | KNN | FineTune
            if a == "probe":
                adapter = LinearProbe(model, task=task)
            elif a == "knn":
                adapter = KNN(model, task=task)
            else:
                adapter = FineTune(model, epochs=args.finetune_epochs, seed=args.seed, task=task)
            row[a] = adapter.fit(Xtr, ytr).score(Xte, yte)
            _note(f"[{job}/{n_jobs}] {tname}: {a} {row[a]:.3f} ({time.perf_counter() - t0:.1f} s)")
        rows.append(row)
    meta = model.meta
    print(f"checkpoint {args.checkpoint}: {meta.get('method')} encoder {_describe(model)}; "
          + (f"test data {args.test}" if test else "70/30 split of the data"))
    print(format_table(rows, ["task", "metric"] + list(args.adapt)))
    return 0


# -- embed ------------------------------------------------------------------------------------------
def cmd_embed(args) -> int:
    from .pretrained import load_encoder

    from .tables import find_table_encoder

    model = load_encoder(args.checkpoint)
    X, _ = _load(args, args.data, need_labels=True, as_frame=find_table_encoder(model) is not None)
    X = _rows(model, X, "data")
    Z = model.transform(X)
    out_dir = os.path.dirname(os.path.abspath(args.out))
    if not os.path.isdir(out_dir):
        raise FileNotFoundError(f"cannot write --out {args.out!r}: folder {out_dir!r} does not exist")
    if args.out.lower().endswith(".csv"):
        np.savetxt(args.out, Z, delimiter=",", fmt="%.7g")
    else:
        np.save(args.out, Z)
    print(f"wrote {Z.shape[0]}×{Z.shape[1]} embeddings to {args.out}")
    return 0


# -- theory -----------------------------------------------------------------------------------------
def cmd_theory(args) -> int:
    from . import data
    from .experiments import make_method
    from .theory import plot_theory, run_theory

    X, y = _load(args, args.data, need_labels=True)
    _labels_required(y, args.data)
    Xtr, Xte, ytr, yte = data.stratified_split(X, np.asarray(y), test_size=0.3, seed=args.seed)
    methods: dict = {}
    prepared: tuple[np.ndarray, np.ndarray] | None = None
    for name in args.methods:
        model, Xin = _model_and_inputs(Xtr, args, args.seed)
        if prepared is None:
            Xte_in = model.input(Xte) if getattr(model, "input", None) is not None else _rows(model, Xte)
            Xte_in = np.ascontiguousarray(Xte_in.reshape(len(Xte), -1) if model.flatten else Xte_in, np.float32)
            prepared = (Xin, Xte_in)
        methods[name] = make_method(name, model.encoder)
    assert prepared is not None  # _methods rejects an empty --methods list
    Xin, Xte_in = prepared
    # L*_adapt: linear head fitted on the labeled training part, its loss measured on the test part.
    rows = run_theory(methods, Xin, Xin, ytr, Xte_in, yte, epochs=args.epochs, batch_size=args.batch_size,
                      seed=args.seed, every=args.every, csv_path=args.out, progress=_progress(args))
    print(f"{'method':>12} {'epoch':>5} {'L_pre':>10} {'L*_adapt':>10}")
    for r in rows:
        print(f"{r['method']:>12} {r['epoch']:>5} {r['pretrain_loss']:>10.4f} {r['adapt_loss']:>10.4f}")
    print(f"wrote {args.out}")
    if args.plot:
        title = f"{args.data or args.dataset}: {len(Xtr)} train / {len(Xte)} held-out samples"
        print(f"wrote {args.plot}" if plot_theory(rows, args.plot, title=title)
              else "matplotlib not installed (pip install 'pyssl[plot]'): no plot written")
    return 0


# -- bench ------------------------------------------------------------------------------------------
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


# -- parser -----------------------------------------------------------------------------------------
class _Help(argparse.RawDescriptionHelpFormatter):
    """Keeps the examples' layout and appends each option's default (when it has one)."""

    def _get_help_string(self, action):
        text = action.help or ""
        default = action.default
        if (default is None or default is False or default is argparse.SUPPRESS or "default" in text
                or not action.option_strings):
            return text
        shown = ",".join(map(str, default)) if isinstance(default, (list, tuple)) else str(default)
        return text + f" (default: {shown})".replace("%", "%%")


def _examples(*lines) -> str:
    return "examples:\n" + "\n".join(f"  {ln}" for ln in lines)


def _add_data_options(p, labels_help: str, positional: bool = True) -> None:
    if positional:
        p.add_argument("data", nargs="?", help=".csv / .npy / .npz file, or a folder of images (one sub-folder "
                                               "per class)")
    p.add_argument("--dataset", help="built-in dataset instead of a file: digits, breast_cancer or wine")
    p.add_argument("--label-column", help=labels_help)
    p.add_argument("--delimiter", help="CSV field separator (default: detected among , ; tab |)")
    p.add_argument("--drop-columns", type=lambda s: [c.strip() for c in s.split(",") if c.strip()],
                   help="CSV columns to leave out (identifiers, text), comma-separated names or indices")
    p.add_argument("--image-size", type=_image_size,
                   help="resize images to SIZE or HEIGHTxWIDTH (default: all images must share one size)")
    p.add_argument("--image-mode", choices=("RGB", "L"), default="RGB", help="image channels: RGB or L (grayscale)")


def _add_encoder_options(p) -> None:
    p.add_argument("--encoder", choices=("auto", "mlp", "conv"), default="auto",
                   help="auto: MLP for table rows, 1-D CNN for series (N, C, T), 2-D CNN for images (N, C, H, W); "
                        "mlp flattens series and images")
    p.add_argument("--hidden", type=_int_list, default=None,
                   help="layer widths, comma-separated: MLP hidden sizes or CNN channels "
                        "(default: 256,256 for an MLP, 32,64 for a CNN)")
    p.add_argument("--no-standardize", action="store_true",
                   help="keep raw inputs (default: standardise per feature for rows, per channel for series and "
                        "images, with the statistics stored in the checkpoint)")


def build_parser() -> argparse.ArgumentParser:
    from .experiments import METHOD_NAMES

    p = argparse.ArgumentParser(prog="pyssl", description="Self-supervised learning with C++ kernels.",
                                formatter_class=_Help, epilog="examples:\n" + __doc__.split("\n\n")[1])
    threads_help = "threads for kernels and BLAS (default: all cores)"
    p.add_argument("--threads", type=_positive_int, default=None, help=threads_help)
    sub = p.add_subparsers(dest="cmd", required=True)

    def command(name, help, epilog):
        s = sub.add_parser(name, help=help, description=help, formatter_class=_Help, epilog=epilog)
        s.add_argument("--threads", type=_positive_int, default=argparse.SUPPRESS, help=threads_help)
        s._pyssl_root = p
        s.set_defaults(sub=s)
        return s

    methods = ", ".join(METHOD_NAMES)
    d = command("demo", "pretrain on digits and compare against baselines",
                _examples("pyssl demo --quick", "pyssl demo --method vicreg --epochs 100 > demo.log"))
    d.add_argument("--method", type=_method, default="simclr", help=f"pretraining method: {methods}")
    d.add_argument("--epochs", type=_positive_int, default=375, help="pretraining epochs (375 = 1500 steps of batch 256)")
    d.add_argument("--seed", type=int, default=0, help="seed of every random draw")
    d.add_argument("--quick", action="store_true", help="20 epochs and shorter fine-tuning (smoke run)")
    d.add_argument("--no-progress", action="store_true", help="no progress bar (default: one when stderr is a terminal)")
    d.set_defaults(fn=cmd_demo)

    t = command("pretrain", "pretrain an encoder on unlabeled data",
                _examples("pyssl pretrain measurements.csv --label-column species --method vicreg --out enc.npz",
                          "pyssl pretrain photos/ --image-size 32 --epochs 100 --out photos_enc.npz",
                          "pyssl pretrain series.npy --method simclr --checkpoint run.npz   # resumable"))
    _add_data_options(t, "CSV column left out of pretraining (a label; name or index)")
    t.add_argument("--method", type=_method, default="simclr", help=f"pretraining method: {methods}")
    _add_encoder_options(t)
    t.add_argument("--epochs", type=_positive_int, default=None,
                   help="passes over the data (default: about 1500 optimizer steps, pyssl.train.default_epochs)")
    t.add_argument("--batch-size", type=_positive_int, default=256, help="samples per step (at most the data size)")
    t.add_argument("--lr", type=float, default=1e-3, help="peak AdamW learning rate (cosine decay to lr/100)")
    t.add_argument("--seed", type=int, default=0, help="seed of the initialisation, shuffles and views")
    t.add_argument("--precision", choices=["32", "bf16-mixed"], default="32",
                   help="bf16-mixed: bfloat16 matrix products with float32 sums (oneDNN; see pyssl.nn.precision)")
    t.add_argument("--config", help="JSON object with any of these options (e.g. {\"epochs\": 100}) and "
                                    "method_kwargs (e.g. {\"temperature\": 0.5}); flags given on the command line win")
    t.add_argument("--out", default="encoder.npz", help="encoder checkpoint to write (load with pyssl.load_encoder)")
    t.add_argument("--checkpoint", help="write the full training state here after every epoch (default: "
                                        "OUT without .npz + .resume.npz, removed when training finishes)")
    t.add_argument("--resume", help="continue from a training-state checkpoint written with the same data, seed "
                                    "and batch size (it is also updated as training goes on)")
    t.add_argument("--plot", help="write the loss curve as PNG (needs matplotlib)")
    t.add_argument("--no-progress", action="store_true", help="no progress bar (default: one when stderr is a terminal)")
    t.set_defaults(fn=cmd_pretrain)

    e = command("evaluate", "adapt a pretrained encoder to labeled data and score it",
                _examples("pyssl evaluate enc.npz measurements.csv --label-column species --adapt probe,knn",
                          "pyssl evaluate enc.npz train/ --test test/ --image-size 32   # image folders"))
    e.add_argument("checkpoint", help="encoder checkpoint written by 'pyssl pretrain'")
    _add_data_options(e, "CSV column holding the labels (name or index)")
    e.add_argument("--test", help="labeled test data in the same format: fit on DATA, score on TEST "
                                  "(default: a stratified 70/30 split of DATA)")
    e.add_argument("--adapt", type=_adapters, default=list(ADAPTERS),
                   help="comma-separated adaptations: probe (linear head), knn, finetune")
    e.add_argument("--task", choices=("auto", "classification", "regression"), default="auto",
                   help="auto: classification for integer or text labels, regression for fractional numbers")
    e.add_argument("--foundation", action="store_true",
                   help="evaluate three derived tasks (multi-class, binary, regression) from one checkpoint")
    e.add_argument("--finetune-epochs", type=_positive_int, default=50, help="epochs of fine-tuning")
    e.add_argument("--seed", type=int, default=0, help="seed of the split and of fine-tuning")
    e.set_defaults(fn=cmd_evaluate)

    m = command("embed", "write the embeddings of a data set",
                _examples("pyssl embed enc.npz measurements.csv --label-column species --out emb.npy",
                          "pyssl embed photos_enc.npz photos/ --image-size 32 --out emb.csv"))
    m.add_argument("checkpoint", help="encoder checkpoint written by 'pyssl pretrain'")
    _add_data_options(m, "CSV column to leave out (a label; name or index)")
    m.add_argument("--out", default="embeddings.npy", help="output: .npy, or .csv for text")
    m.set_defaults(fn=cmd_embed)

    th = command("theory", "record L_pre against held-out L*_adapt during pretraining",
                 _examples("pyssl theory --methods simclr,vicreg,byol --epochs 30 --plot theory.png",
                           "pyssl theory measurements.csv --label-column species --methods vicreg --plot t.png"))
    _add_data_options(th, "CSV column holding the labels (name or index)")
    th.set_defaults(dataset="digits")
    th.add_argument("--methods", type=_methods, default=["simclr", "vicreg", "byol"],
                    help="comma-separated methods")
    _add_encoder_options(th)
    th.add_argument("--epochs", type=_positive_int, default=30, help="pretraining epochs per method")
    th.add_argument("--every", type=_positive_int, default=3, help="measure L*_adapt every this many epochs")
    th.add_argument("--batch-size", type=_positive_int, default=256, help="samples per pretraining step")
    th.add_argument("--seed", type=int, default=0, help="seed of the split, initialisation and views")
    th.add_argument("--out", default="theory.csv", help="CSV of (method, epoch, L_pre, L*_adapt)")
    th.add_argument("--plot", help="write the plot as PNG (needs matplotlib)")
    th.add_argument("--no-progress", action="store_true", help="no progress bar (default: one when stderr is a terminal)")
    th.set_defaults(fn=cmd_theory)

    b = command("bench", "run the benchmark scripts",
                _examples("pyssl bench --quick", "pyssl bench --only gemm,losses"))
    b.add_argument("--dir", default="benchmarks", help="folder of bench_*.py scripts")
    b.add_argument("--only", help="comma-separated substrings of script names")
    b.add_argument("--quick", action="store_true", help="shorter runs")
    b.set_defaults(fn=cmd_bench)
    return p


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.argv = argv
    try:
        if getattr(args, "config", None):
            args = _apply_config(args, argv)
            args.argv = argv
        if args.threads is not None:
            from . import set_num_threads

            set_num_threads(args.threads)
        return args.fn(args)
    except (ValueError, FileNotFoundError, ImportError, TypeError, OSError) as exc:
        return _fail(str(exc))
    except KeyboardInterrupt:  # outside pretraining, which saves its state and says how to resume
        _note("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
