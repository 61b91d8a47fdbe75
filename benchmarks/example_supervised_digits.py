"""The seed's deep-learning pipeline end to end: a supervised MLP classifier trained by gradient
descent (θ ← θ − α∇L(θ), here SGD with Nesterov momentum and a warmup-cosine schedule) on
scikit-learn's digits, reaching ≥ 95% test accuracy.

    python benchmarks/example_supervised_digits.py [--epochs 60] [--seed 0]
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import pyssl
from pyssl.data import load_digits, standardize, stratified_split
from pyssl.nn import MLP
from pyssl.nn.losses import cross_entropy
from pyssl.optim import SGD, LinearWarmupCosine


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--epochs", type=int, default=60)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    X, y = load_digits()
    Xtr, Xte, ytr, yte = stratified_split(X, y, test_size=0.3, seed=args.seed)
    Xtr, Xte = standardize(Xtr, Xte)
    net = MLP([64, 256, 256, 10], norm="batch", act="relu", dropout=0.1, seed=args.seed)
    steps = args.epochs * (len(Xtr) // args.batch_size)
    opt = SGD(net, lr=LinearWarmupCosine(args.lr, total_steps=steps, warmup_steps=steps // 20),
              momentum=0.9, nesterov=True, weight_decay=5e-4)
    rng = np.random.default_rng(args.seed)
    t0 = time.perf_counter()
    for epoch in range(args.epochs):
        net.train()
        order = rng.permutation(len(Xtr))
        total = 0.0
        for b in range(len(Xtr) // args.batch_size):
            idx = order[b * args.batch_size:(b + 1) * args.batch_size]
            opt.zero_grad()
            logits, ctx = net.forward(Xtr[idx])
            loss, g = cross_entropy(logits, ytr[idx], label_smoothing=0.05)
            net.backward(g, ctx, need_input_grad=False)
            opt.step()
            total += loss
        if (epoch + 1) % 10 == 0 or epoch == 0:
            acc = float(np.mean(np.argmax(net.transform(Xte), axis=1) == yte))
            print(f"epoch {epoch + 1:3d}  train loss {total / (len(Xtr) // args.batch_size):.4f}  test acc {acc:.4f}")
    acc = float(np.mean(np.argmax(net.transform(Xte), axis=1) == yte))
    print(f"final test accuracy {acc:.4f} after {args.epochs} epochs in {time.perf_counter() - t0:.1f} s "
          f"(threads={pyssl.get_num_threads()})")
    return acc


if __name__ == "__main__":
    main()
