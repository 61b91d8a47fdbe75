"""The export benchmark keeps running (no timing is checked): with --quick it exports every
extractor, and the graph and the torch module it times agree with pyssl's output."""
import json
import os
import subprocess
import sys

import pytest

BENCH = os.path.join(os.path.dirname(__file__), "..", "benchmarks", "bench_export.py")


def test_bench_export_quick_runs(tmp_path):
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    out = tmp_path / "rows.json"
    done = subprocess.run([sys.executable, BENCH, "--quick", "--repeats", "1", "--json", str(out)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    rows = json.loads(out.read_text())["rows"]
    assert {r["name"].split()[0] for r in rows} == {"resnet18-cifar-w4", "vit-d32-depth2", "transformer-patch1d",
                                                   "ts2vec-encoder", "tloss-encoder"}
    for r in rows:
        assert r["pyssl_s"] > 0 and r["baseline_s"] > 0
        assert r["ort_max_rel_err"] < 1e-5, r
        if "torch_max_rel_err" in r:
            assert r["torch_max_rel_err"] < 1e-5, r
