"""One pretraining run for the data-parallel tests (tests/test_distributed.py).

``python tests/mpi_worker.py METHOD BATCH STEPS OUT [--sync-bn 0|1] [--stall-rank R] [--die-rank R]``

Run without a launcher it is one process with batch BATCH; under ``mpiexec -n W`` each rank takes
BATCH rows of a global batch of W × BATCH. Each rank writes its parameters and per-epoch losses to
OUT/rank{r}.npz. ``--die-rank R`` makes rank R exit abruptly after the first epoch, ``--stall-rank
R`` makes it sleep instead (to test that the others do not hang).
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

import pyssl
from pyssl import distributed, methods, nn, optim


METHODS = {
    "simclr": lambda e: methods.SimCLR(e, temperature=0.5, projection_dim=8, seed=3),
    "barlow_twins": lambda e: methods.BarlowTwins(e, projection_dim=16, hidden_dim=16, seed=3),
    "vicreg": lambda e: methods.VICReg(e, projection_dim=16, hidden_dim=16, seed=3),
    "byol": lambda e: methods.BYOL(e, projection_dim=8, hidden_dim=16, seed=3),
    "simsiam": lambda e: methods.SimSiam(e, projection_dim=8, seed=3),
    "moco": lambda e: methods.MoCo(e, projection_dim=8, queue_size=48, seed=3),
    "swav": lambda e: methods.SwAV(e, projection_dim=8, n_prototypes=10, seed=3),
    "dino": lambda e: methods.DINO(e, out_dim=12, hidden_dim=16, seed=3),
    "masked": lambda e: methods.MaskedModeling(e, seed=3),
    "vime": lambda e: methods.VIME(e, seed=3),
}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("method")
    ap.add_argument("batch", type=int)
    ap.add_argument("epochs", type=int)
    ap.add_argument("out")
    ap.add_argument("--sync-bn", type=int, default=1)
    ap.add_argument("--die-rank", type=int, default=-1)
    ap.add_argument("--stall-rank", type=int, default=-1)
    ap.add_argument("--timeout", type=float, default=None)
    args = ap.parse_args(argv)

    pyssl.set_num_threads(1)
    group = distributed.init(timeout=args.timeout)
    X = np.random.default_rng(7).standard_normal((64, 12)).astype(np.float32)
    encoder = nn.MLP([12, 24, 16], norm="batch", seed=5)
    os.makedirs(args.out, exist_ok=True)
    out = os.path.join(args.out, f"rank{group.rank}.npz")
    if args.method == "supcon":  # a loss used directly: the global SupCon loss from each rank's rows
        from pyssl.losses import sup_con, sup_con_distributed

        z = np.random.default_rng(1).standard_normal((64, 6)).astype(np.float32)
        labels = np.arange(64) % 5
        zl, yl = group.local_rows(z), group.local_rows(labels)
        loss, dz, _ = group.global_loss(lambda z, y: (*sup_con(z, y, temperature=0.2), None), zl, yl)
        loss_s, dz_s = sup_con_distributed(group, zl, yl, temperature=0.2)  # each rank its anchors
        np.savez(out, dz=group.allgather_rows(dz)[0], __loss__=np.array([loss]),
                 dz_sharded=group.allgather_rows(dz_s)[0], loss_sharded=np.array([loss_s]))
        return 0
    if args.method == "sklearn":  # SSLEmbedding passes the flag to pretrain
        from pyssl.sklearn import SSLEmbedding

        emb = SSLEmbedding(hidden=(24, 16), epochs=args.epochs, batch_size=args.batch, random_state=2).fit(X)
        # Its default optimizer is AdamW, which turns the rounding noise in gradients that are zero in
        # exact arithmetic (a bias followed by BatchNorm) into ±lr steps: the embedding is compared
        # between the ranks only, the loss with the single-process run.
        np.savez(out, **{"rank_only.embedding": emb.transform(X)}, __loss__=np.asarray(emb.history_["loss"]))
        return 0
    if args.method == "finetune":
        from pyssl.transfer import FineTune

        y = (X[:, 0] + X[:, 1] > 0).astype(np.int64) + (X[:, 2] > 0.5)
        ft = FineTune(encoder, epochs=args.epochs, batch_size=args.batch, lr=0.01, seed=4,
                      sync_batchnorm=bool(args.sync_bn)).fit(X, y)
        state = {f"encoder.{k}": v for k, v in ft.encoder_.state_dict().items()}
        state.update({f"head.{k}": v for k, v in ft.head_.state_dict().items()})
        state["__loss__"] = np.asarray(ft.loss_curve_, dtype=np.float64)
        np.savez(out, **state)
        return 0
    method = METHODS[args.method](encoder)

    def faults(epoch, history, m):
        if epoch == 0 and group.rank == args.die_rank:
            os._exit(7)
        if epoch == 0 and group.rank == args.stall_rank:
            time.sleep(3600)

    method.setup(X)  # builds the heads, so that the optimizer can be made over every parameter
    opt = optim.SGD(method.parameters(), lr=0.05, momentum=0.9)
    hist = pyssl.pretrain(method, X, epochs=args.epochs, batch_size=args.batch, seed=11, optimizer=opt,
                          callbacks=[faults], progress=False, sync_batchnorm=bool(args.sync_bn))
    state = {k: v for k, v in method.state_dict().items()}
    state["__loss__"] = np.asarray(hist["loss"], dtype=np.float64)
    np.savez(out, **state)
    return 0


if __name__ == "__main__":
    sys.exit(main())
