"""One measurement of ``benchmarks/bench_vit_mae.py``, run in a fresh process of its own.

    python benchmarks/_vit_mae_worker.py --lib pyssl|torch [--precision 32|bf16-mixed] \
        --batch B --steps S [--warmup W] [--threads T] [--dim D --depth K --heads H]

Times S MAE steps after W warm-up steps and prints one JSON line
``{"ms_per_step": ..., "loss": ..., "info": {...}}`` as the last line of stdout.

The job, identical on both sides (He et al. 2022, at ViT-Tiny scale):

* data: ``S·B`` images 3×32×32, standard normal float32 (numpy, seed 0), taken in order;
* encoder: ViT with patch 4 (64 tokens), ``dim`` 192, ``depth`` 12, ``heads`` 3, MLP ratio 4,
  pre-norm blocks (LayerNorm ε 1e-6, exact GELU), learnable positions, [CLS] token;
* masking: per sample a uniform random 25 % of the patches kept (mask ratio 0.75, 16 tokens + CLS
  enter the encoder);
* decoder: Linear 192→128, mask tokens, fixed sinusoidal positions, 2 blocks of width 128 with 4
  heads, Linear 128→48 per patch; the encoder's CLS output is not passed to the decoder;
* loss: MSE on the masked patches only (no norm_pix_loss);
* optimizer: AdamW, lr 1.5e-4, weight decay 0.05, one step per batch; the loss is read back as a
  Python float every step.

pyssl runs ``pyssl.pretrain(MAE(ViT(...)))``. PyTorch is eager code as a user would write it
(MAE's reference structure: ``torch.argsort`` of uniform noise for the mask, ``torch.gather`` of
the kept tokens, ``F.scaled_dot_product_attention``), fp32 or ``torch.autocast("cpu", bfloat16)``
around forward and loss.
"""
from __future__ import annotations

import argparse
import json
import math
import time

IMG, PATCH, CHANNELS = 32, 4, 3
MASK_RATIO = 0.75
DEC_DIM, DEC_DEPTH, DEC_HEADS = 128, 2, 4
LR, WEIGHT_DECAY = 1.5e-4, 0.05


def make_data(rows: int):
    import numpy as np

    return np.random.default_rng(0).standard_normal((rows, CHANNELS, IMG, IMG), dtype=np.float32)


def run_pyssl(dim, depth, heads, batch, steps, warmup, threads, precision="32") -> dict:
    import inspect

    import pyssl
    from pyssl.methods import MAE
    from pyssl.nn import ViT

    pyssl.set_num_threads(threads)
    kwargs = {}
    if precision != "32":
        if "precision" not in inspect.signature(pyssl.pretrain).parameters:
            raise SystemExit("pyssl.pretrain has no precision argument in this build")
        kwargs["precision"] = precision
    vit = ViT(IMG, PATCH, CHANNELS, dim, depth, heads, seed=0)
    method = MAE(vit, mask_ratio=MASK_RATIO, decoder_dim=DEC_DIM, decoder_depth=DEC_DEPTH, decoder_heads=DEC_HEADS)
    X = make_data(steps * batch)
    common = dict(epochs=1, batch_size=batch, lr=LR, weight_decay=WEIGHT_DECAY, progress=False, **kwargs)
    if warmup > 0:
        pyssl.pretrain(method, X[:warmup * batch], **common)
    t0 = time.perf_counter()
    history = pyssl.pretrain(method, X, **common)
    elapsed = time.perf_counter() - t0
    return {"ms_per_step": elapsed / steps * 1e3, "loss": float(history["loss"][-1]),
            "info": {"blas_core": pyssl._core.blas_corename()}}


def run_torch(dim, depth, heads, batch, steps, warmup, threads, precision="32") -> dict:
    import contextlib

    import numpy as np
    import torch

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    nn, F = torch.nn, torch.nn.functional
    L = (IMG // PATCH) ** 2
    P = CHANNELS * PATCH * PATCH

    class Attention(nn.Module):
        def __init__(self, d, h):
            super().__init__()
            self.h = h
            self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)

        def forward(self, x):
            n, l, d = x.shape
            q, k, v = self.qkv(x).reshape(n, l, 3, self.h, d // self.h).permute(2, 0, 3, 1, 4)
            o = F.scaled_dot_product_attention(q, k, v)
            return self.proj(o.transpose(1, 2).reshape(n, l, d))

    class Block(nn.Module):
        def __init__(self, d, h):
            super().__init__()
            self.n1, self.attn = nn.LayerNorm(d, eps=1e-6), Attention(d, h)
            self.n2 = nn.LayerNorm(d, eps=1e-6)
            self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))

        def forward(self, x):
            x = x + self.attn(self.n1(x))
            return x + self.mlp(self.n2(x))

    def sincos(length, d):
        pos = np.arange(length)[:, None]
        i = np.arange((d + 1) // 2)[None]
        ang = pos / np.power(10000.0, 2.0 * i / d)
        pe = np.empty((length, d))
        pe[:, 0::2], pe[:, 1::2] = np.sin(ang), np.cos(ang[:, : d // 2])
        return torch.from_numpy(pe.astype(np.float32))

    class MAE(nn.Module):
        def __init__(self):
            super().__init__()
            self.patch = nn.Linear(P, dim)
            self.pos = nn.Parameter(0.02 * torch.randn(1, L, dim))
            self.cls = nn.Parameter(0.02 * torch.randn(1, 1, dim))
            self.blocks = nn.Sequential(*[Block(dim, heads) for _ in range(depth)])
            self.norm = nn.LayerNorm(dim, eps=1e-6)
            self.dec_embed = nn.Linear(dim, DEC_DIM)
            self.mask_token = nn.Parameter(0.02 * torch.randn(1, 1, DEC_DIM))
            self.register_buffer("dec_pos", sincos(L, DEC_DIM)[None])
            self.dec_blocks = nn.Sequential(*[Block(DEC_DIM, DEC_HEADS) for _ in range(DEC_DEPTH)])
            self.dec_norm = nn.LayerNorm(DEC_DIM, eps=1e-6)
            self.head = nn.Linear(DEC_DIM, P)

        def forward(self, imgs):
            n = imgs.shape[0]
            g = IMG // PATCH
            patches = imgs.reshape(n, CHANNELS, g, PATCH, g, PATCH).permute(0, 2, 4, 1, 3, 5).reshape(n, L, P)
            x = self.patch(patches) + self.pos
            keep_n = int(L * (1 - MASK_RATIO))
            ids_shuffle = torch.argsort(torch.rand(n, L), dim=1)
            ids_keep = ids_shuffle[:, :keep_n]
            x = torch.gather(x, 1, ids_keep[:, :, None].expand(-1, -1, dim))
            x = torch.cat([self.cls.expand(n, -1, -1), x], dim=1)
            x = self.norm(self.blocks(x))[:, 1:]
            z = self.dec_embed(x)
            full = self.mask_token.expand(n, L, -1).clone()
            full = full.scatter(1, ids_keep[:, :, None].expand(-1, -1, DEC_DIM), z.to(full.dtype))
            y = self.head(self.dec_norm(self.dec_blocks(full + self.dec_pos)))
            mask = torch.ones(n, L)
            mask.scatter_(1, ids_keep, 0.0)
            err = ((y.float() - patches) ** 2).mean(dim=-1)
            return (err * mask).sum() / mask.sum()

    model = MAE()
    X = torch.from_numpy(make_data(steps * batch))
    autocast = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if precision == "bf16-mixed" \
        else contextlib.nullcontext
    opt = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)

    def train(data, n_steps):
        value = 0.0
        for b in range(n_steps):
            opt.zero_grad(set_to_none=True)
            with autocast():
                loss = model(data[b * batch:(b + 1) * batch])
            loss.backward()
            opt.step()
            value = loss.item()
        return value

    if warmup > 0:
        train(X[:warmup * batch], warmup)
    t0 = time.perf_counter()
    loss = train(X, steps)
    elapsed = time.perf_counter() - t0
    return {"ms_per_step": elapsed / steps * 1e3, "loss": float(loss),
            "info": {"torch": torch.__version__, "cpu_capability": torch.backends.cpu.get_cpu_capability()}}


def run_gemm(dim, depth, heads, batch, steps, warmup, threads, precision="32") -> dict:
    """The GEMM engine's rate on the step's largest product shape (the encoder's MLP: (B·17, D) @
    (D, 4D)), pyssl's matmul, median of 20: the FLOP limit the step is compared with."""
    import statistics

    import numpy as np

    import pyssl

    pyssl.set_num_threads(threads)
    rows = batch * (int((IMG // PATCH) ** 2 * (1 - MASK_RATIO)) + 1)
    g = np.random.default_rng(0)
    a = g.standard_normal((rows, dim), dtype=np.float32)
    b = g.standard_normal((dim, 4 * dim), dtype=np.float32)
    for _ in range(3):
        pyssl._core.matmul(a, b)
    ts = []
    for _ in range(20):
        t0 = time.perf_counter()
        pyssl._core.matmul(a, b)
        ts.append(time.perf_counter() - t0)
    t = statistics.median(ts)
    return {"ms_per_step": t * 1e3, "loss": 0.0, "info": {"gflops": 2 * rows * dim * 4 * dim / t / 1e9,
                                                           "shape": [rows, dim, 4 * dim]}}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--lib", choices=("pyssl", "torch", "gemm"), required=True)
    p.add_argument("--precision", choices=("32", "bf16-mixed"), default="32")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--dim", type=int, default=192)
    p.add_argument("--depth", type=int, default=12)
    p.add_argument("--heads", type=int, default=3)
    a = p.parse_args(argv)
    fn = {"pyssl": run_pyssl, "torch": run_torch, "gemm": run_gemm}[a.lib]
    out = fn(a.dim, a.depth, a.heads, a.batch, a.steps, a.warmup, a.threads, a.precision)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
