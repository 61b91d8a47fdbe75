import os
import runpy

import pytest

pytest.importorskip("sklearn")


def test_supervised_digits_reaches_95_percent(capsys):
    path = os.path.join(os.path.dirname(__file__), "..", "benchmarks", "example_supervised_digits.py")
    mod = runpy.run_path(path, run_name="example")
    acc = mod["main"](["--epochs", "25"])
    assert acc >= 0.95
