"""The mixed-table benchmark keeps running: one seed, one epoch, the penguins table (skipped when
its offline data packages are not installed); no accuracy or time is checked beyond being valid."""
import json
import os
import subprocess
import sys

import pytest

BENCH = os.path.join(os.path.dirname(__file__), "..", "benchmarks", "bench_mixed_tables.py")


@pytest.mark.slow
def test_bench_mixed_tables_quick_run(tmp_path):
    for pkg in ("pandas", "sklearn", "palmerpenguins"):
        pytest.importorskip(pkg)
    out, js = tmp_path / "mt.md", tmp_path / "mt.json"
    done = subprocess.run([sys.executable, BENCH, "--quick", "--datasets", "penguins", "--epochs", "1",
                           "--out", str(out), "--json", str(js), "--threads", "1"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    rows = json.loads(js.read_text())["rows"]
    assert [r["fraction"] for r in rows] == [0.01, 0.1, 1.0]
    for r in rows:
        for k in ("scarf", "vime", "random", "logreg"):
            assert 0.0 <= r[k] <= 1.0
    assert "| penguins | 100% (240) |" in out.read_text()
