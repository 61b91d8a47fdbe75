"""Reusable evaluation protocol behind ``pyssl demo``, ``pyssl evaluate`` and the results table:
pretrain on the unlabeled training part, then compare at several label fractions

* SSL + linear probe (frozen h_θ*),
* SSL + fine-tuning (h_θ* and a new head started at the linear probe, LP-FT),
* the same network trained from scratch on the labels alone (random head, plain supervised),
* logistic regression on raw features.
"""
from __future__ import annotations

import time

import numpy as np

from ._seeding import derive_seed


def _method_names() -> tuple[str, ...]:
    from .methods import METHODS

    return tuple(e.name for e in METHODS.entries(lambda e: e.data == "any"))


#: the domain-agnostic methods of ``pyssl.methods.METHODS`` (what ``make_method`` and the CLI accept)
METHOD_NAMES = _method_names()


def make_encoder(spec: dict):
    """Build an encoder from a JSON-able spec (as stored in CLI checkpoints)."""
    from .nn import MLP
    from .nn.conv import ConvEncoder1d, ConvEncoder2d

    kind = spec.get("type", "mlp")
    if kind == "table":  # mixed-type tables: schema + MixedInput + MLP
        from .tables import TabularEncoder

        return TabularEncoder.from_spec(spec)
    if kind == "mlp":
        return MLP(spec["dims"], norm=spec.get("norm", "batch"), act=spec.get("act", "relu"), seed=spec.get("seed", 0))
    if kind == "conv1d":
        return ConvEncoder1d(spec["in_channels"], tuple(spec.get("channels", (32, 64))), spec.get("kernel_size", 5),
                             seed=spec.get("seed", 0))
    if kind == "conv2d":
        return ConvEncoder2d(spec["in_channels"], tuple(spec.get("channels", (32, 64))), seed=spec.get("seed", 0))
    if kind == "resnet":  # images (N, C, H, W): pyssl.nn.ResNet
        from .nn import ResNet

        return ResNet(spec.get("depth", 18), spec["in_channels"], spec.get("variant", "cifar"), spec.get("width", 64),
                      seed=spec.get("seed", 0))
    if kind == "resnet1d":  # series (N, C, T): pyssl.nn.ResNet1d
        from .nn import ResNet1d

        return ResNet1d(spec["in_channels"], spec.get("width", 64), tuple(spec.get("kernel_sizes", (7, 5, 3))),
                        seed=spec.get("seed", 0))
    raise ValueError(f"unknown encoder type {kind!r}; use 'mlp', 'conv1d', 'conv2d', 'resnet' or 'resnet1d'")


def make_method(name: str, encoder, **kw):
    """Method by name (see ``METHOD_NAMES``), built with ``kw`` over the class defaults.

    Parameters
    ----------
    name : str
        A name of ``METHOD_NAMES`` (case and ``-``/``_`` ignored).
    encoder : pyssl.nn.Module
        h_θ.
    **kw
        Constructor arguments of the method class.
    """
    from .methods import METHODS

    if not isinstance(name, str):
        raise TypeError(f"method must be a method name (str), got {name!r} ({type(name).__name__})")
    key = name.lower().replace("-", "_")
    names = _method_names()  # read live: a method registered after import is accepted too
    if key not in names:
        raise ValueError(f"unknown method {name!r}; choose from {sorted(names)}")
    return METHODS.get(key)(encoder, **kw)


def raw_logreg_score(Xtr, ytr, Xte, yte, l2=1e-3):
    """Accuracy of multinomial logistic regression on the raw (flattened) features: the
    no-pretraining baseline of the protocol.

    ``Xtr``: training samples. ``ytr``: training labels. ``Xte``: test samples. ``yte``: test
    labels. ``l2``: L2 penalty of the logistic regression.
    """
    from .transfer.solvers import LogisticRegressionSolver

    classes, codes = np.unique(ytr, return_inverse=True)
    s = LogisticRegressionSolver(l2=l2, max_iter=1000).fit(Xtr.reshape(len(Xtr), -1), codes, len(classes))
    pred = classes[np.argmax(s.decision_function(Xte.reshape(len(Xte), -1)), axis=1)]
    return float(np.mean(pred == yte))


def compare(Xtr, ytr, Xte, yte, encoder_spec, method="simclr", fractions=(0.01, 0.1, 1.0), seed=0,
            epochs=None, batch_size=256, lr=1e-3, finetune_epochs=60, method_kw=None, progress=False,
            with_finetune=True, precision="32"):
    """Run the protocol for one method and seed; returns (rows, pretrain_seconds, history).

    ``Xtr``: training samples (unlabeled for pretraining; their labels are sampled by fraction).
    ``ytr``: training labels. ``Xte``: test samples. ``yte``: test labels. ``encoder_spec``: the
    encoder as a JSON-able spec (see :func:`make_encoder`). ``fractions``: label fractions to
    evaluate at. ``epochs``: pretraining epochs (None: ``pyssl.train.default_epochs``, about 1500
    optimizer steps). ``batch_size``: pretraining batch size. ``lr``:
    learning rate of pretraining and fine-tuning. ``finetune_epochs``: epochs of fine-tuning and of
    the from-scratch baseline. ``method_kw``: extra keyword arguments of the method. ``progress``:
    print pretraining progress. ``with_finetune``: also fine-tune the pretrained encoder (LP-FT).
    ``precision``: passed to ``pretrain`` (``"32"`` or ``"bf16-mixed"``).
    """
    from .train import pretrain
    from .transfer import FineTune, LinearProbe, sample_labels

    enc = make_encoder({**encoder_spec, "seed": derive_seed(seed, 1)})
    m = make_method(method, enc, seed=derive_seed(seed, 2), **(method_kw or {}))
    t0 = time.perf_counter()
    hist = pretrain(m, Xtr, epochs=epochs, batch_size=batch_size, seed=seed, lr=lr, progress=progress,
                    precision=precision)
    t_pre = time.perf_counter() - t0
    rows = []
    for frac in fractions:
        idx = sample_labels(ytr, frac, seed=derive_seed(seed, 3))
        Xl, yl = Xtr[idx], ytr[idx]
        r = {"fraction": frac, "n_labels": int(len(idx))}
        r["ssl_probe"] = LinearProbe(enc).fit(Xl, yl).score(Xte, yte)
        if with_finetune:
            r["ssl_finetune"] = FineTune(enc, epochs=finetune_epochs, lr=lr, seed=seed,
                                         batch_size=min(128, len(idx))).fit(Xl, yl).score(Xte, yte)
        scratch = make_encoder({**encoder_spec, "seed": derive_seed(seed, 4)})
        r["scratch"] = FineTune(scratch, epochs=finetune_epochs, lr=lr, encoder_lr=lr, seed=seed, init="random",
                                batch_size=min(128, len(idx))).fit(Xl, yl).score(Xte, yte)
        r["raw_logreg"] = raw_logreg_score(Xl, yl, Xte, yte)
        rows.append(r)
    return rows, t_pre, hist


def format_table(rows, columns, headers=None) -> str:
    """A Markdown table of ``rows`` (floats with 3 decimals).

    ``rows``: A list of dicts, one per table row. ``columns``: the keys to show, in order.
    ``headers``: column titles (default: the keys).
    """
    headers = headers or columns
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for r in rows:
        cells = []
        for c in columns:
            v = r.get(c, "")
            cells.append(f"{v:.3f}" if isinstance(v, float) else str(v))
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)
