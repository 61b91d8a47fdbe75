"""The theory plot: title, random-network baselines, held-out axis labels, start and end markers."""
import numpy as np
import pytest

pytest.importorskip("matplotlib")

from pyssl.theory import plot_theory, theory_figure  # noqa: E402


def rows_for(name, init, curve):
    rows = [{"method": name, "epoch": -1, "pretrain_loss": float("nan"), "adapt_loss": init}]
    rows += [{"method": name, "epoch": e, "pretrain_loss": 3.0 - e, "adapt_loss": a} for e, a in enumerate(curve)]
    return rows


def test_figure_contents():
    import matplotlib.pyplot as plt

    rows = rows_for("simclr", 0.26, [0.25, 0.2, 0.13]) + rows_for("byol", 0.26, [0.3, 0.28])
    fig = theory_figure(rows, title="digits: 1257 train / 540 held-out")
    try:
        assert fig._suptitle.get_text() == "digits: 1257 train / 540 held-out"
        left, right = fig.axes[:2]
        assert "held-out" in left.get_ylabel() and "held-out" in right.get_ylabel()
        for ax in (left, right):
            lines = ax.get_lines()
            baselines = [ln for ln in lines if ln.get_linestyle() == "--"]
            assert sorted(np.ravel(ln.get_ydata())[0] for ln in baselines) == [0.26, 0.26]
            starts = [ln for ln in lines if ln.get_marker() == "o"]
            ends = [ln for ln in lines if ln.get_marker() == "*"]
            assert sorted(float(ln.get_ydata()[0]) for ln in starts) == [0.25, 0.3]
            assert sorted(float(ln.get_ydata()[0]) for ln in ends) == [0.13, 0.28]
        labels = [t.get_text() for t in right.get_legend().get_texts()]
        assert {"simclr", "byol", "first epoch", "last epoch", "random network (before training)"} <= set(labels)
        # right panel: epochs counted from 1 (row epoch 0 is after the first epoch)
        simclr = [ln for ln in right.get_lines() if ln.get_label() == "simclr"][0]
        assert list(simclr.get_xdata()) == [1, 2, 3]
    finally:
        plt.close(fig)


def test_in_sample_label_and_file(tmp_path):
    import matplotlib.pyplot as plt

    rows = rows_for("vicreg", 1.0, [0.9, 0.5])
    fig = theory_figure(rows, held_out=False)
    try:
        assert "in-sample" in fig.axes[0].get_ylabel()
        assert "L_pre" in fig._suptitle.get_text()
    finally:
        plt.close(fig)
    assert plot_theory(rows, tmp_path / "sub" / "t.png")
    assert (tmp_path / "sub" / "t.png").stat().st_size > 1000
