"""MAE pretraining of a small ViT on scikit-learn's digits, then a linear probe and kNN on the
frozen embedding ([CLS] output or mean of the output tokens), against the same ViT left at its random initialisation.

    python benchmarks/example_mae_digits.py [--epochs E] [--threads T]

Digits: 1797 images 1×8×8 (values /16), the first 1257 for pretraining and probe training, the
last 540 held out. ViT: patch 2 (16 tokens), dim 64, depth 4, heads 4, MLP ratio 2. MAE: mask
ratio 0.75, decoder 64 wide × 1 block, norm_pix_loss (``--no-norm-pix``: plain pixels). AdamW lr 2e-3, weight decay 0.05, batch 128.
"""
from __future__ import annotations

import argparse
import time

import numpy as np


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--no-norm-pix", action="store_true", help="plain pixel targets instead of norm_pix_loss")
    a = p.parse_args(argv)
    from sklearn.datasets import load_digits

    import pyssl
    from pyssl.methods import MAE
    from pyssl.nn import ViT
    from pyssl.transfer import KNN, LinearProbe

    pyssl.set_num_threads(a.threads)
    d = load_digits()
    X = (d.images[:, None] / 16.0).astype(np.float32)
    y = d.target
    Xtr, ytr, Xte, yte = X[:1257], y[:1257], X[1257:], y[1257:]

    def vit():
        return ViT(8, 2, 1, 64, 4, 4, mlp_ratio=2.0, seed=0)

    rows = []

    def evaluate(name, encoder, wall, loss):
        for pool in ("cls", "mean"):  # the [CLS] output, or the mean over all output tokens
            encoder.pool = pool
            rows.append((f"{name}, {pool} pooling", LinearProbe(encoder).fit(Xtr, ytr).score(Xte, yte),
                         KNN(encoder).fit(Xtr, ytr).score(Xte, yte), wall, loss))
        encoder.pool = "cls"

    evaluate("ViT, random init", vit(), 0.0, float("nan"))
    enc = vit()
    t0 = time.perf_counter()
    hist = pyssl.pretrain(MAE(enc, mask_ratio=0.75, decoder_dim=64, decoder_depth=1, decoder_heads=4,
                              norm_pix_loss=not a.no_norm_pix), Xtr, epochs=a.epochs, batch_size=128, lr=2e-3,
                          weight_decay=0.05, progress=False)
    wall = time.perf_counter() - t0
    evaluate(f"ViT, MAE {a.epochs} epochs", enc, wall, hist["loss"][-1])
    print(f"MAE loss: first epoch {hist['loss'][0]:.4f}, last {hist['loss'][-1]:.4f}")
    print("| encoder | linear probe acc | kNN acc | pretrain wall (s) | final MAE loss |")
    print("|---|---|---|---|---|")
    for name, lp, knn, w, loss in rows:
        print(f"| {name} | {lp:.3f} | {knn:.3f} | {w:.1f} | {loss:.4f} |")


if __name__ == "__main__":
    main()
