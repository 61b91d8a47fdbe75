"""Checkpoints: one versioned ``.npz`` file, written to a temporary name then renamed.

Loading checks the format version and, through ``Module.load_state_dict``, names and shapes.
"""
from __future__ import annotations

import json
import os
import tempfile
from typing import Any

import numpy as np

FORMAT = "pyssl-checkpoint"
FORMAT_VERSION = 1
_META_KEY = "__pyssl_meta__"


def _umask() -> int:
    """The process umask (read by setting it and restoring it at once)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _savable(name, value) -> np.ndarray:
    """``value`` as an array that :func:`load_state` can read back (no Python objects)."""
    if not isinstance(name, str):
        raise TypeError(f"array names must be str, got {name!r} ({type(name).__name__})")
    arr = np.asarray(value)
    if arr.dtype.hasobject or arr.dtype.kind == "V":
        raise TypeError(f"array {name!r} has dtype {arr.dtype}, which a checkpoint cannot hold (it is read without "
                        "pickle); store numbers, booleans or strings, e.g. np.asarray(value, dtype=float)")
    return arr


def _header(path: str, raw: np.ndarray) -> dict:
    """The decoded JSON header of checkpoint ``path``, or a ValueError naming the file."""
    try:
        header = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"{path!r} is not a pyssl checkpoint (its header is not UTF-8 JSON: {exc})") from exc
    if not isinstance(header, dict):
        raise ValueError(f"{path!r} is not a pyssl checkpoint (its header is a JSON {type(header).__name__}, "
                         "not an object)")
    if header.get("format") != FORMAT:
        raise ValueError(f"{path!r} is not a pyssl checkpoint (format {header.get('format')!r})")
    version = header.get("format_version")
    if type(version) is not int or version < 1:
        raise ValueError(f"{path!r} has an invalid format version {version!r} (expected an int >= 1); the file "
                         "is damaged or was not written by pyssl")
    if version > FORMAT_VERSION:
        raise ValueError(f"{path!r} has format version {version}, newer than this pyssl understands "
                         f"({FORMAT_VERSION}); upgrade pyssl")
    meta = header.get("meta", {})
    if not isinstance(meta, dict):
        raise ValueError(f"{path!r} has a damaged header: 'meta' is a JSON {type(meta).__name__}, not an object")
    return meta


def save_state(path, arrays: dict[str, np.ndarray], meta: dict | None = None) -> None:
    """Write ``arrays`` (name → array) and JSON ``meta`` atomically to ``path``."""
    from .. import __version__

    path = os.fspath(path)
    if _META_KEY in arrays:
        raise ValueError(f"array name {_META_KEY!r} is reserved")
    header = {"format": FORMAT, "format_version": FORMAT_VERSION, "pyssl_version": __version__,
              "meta": meta or {}}
    payload: dict[str, Any] = {k: _savable(k, v) for k, v in arrays.items()}
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
    """Read a checkpoint; returns (arrays, meta). Raises ValueError for foreign or newer files.

    ``path``: A file written by :func:`save_state` or :func:`save`.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no checkpoint at {path!r}")
    try:
        with open(path, "rb") as f, np.load(f, allow_pickle=False) as z:  # our handle: closed on failure
            arrays = {k: z[k] for k in z.files}
    except Exception as exc:
        raise ValueError(f"{path!r} is not a pyssl checkpoint (could not read it as .npz: {exc})") from exc
    if _META_KEY not in arrays:
        raise ValueError(f"{path!r} is not a pyssl checkpoint (no {_META_KEY} entry)")
    return arrays, _header(path, arrays.pop(_META_KEY))


def save(module, path, meta: dict | None = None) -> None:
    """Save a module's ``state_dict`` to ``path`` (atomic, versioned).

    ``meta``: JSON-able metadata stored with the state (returned by :func:`load`).
    """
    save_state(path, module.state_dict(), meta)


def load(module, path) -> dict:
    """Load ``path`` into ``module`` (names and shapes checked); returns the saved meta."""
    arrays, meta = load_state(path)
    module.load_state_dict(arrays)
    return meta
