"""benchmarks/extractor_rows.py keeps running: each row's --quick smoke run in a fresh process writes
its per-seed records and a Markdown table whose cells are the recorded accuracies; the patch length
chosen for a series divides it; a method that a row does not offer is refused by name."""
import json
import os
import subprocess
import sys
from types import SimpleNamespace

import pytest

BENCH = os.path.join(os.path.dirname(__file__), "..", "benchmarks")
SCRIPT = os.path.join(BENCH, "extractor_rows.py")


def run(tmp_path, *args):
    out = tmp_path / "rows.json"
    done = subprocess.run([sys.executable, SCRIPT, *args, "--quick", "--json", str(out)], capture_output=True,
                          text=True, timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(out.read_text()), done.stdout


def _accuracy(v):
    return 0.0 <= v <= 1.0


def test_table_row(tmp_path):
    pytest.importorskip("sklearn")
    rec, stdout = run(tmp_path, "--row", "table", "--dim", "8", "--depth", "1", "--heads", "2")
    keys = {r["key"] for r in rec["records"]}
    assert keys == {"ft", "mlp"}
    for r in rec["records"]:
        assert r["wall"] > 0 and r["cpu"] >= 0
        assert all(_accuracy(v) for st in ("random", "ssl") for v in r[st].values())
    ft = next(r for r in rec["records"] if r["key"] == "ft")
    assert f"| {ft['ssl']['1.0']:.3f} |" in stdout
    assert "logistic regression, raw features" in stdout


def test_table_row_with_mae(tmp_path):
    pytest.importorskip("sklearn")
    rec, stdout = run(tmp_path, "--row", "table", "--encoders", "ft", "--table-method", "mae", "--dim", "8",
                      "--depth", "1", "--heads", "2")
    assert [r["method"] for r in rec["records"]] == ["mae"]
    assert "mae 2 ep" in stdout


def test_ucr_row(tmp_path):
    pytest.importorskip("aeon")
    rec, stdout = run(tmp_path, "--row", "ucr", "--datasets", "ItalyPowerDemand", "--dim", "8", "--depth", "1",
                      "--heads", "2")
    (r,) = rec["records"]
    assert r["T"] == 24 and r["T"] % r["patch"] == 0
    assert all(_accuracy(r[k]) for k in ("ssl", "random", "raw_svm"))
    assert f"| {100 * r['ssl']:.1f} |" in stdout


def test_mnist_row(tmp_path):
    pytest.importorskip("mnist")
    rec, stdout = run(tmp_path, "--row", "mnist", "--encoders", "vit,mlp", "--dim", "16", "--depth", "1",
                      "--heads", "2", "--skip-random")
    assert [r["key"] for r in rec["records"]] == ["vit", "mlp"]
    for r in rec["records"]:
        for frac in ("0.01", "0.1"):
            probe, knn, n = r["ssl"][frac]
            assert _accuracy(probe) and _accuracy(knn) and n > 0
    vit = rec["records"][0]
    assert f"{vit['ssl']['0.1'][0]:.3f} / {vit['ssl']['0.1'][1]:.3f}" in stdout
    # --merge renders the same table from the saved records (one process per seed, joined later)
    merged = subprocess.run([sys.executable, SCRIPT, "--row", "mnist", "--merge", str(tmp_path / "rows.json")],
                            capture_output=True, text=True, timeout=300)
    assert merged.returncode == 0, merged.stderr[-3000:]
    table = merged.stdout.strip()
    assert table.splitlines()[0].startswith("| encoder | stage | seeds |") and table in stdout


def test_patch_length_divides_the_series():
    sys.path.insert(0, BENCH)
    try:
        import extractor_rows as er
    finally:
        sys.path.remove(BENCH)
    for T, want_tokens in [(150, 6), (24, 6), (100, 12), (97, 12)]:
        a = SimpleNamespace(patch_1d=0, tokens_1d=want_tokens, dim=8, depth=1, heads=2, mlp_ratio=2.0)
        p, enc = er._ucr_encoder(T, 1, a, 0)
        assert T % p == 0 and enc.tokenizer.num_tokens == T // p
    a = SimpleNamespace(patch_1d=7, tokens_1d=6, dim=8, depth=1, heads=2, mlp_ratio=2.0)
    with pytest.raises(ValueError, match="--patch-1d 7 does not divide"):
        er._ucr_encoder(24, 1, a, 0)


def test_unknown_method_is_refused():
    done = subprocess.run([sys.executable, SCRIPT, "--row", "ucr", "--method", "byol", "--quick"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode != 0
    assert "--method 'byol' is not available for --row ucr" in done.stderr
