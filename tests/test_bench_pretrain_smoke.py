"""The whole-job benchmark keeps running: its pyssl worker does a tiny SimCLR pretrain in a fresh
process and reports a time, a finite loss and the GEMM that ran (no timing is checked)."""
import json
import math
import os
import runpy
import subprocess
import sys

import pytest

BENCH = os.path.join(os.path.dirname(__file__), "..", "benchmarks")
WORKER = os.path.join(BENCH, "_pretrain_worker.py")


def run_worker(*args):
    return subprocess.run([sys.executable, WORKER, *args], capture_output=True, text=True, timeout=120)


def test_pyssl_worker_runs_two_steps_and_reports_its_blas():
    done = run_worker("--lib", "pyssl", "--dims", "8,16,16", "--proj", "16,16,4", "--batch", "8",
                      "--steps", "2", "--warmup", "1", "--threads", "1")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["ms_per_step"] > 0 and math.isfinite(out["ms_per_step"])
    # NT-Xent over 2N = 16 rows is positive and, for near-collapsed random projections, near log(15)
    assert 0 < out["loss"] < 2 * math.log(15)
    assert out["info"]["blas_core"]


def test_pyssl_worker_matches_pretrain_in_process():
    """The worker times exactly pyssl.pretrain: the same loss as a direct call on the same data."""
    import pyssl
    from pyssl.methods import SimCLR
    from pyssl.nn import MLP

    worker = runpy.run_path(WORKER, run_name="worker")
    direct = SimCLR(MLP([8, 16, 16], norm="batch", seed=0), projector=MLP([16, 16, 4], norm="batch", seed=1),
                    temperature=worker["TEMPERATURE"])
    X = worker["make_data"](3 * 8, 8)
    pyssl.pretrain(direct, X[:8], epochs=1, batch_size=8, lr=worker["LR"], weight_decay=worker["WEIGHT_DECAY"],
                   progress=False)
    h = pyssl.pretrain(direct, X, epochs=1, batch_size=8, lr=worker["LR"], weight_decay=worker["WEIGHT_DECAY"],
                       progress=False)
    before = pyssl.get_num_threads()
    try:
        out = worker["run_pyssl"]([8, 16, 16], [16, 16, 4], batch=8, steps=3, warmup=1, threads=before)
    finally:
        pyssl.set_num_threads(before)
    assert out["loss"] == h["loss"][-1]


def test_worker_rejects_mismatched_widths():
    done = run_worker("--lib", "pyssl", "--dims", "8,16,16", "--proj", "32,16,4", "--batch", "8", "--steps", "2")
    assert done.returncode == 2
    assert "same H" in done.stderr



def test_summary_rows_follow_design_convention():
    """Rows carry medians over rounds and speedup = baseline_s / pyssl_s (DESIGN.md); the
    torch-imported-first row compares pyssl with itself."""
    bench = runpy.run_path(os.path.join(BENCH, "bench_pretrain.py"), run_name="bench")
    times = {"pyssl fp32": [2.0, 4.0, 3.0], "torch fp32": [6.0, 9.0, 12.0],
             "pyssl fp32, torch imported first": [6.0, 3.0, 4.5]}
    rows = {r["baseline"]: r for r in bench["summary_rows"]("small", times)}
    assert rows["torch fp32"]["pyssl_s"] == 3.0e-3 and rows["torch fp32"]["baseline_s"] == 9.0e-3
    assert rows["torch fp32"]["speedup"] == pytest.approx(3.0)
    assert rows["torch fp32"]["pyssl_min_s"] == 2.0e-3
    assert rows["pyssl fp32"]["pyssl_s"] == 4.5e-3 and rows["pyssl fp32"]["speedup"] == pytest.approx(3.0 / 4.5)
