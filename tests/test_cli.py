import numpy as np
import pytest

from pyssl.cli import main


@pytest.fixture
def csv_file(tmp_path, rng):
    X = rng.standard_normal((120, 5))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    path = tmp_path / "data.csv"
    header = "a,b,c,d,e,label"
    np.savetxt(path, np.c_[X, y], delimiter=",", header=header, comments="")
    return path


def test_pretrain_then_evaluate(csv_file, tmp_path, capsys):
    ck = tmp_path / "enc.npz"
    rc = main(["--threads", "1", "pretrain", str(csv_file), "--label-column", "label", "--epochs", "3",
               "--batch-size", "32", "--hidden", "16,8", "--out", str(ck), "--no-progress"])
    assert rc == 0 and ck.exists()
    rc = main(["evaluate", str(ck), str(csv_file), "--label-column", "label", "--adapt", "probe,knn",
               "--foundation"])
    out = capsys.readouterr().out
    assert rc == 0
    assert "binary" in out and "regression" in out and "probe" in out


def test_cli_errors(tmp_path, capsys, csv_file):
    assert main(["pretrain", str(tmp_path / "missing.csv"), "--no-progress"]) == 2
    assert "not found" in capsys.readouterr().err
    assert main(["pretrain", str(csv_file), "--label-column", "nope", "--no-progress"]) == 2
    assert "label column 'nope' not found" in capsys.readouterr().err
    bad = tmp_path / "x.txt"
    bad.write_text("1,2\n")
    assert main(["pretrain", str(bad), "--no-progress"]) == 2
    assert "unsupported data file type" in capsys.readouterr().err
    assert main(["evaluate", str(csv_file), str(csv_file)]) == 2
    assert main(["pretrain", str(csv_file), "--method", "nosuch", "--no-progress", "--epochs", "1"]) == 2
    assert "unknown method" in capsys.readouterr().err


def test_npz_and_npy_loading(tmp_path, rng):
    from pyssl.data import load_array

    X = rng.standard_normal((10, 3))
    np.savez(tmp_path / "d.npz", X=X, y=np.arange(10))
    Xl, yl = load_array(tmp_path / "d.npz")
    assert Xl.dtype == np.float32 and yl.shape == (10,)
    np.save(tmp_path / "d.npy", X)
    assert load_array(tmp_path / "d.npy")[1] is None
    np.savez(tmp_path / "bad.npz", Z=X)
    with pytest.raises(ValueError, match="no array named 'X'"):
        load_array(tmp_path / "bad.npz")
    np.save(tmp_path / "flat.npy", np.arange(5.0))
    with pytest.raises(ValueError, match="2-D"):
        load_array(tmp_path / "flat.npy")


def test_demo_quick_runs_and_beats_raw_logreg_at_one_percent(capsys):
    """The README's main job, shortened: it must run end to end and print the comparison table."""
    pytest.importorskip("sklearn")
    assert main(["demo", "--quick", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "linear probe" in out and "logistic regression (raw)" in out
    row = [line for line in out.splitlines() if line.startswith("| 0.010")][0]
    cells = [c.strip() for c in row.strip("|").split("|")]
    ssl_probe, raw = float(cells[2]), float(cells[5])
    assert ssl_probe > raw
