"""Messages a new user meets before any training: importing from the source folder, and why
CUDA is unavailable."""
import ctypes.util
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

import pyssl
from pyssl import cuda

SOURCE = os.path.dirname(pyssl.__file__)


def test_import_from_a_source_folder_without_the_extension_says_what_to_do(tmp_path):
    """Python finds a checkout's pyssl/ (no compiled _core) before the installed package when the
    current directory is the repository root; the error must say so instead of 'circular import'."""
    shutil.copytree(SOURCE, tmp_path / "pyssl", ignore=shutil.ignore_patterns("_core*", "__pycache__"))
    code = textwrap.dedent(f"""
        import sys
        # keep only the standard finders, as for a plain (non-editable) installation
        sys.meta_path[:] = [f for f in sys.meta_path
                            if isinstance(f, type) and f.__module__.startswith("_frozen_importlib")]
        sys.path.insert(0, {str(tmp_path)!r})
        import pyssl
    """)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert res.returncode != 0
    assert "compiled extension (_core) is not in" in res.stderr
    assert "cd elsewhere" in res.stderr and "pip install ." in res.stderr
    assert "circular import" not in res.stderr


@pytest.mark.skipif(not cuda.compiled, reason="pyssl built without CUDA")
@pytest.mark.skipif(ctypes.util.find_library("cuda") is not None, reason="a CUDA driver library is installed")
def test_cuda_without_driver_says_no_device_or_driver():
    reason = cuda.unavailable_reason()
    assert reason.startswith("no CUDA device/driver found")
    with pytest.raises(RuntimeError, match="no CUDA device/driver found"):
        cuda.to_device(__import__("numpy").ones(2, "float32"))
