"""Checkpoints: one versioned ``.npz`` file, written to a temporary name then renamed.

Loading checks the format version and, through ``Module.load_state_dict``, names and shapes.
"""
from __future__ import annotations

import json
import os
import tempfile

import numpy as np

FORMAT = "pyssl-checkpoint"
FORMAT_VERSION = 1
_META_KEY = "__pyssl_meta__"


def _umask() -> int:
    """The process umask (read by setting it and restoring it at once)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def save_state(path, arrays: dict[str, np.ndarray], meta: dict | None = None) -> None:
    """Write ``arrays`` (name → array) and JSON ``meta`` atomically to ``path``."""
    from .. import __version__

    path = os.fspath(path)
    if _META_KEY in arrays:
        raise ValueError(f"array name {_META_KEY!r} is reserved")
    header = {"format": FORMAT, "format_version": FORMAT_VERSION, "pyssl_version": __version__,
              "meta": meta or {}}
    payload = {k: np.asarray(v) for k, v in arrays.items()}
    payload[_META_KEY] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"cannot write {path!r}: folder {directory!r} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".npz", dir=directory)
    try:
        # mkstemp creates the file 0600; give it the mode any new file gets (0666 less the umask)
        os.chmod(tmp, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load_state(path) -> tuple[dict[str, np.ndarray], dict]:
    """Read a checkpoint; returns (arrays, meta). Raises ValueError for foreign or newer files."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no checkpoint at {path!r}")
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except Exception as exc:
        raise ValueError(f"{path!r} is not a pyssl checkpoint (could not read it as .npz: {exc})") from exc
    if _META_KEY not in arrays:
        raise ValueError(f"{path!r} is not a pyssl checkpoint (no {_META_KEY} entry)")
    header = json.loads(arrays.pop(_META_KEY).tobytes().decode())
    if header.get("format") != FORMAT:
        raise ValueError(f"{path!r} is not a pyssl checkpoint (format {header.get('format')!r})")
    if header.get("format_version", 0) > FORMAT_VERSION:
        raise ValueError(f"{path!r} has format version {header['format_version']}, newer than this pyssl "
                         f"understands ({FORMAT_VERSION}); upgrade pyssl")
    return arrays, header.get("meta", {})


def save(module, path, meta: dict | None = None) -> None:
    """Save a module's ``state_dict`` to ``path`` (atomic, versioned)."""
    save_state(path, module.state_dict(), meta)


def load(module, path) -> dict:
    """Load ``path`` into ``module`` (names and shapes checked); returns the saved meta."""
    arrays, meta = load_state(path)
    module.load_state_dict(arrays)
    return meta
