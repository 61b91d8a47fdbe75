"""Exported extractors: how closely the ONNX graph (onnxruntime) and the torch module
(pyssl.export.to_torch) follow pyssl's evaluation-mode forward, and how fast each serves a batch.

For ResNet-18 (CIFAR stem), ViT-Tiny, a Transformer over series patches, TS2Vec's
DilatedConvEncoder and T-Loss's CausalCNNEncoder: the time to export, the largest error relative
to max |pyssl output| of each runtime, and the median wall time (and CPU time, time.process_time)
of one inference batch in pyssl, onnxruntime and torch at the same thread count.

    python benchmarks/bench_export.py [--quick] [--threads 1] [--json out.json]

On a shared machine the times are indicative only; the errors are not affected.
"""
from __future__ import annotations

import _common  # noqa: F401  (sets the OpenBLAS/OpenMP environment before numpy loads)

import tempfile
import time

import numpy as np

import pyssl  # noqa: E402
from pyssl import export  # noqa: E402
from pyssl.nn import CausalCNNEncoder, DilatedConvEncoder, PatchEmbed1d, ResNet, TransformerEncoder, ViT  # noqa: E402


def cases(quick: bool):
    """(name, encoder factory, batch shape) — small sizes with --quick."""
    if quick:
        return [("resnet18-cifar-w4", lambda: ResNet(18, 3, "cifar", width=4, seed=0), (2, 3, 16, 16)),
                ("vit-d32-depth2", lambda: ViT(16, 4, 3, 32, 2, 2, seed=0), (2, 3, 16, 16)),
                ("transformer-patch1d", lambda: TransformerEncoder(16, 1, 2, tokenizer=PatchEmbed1d(32, 8, 2, 16, seed=0),
                                                                   pool="mean", seed=0), (2, 2, 32)),
                ("ts2vec-encoder", lambda: DilatedConvEncoder(2, 8, 16, depth=2, seed=0), (2, 2, 24)),
                ("tloss-encoder", lambda: CausalCNNEncoder(2, 4, 2, 8, 8, seed=0), (2, 2, 24))]
    return [("resnet18-cifar-w64", lambda: ResNet(18, 3, "cifar", width=64, seed=0), (32, 3, 32, 32)),
            ("vit-tiny", lambda: ViT(32, 4, 3, 192, 12, 3, seed=0), (32, 3, 32, 32)),
            ("transformer-patch1d", lambda: TransformerEncoder(128, 4, 4, tokenizer=PatchEmbed1d(512, 16, 3, 128, seed=0),
                                                               pool="mean", seed=0), (32, 3, 512)),
            ("ts2vec-encoder", lambda: DilatedConvEncoder(3, seed=0), (16, 3, 512)),
            ("tloss-encoder", lambda: CausalCNNEncoder(3, seed=0), (16, 3, 512))]


def timed(fn, repeats):
    """(median wall s, median CPU s) of fn() after one warm-up call."""
    fn()
    walls, cpus = [], []
    for _ in range(repeats):
        w, c = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return float(np.median(walls)), float(np.median(cpus))


def main(argv=None):
    p = _common.parser(__doc__.splitlines()[0])
    p.set_defaults(threads=1)
    args = p.parse_args(argv)
    threads = _common.set_threads(args.threads)
    repeats = args.repeats or (2 if args.quick else 5)
    import onnxruntime as ort

    torch = _common.try_torch()
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, make, shape in cases(args.quick):
            m = make().eval()
            x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
            ref = m(x)
            scale = max(1e-30, float(np.abs(ref).max()))
            t0 = time.perf_counter()
            export.to_onnx(m, f"{tmp}/{name}.onnx")
            export_s = time.perf_counter() - t0
            sess = ort.InferenceSession(f"{tmp}/{name}.onnx", opts, providers=["CPUExecutionProvider"])
            ort_err = float(np.abs(sess.run(None, {"x": x})[0] - ref).max()) / scale
            pyssl_s, pyssl_cpu = timed(lambda: m(x), repeats)
            ort_s, ort_cpu = timed(lambda: sess.run(None, {"x": x}), repeats)
            extra = dict(export_s=export_s, ort_max_rel_err=ort_err, pyssl_cpu_s=pyssl_cpu, ort_cpu_s=ort_cpu)
            if torch is not None:
                t = export.to_torch(m)
                xt = torch.from_numpy(x)
                with torch.no_grad():
                    extra["torch_max_rel_err"] = float(np.abs(t(xt).numpy() - ref).max()) / scale

                    def run_torch():
                        t(xt)

                    torch_s, torch_cpu = timed(run_torch, repeats)
                extra.update(torch_ms=torch_s * 1e3, torch_cpu_s=torch_cpu)
            rows.append(_common.row(f"{name} {tuple(shape)}", pyssl_s, "onnxruntime", ort_s, **extra))
    _common.report(rows, _common.machine_info(threads), args.json,
                   title="pyssl eval forward vs the exported graph (onnxruntime) and module (torch); "
                         "errors relative to max |pyssl output|")
    return rows


if __name__ == "__main__":
    main()
