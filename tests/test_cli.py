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
    with pytest.raises(SystemExit):  # checked while parsing, before any data is read
        main(["pretrain", str(csv_file), "--method", "nosuch", "--no-progress", "--epochs", "1"])
    assert "unknown method 'nosuch'" in capsys.readouterr().err


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


# -- data through the command line ------------------------------------------------------------------
def write_csv(path, header, rows, delimiter=","):
    import csv

    with open(path, "w", newline="") as f:
        w = csv.writer(f, delimiter=delimiter)
        w.writerow(header)
        w.writerows(rows)
    return path


@pytest.fixture
def wine_like(tmp_path, rng):
    """A header as pandas writes it (a quoted name containing the delimiter), label in the middle."""
    X = rng.standard_normal((90, 4))
    y = (X[:, 0] > 0).astype(int) + (X[:, 3] > 0.5)
    rows = [[*X[i, :2], int(y[i]), *X[i, 2:]] for i in range(90)]
    return write_csv(tmp_path / "wine.csv", ["alcohol", "hue, corrected", "proline", "od280", "colour"], rows), X, y


def test_quoted_csv_header_trains_on_the_right_columns(wine_like, tmp_path, capsys):
    import pyssl

    path, X, y = wine_like
    ck, emb = tmp_path / "enc.npz", tmp_path / "emb.npy"
    assert main(["pretrain", str(path), "--label-column", "proline", "--epochs", "2", "--batch-size", "30",
                 "--hidden", "8", "--out", str(ck), "--no-progress"]) == 0
    enc = pyssl.load_encoder(ck)
    assert enc.input_shape == (4,)
    assert main(["embed", str(ck), str(path), "--label-column", "proline", "--out", str(emb)]) == 0
    np.testing.assert_array_equal(np.load(emb), enc.transform(X.astype(np.float32)))
    assert main(["evaluate", str(ck), str(path), "--label-column", "proline", "--adapt", "probe"]) == 0
    assert "| label | accuracy |" in capsys.readouterr().out


def test_text_labels_evaluate_as_classes(tmp_path, rng, capsys):
    X = rng.standard_normal((60, 3))
    names = np.where(X[:, 0] > 0, "yes", "no")
    path = write_csv(tmp_path / "t.csv", ["a", "b", "c", "answer"], [[*X[i], names[i]] for i in range(60)])
    ck = tmp_path / "enc.npz"
    assert main(["pretrain", str(path), "--label-column", "answer", "--epochs", "1", "--batch-size", "20",
                 "--hidden", "8", "--out", str(ck), "--no-progress"]) == 0
    assert main(["evaluate", str(ck), str(path), "--label-column", "answer", "--adapt", "probe,knn"]) == 0
    assert "| label | accuracy |" in capsys.readouterr().out
    assert main(["evaluate", str(ck), str(path), "--label-column", "answer", "--foundation"]) == 2
    assert "the labels are text" in capsys.readouterr().err


def test_csv_text_column_is_embedded_and_the_label_left_out(tmp_path, capsys):
    pytest.importorskip("pandas")
    path = write_csv(tmp_path / "t.csv", ["label", "a", "city"], [[i % 2, i, "Oslo"] for i in range(10)])
    assert main(["pretrain", str(path), "--label-column", "label", "--epochs", "1", "--batch-size", "10",
                 "--hidden", "4", "--out", str(tmp_path / "e.npz"), "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert "city (1 categories)" in err and "1 numeric column(s)" in err and "label" not in err.split("\n")[0]


def test_semicolon_csv_and_delimiter_flag(tmp_path):
    path = tmp_path / "eu.csv"
    path.write_text("a;b;y\n" + "".join(f"{i},5;{-i};{i % 2}\n" for i in range(40)))
    ck = tmp_path / "enc.npz"
    assert main(["pretrain", str(path), "--label-column", "y", "--epochs", "1", "--batch-size", "20",
                 "--hidden", "4", "--out", str(ck), "--no-progress"]) == 0
    assert main(["pretrain", str(path), "--label-column", "y", "--delimiter", ";", "--epochs", "1",
                 "--batch-size", "20", "--hidden", "4", "--out", str(ck), "--no-progress"]) == 0


def test_csv_without_label_column_says_the_label_is_a_feature(csv_file, tmp_path, capsys):
    assert main(["pretrain", str(csv_file), "--epochs", "1", "--batch-size", "60", "--hidden", "4",
                 "--out", str(tmp_path / "e.npz"), "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert "all 6 columns" in err and "including 'label'" in err and "--label-column label" in err


@pytest.mark.parametrize("shape,encoder", [((90, 1, 8, 8), "auto"), ((90, 2, 24), "auto"), ((90, 2, 24), "mlp"),
                                           ((90, 1, 8, 8), "mlp")])
def test_images_and_series_from_npz_pretrain_evaluate_embed(tmp_path, rng, capsys, shape, encoder):
    """Standardisation on (the default) with samples that are not rows."""
    import pyssl

    X = rng.standard_normal(shape).astype(np.float32) * 3 + 1
    y = (X.reshape(len(X), -1)[:, :5].mean(axis=1) > 1).astype(int)
    data, ck, emb = tmp_path / "d.npz", tmp_path / "enc.npz", tmp_path / "emb.npy"
    np.savez(data, X=X, y=y)
    assert main(["pretrain", str(data), "--encoder", encoder, "--hidden", "8,8", "--epochs", "1",
                 "--batch-size", "30", "--out", str(ck), "--no-progress"]) == 0
    kind = pyssl.load_encoder(ck).meta["encoder"]["type"]
    assert kind == ("mlp" if encoder == "mlp" else {4: "conv2d", 3: "conv1d"}[len(shape)])
    assert main(["evaluate", str(ck), str(data), "--adapt", "probe,knn"]) == 0
    np.save(tmp_path / "x.npy", X)
    assert main(["embed", str(ck), str(tmp_path / "x.npy"), "--out", str(emb)]) == 0
    np.testing.assert_array_equal(np.load(emb), pyssl.load_encoder(ck).transform(X))


def test_evaluate_checks_the_feature_count_first(csv_file, tmp_path, capsys, rng):
    ck = tmp_path / "enc.npz"
    assert main(["pretrain", str(csv_file), "--label-column", "label", "--epochs", "1", "--batch-size", "60",
                 "--hidden", "4", "--out", str(ck), "--no-progress"]) == 0
    other = tmp_path / "other.npz"
    np.savez(other, X=rng.standard_normal((30, 7)), y=np.arange(30) % 2)
    capsys.readouterr()
    assert main(["evaluate", str(ck), str(other)]) == 2
    assert "data has 7 features but the encoder expects 5" in capsys.readouterr().err


def test_evaluate_on_a_test_file_and_regression_of_integer_targets(tmp_path, rng, capsys):
    X = rng.standard_normal((100, 3))
    t = np.round(10 * X[:, 0] + 5 * X[:, 1]).astype(int)  # integer-valued regression target
    train = write_csv(tmp_path / "train.csv", ["a", "b", "c", "t"], [[*X[i], t[i]] for i in range(70)])
    test = write_csv(tmp_path / "test.csv", ["a", "b", "c", "t"], [[*X[i], t[i]] for i in range(70, 100)])
    ck = tmp_path / "enc.npz"
    assert main(["pretrain", str(train), "--label-column", "t", "--epochs", "2", "--batch-size", "35",
                 "--hidden", "16", "--out", str(ck), "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(ck), str(train), "--test", str(test), "--label-column", "t", "--task",
                 "regression", "--adapt", "probe,knn"]) == 0
    out, err = capsys.readouterr()
    assert "| label | R² |" in out and "test data" in out
    r2 = float(out.strip().splitlines()[-1].split("|")[3])
    assert r2 > 0.5  # a linear target of the inputs: the probe on a random-ish MLP still explains most of it
    assert "[1/2] label: probe on 70 samples, scored on 30" in err  # progress while it works


def test_image_folder_through_the_command_line(tmp_path, capsys):
    Image = pytest.importorskip("PIL.Image")
    g = np.random.default_rng(0)
    for c in ("ants", "bees"):
        (tmp_path / "imgs" / c).mkdir(parents=True)
        for i in range(12):
            base = 40 if c == "ants" else 200
            a = np.clip(base + g.integers(-30, 30, (9, 11, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(a).save(tmp_path / "imgs" / c / f"{i}.png")
    folder, ck = str(tmp_path / "imgs"), tmp_path / "enc.npz"
    assert main(["pretrain", folder, "--image-size", "8", "--hidden", "8", "--epochs", "1", "--batch-size", "12",
                 "--out", str(ck), "--no-progress"]) == 0
    assert "24 images of 3×8×8" in capsys.readouterr().err
    assert main(["evaluate", str(ck), folder, "--test", folder, "--image-size", "8", "--adapt", "knn"]) == 0
    assert main(["embed", str(ck), folder, "--image-size", "8", "--out", str(tmp_path / "e.csv")]) == 0
    assert np.loadtxt(tmp_path / "e.csv", delimiter=",").shape == (24, 8)
    assert main(["evaluate", str(ck), folder, "--adapt", "knn"]) == 2  # 9×11 images without --image-size
    assert "shape (3, 9, 11) but the encoder expects (3, 8, 8)" in capsys.readouterr().err


# -- progress, config, threads, interruption ---------------------------------------------------------
def test_no_progress_bar_when_stderr_is_not_a_terminal(csv_file, tmp_path, capsys):
    assert main(["pretrain", str(csv_file), "--label-column", "label", "--epochs", "3", "--batch-size", "8",
                 "--hidden", "4", "--out", str(tmp_path / "e.npz")]) == 0
    assert "\r" not in capsys.readouterr().err


def test_progress_bar_postfix_does_not_redraw_every_step(monkeypatch, rng):
    import tqdm

    import pyssl

    redraws = []
    real = tqdm.tqdm.refresh
    monkeypatch.setattr(tqdm.tqdm, "refresh", lambda self, *a, **k: redraws.append(1) or real(self, *a, **k))
    X = rng.standard_normal((64, 4)).astype(np.float32)
    method = pyssl.methods.SimCLR(pyssl.nn.MLP([4, 8], norm=None), projection_dim=4)
    pyssl.pretrain(method, X, epochs=5, batch_size=2, progress=True)  # 160 steps
    assert len(redraws) < 80


def test_config_values_yield_to_flags_and_unknown_keys_fail(csv_file, tmp_path, capsys):
    import json

    import pyssl

    cfg, ck = tmp_path / "c.json", tmp_path / "enc.npz"
    cfg.write_text(json.dumps({"epochs": 3, "hidden": [6], "batch_size": 40, "method_kwargs": {"temperature": 0.3}}))
    assert main(["pretrain", str(csv_file), "--label-column", "label", "--config", str(cfg), "--epochs", "1",
                 "--out", str(ck), "--no-progress"]) == 0
    enc = pyssl.load_encoder(ck)
    assert len(enc.meta["history"]["loss"]) == 1  # the flag won
    assert enc.meta["encoder"]["dims"] == [5, 6]  # the config applied where no flag was given
    cfg.write_text(json.dumps({"epoch": 3}))
    assert main(["pretrain", str(csv_file), "--config", str(cfg), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "unknown key(s) ['epoch']" in err and "'epochs'" in err


def test_threads_option(csv_file, tmp_path, capsys, threads):
    import pyssl

    with pytest.raises(SystemExit) as info:
        main(["--threads", "0", "demo"])
    assert info.value.code == 2 and "--threads: must be at least 1, got 0" in capsys.readouterr().err
    assert main(["pretrain", str(csv_file), "--label-column", "label", "--threads", "1", "--epochs", "1",
                 "--batch-size", "60", "--hidden", "4", "--out", str(tmp_path / "e.npz"), "--no-progress"]) == 0
    assert pyssl.get_num_threads() == 1


def test_adapt_names_are_checked_before_any_work(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["evaluate", str(tmp_path / "missing.npz"), "x.csv", "--adapt", "probe,finetuning"])
    err = capsys.readouterr().err
    assert "unknown adaptation 'finetuning'" in err and "no checkpoint" not in err


def test_ctrl_c_saves_state_and_resume_finishes_identically(csv_file, tmp_path, capsys, monkeypatch, threads):
    import shlex

    import pyssl
    from pyssl.methods import SimCLR

    common = ["--threads", "1", "pretrain", str(csv_file), "--label-column", "label", "--epochs", "4",
              "--batch-size", "40", "--hidden", "8", "--no-progress"]
    assert main(common + ["--out", str(tmp_path / "straight.npz")]) == 0

    real, calls = SimCLR.training_step, []

    def interrupted(self, X, seed):
        calls.append(1)
        if len(calls) == 8:  # 3 steps per epoch: during the third epoch
            raise KeyboardInterrupt
        return real(self, X, seed)

    monkeypatch.setattr(SimCLR, "training_step", interrupted)
    out = tmp_path / "resumed.npz"
    assert main(common + ["--out", str(out)]) == 130
    err = capsys.readouterr().err
    state = tmp_path / "resumed.resume.npz"
    assert f"after epoch 2 of 4 is in {state}" in err and not out.exists()
    again = shlex.split(err.strip().splitlines()[-1])
    assert again[0] == "pyssl" and again[-2:] == ["--resume", str(state)]
    monkeypatch.setattr(SimCLR, "training_step", real)
    assert main(again[1:]) == 0
    a, b = pyssl.load_encoder(tmp_path / "straight.npz"), pyssl.load_encoder(out)
    for k, v in a.state_dict().items():
        np.testing.assert_array_equal(b.state_dict()[k], v, err_msg=k)
    assert b.meta["history"]["loss"] == a.meta["history"]["loss"]


def test_interrupt_before_the_first_epoch(csv_file, tmp_path, capsys, monkeypatch):
    from pyssl.methods import SimCLR

    def stop(self, X, seed):
        raise KeyboardInterrupt

    monkeypatch.setattr(SimCLR, "training_step", stop)
    assert main(["pretrain", str(csv_file), "--label-column", "label", "--out", str(tmp_path / "e.npz"),
                 "--batch-size", "32", "--no-progress"]) == 130
    assert "before the first epoch finished: nothing saved" in capsys.readouterr().err


def test_out_into_a_missing_folder(csv_file, tmp_path, capsys):
    assert main(["pretrain", str(csv_file), "--out", str(tmp_path / "no" / "enc.npz"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "does not exist" in err and ".tmp-" not in err


# -- help -------------------------------------------------------------------------------------------
def test_help_of_every_subcommand_shows_defaults_and_two_examples():
    import argparse

    from pyssl.cli import _Help, build_parser

    parser = build_parser()
    subs = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    assert set(subs) == {"demo", "pretrain", "evaluate", "embed", "theory", "bench"}
    for name, sub in subs.items():
        text = sub.format_help()
        examples = text.split("examples:")[1].strip().splitlines()
        assert len([ln for ln in examples if ln.strip().startswith(f"pyssl {name}")]) >= 2, name
        fmt = _Help(name)
        for action in sub._actions:
            if not action.option_strings or action.dest == "help":
                continue
            helptext = fmt._get_help_string(action)
            assert helptext, f"{name} {action.option_strings[0]} has no help"
            if action.default is not None and action.default is not False and action.default is not argparse.SUPPRESS:
                assert "default" in helptext, f"{name} {action.option_strings[0]}: default not shown"


# -- theory -----------------------------------------------------------------------------------------
def test_theory_on_a_csv_with_plot(csv_file, tmp_path, capsys):
    out, png = tmp_path / "t.csv", tmp_path / "t.png"
    assert main(["theory", str(csv_file), "--label-column", "label", "--methods", "simclr", "--epochs", "2",
                 "--every", "1", "--hidden", "8", "--batch-size", "32", "--out", str(out), "--plot", str(png),
                 "--no-progress"]) == 0
    lines = out.read_text().splitlines()
    assert lines[0] == "method,epoch,pretrain_loss,adapt_loss" and len(lines) == 1 + 3  # init + 2 epochs
    try:
        import matplotlib  # noqa: F401
        assert png.exists()
    except ImportError:
        assert "no plot written" in capsys.readouterr().out


def test_theory_rejects_unknown_methods(capsys):
    with pytest.raises(SystemExit):
        main(["theory", "--methods", "simclr,nosuch"])
    assert "unknown method 'nosuch'" in capsys.readouterr().err


def test_image_size_from_a_config_list(tmp_path):
    import json

    Image = pytest.importorskip("PIL.Image")
    g = np.random.default_rng(1)
    (tmp_path / "imgs").mkdir()
    for i in range(8):
        Image.fromarray(g.integers(0, 256, (7, 9, 3), dtype=np.uint8)).save(tmp_path / "imgs" / f"{i}.png")
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"image_size": [6, 4], "epochs": 1, "batch_size": 4, "hidden": [4]}))
    ck = tmp_path / "enc.npz"
    assert main(["pretrain", str(tmp_path / "imgs"), "--config", str(cfg), "--out", str(ck), "--no-progress"]) == 0
    import pyssl

    assert pyssl.load_encoder(ck).input_shape == (3, 6, 4)
