"""pyssl/_core.pyi against the compiled extension: the same functions, with the same parameter
names, in each submodule (nn, optim, losses, augment, cuda) and at the top level; and the classes
with the same public methods. The stub types the extension for mypy (.ci/run runs it), so a
binding added to csrc/python without its stub line fails here."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

from pyssl import _core

STUB = Path(_core.__file__).resolve().parent / "_core.pyi"
if not STUB.exists():  # editable installs keep the compiled module apart from the sources
    STUB = Path(__file__).resolve().parents[1] / "pyssl" / "_core.pyi"
SUBMODULES = ("nn", "optim", "losses", "augment", "cuda")


def _params(node: ast.FunctionDef) -> list[str]:
    names = [a.arg for a in node.args.posonlyargs + node.args.args + node.args.kwonlyargs]
    return [n for n in names if n != "self"]


def _stub_scopes() -> dict[str, dict[str, object]]:
    """scope ('' for the top level, else the submodule) -> {name: param list | {method: params}}."""
    tree = ast.parse(STUB.read_text(encoding="utf-8"))

    def members(body) -> dict[str, object]:
        out: dict[str, object] = {}
        for node in body:
            if isinstance(node, ast.FunctionDef):
                out[node.name] = _params(node)
            elif isinstance(node, ast.ClassDef):
                out[node.name] = members(node.body)
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                out[node.target.id] = "attribute"
        return out

    top = members(tree.body)
    scopes = {"": {k: v for k, v in top.items() if k not in SUBMODULES and not k.startswith("_")}}
    for sub in SUBMODULES:
        scopes[sub] = top[sub]
    return scopes


def _split_top_level(text: str) -> list[str]:
    parts, depth, cur = [], 0, ""
    for ch in text:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    if cur.strip():
        parts.append(cur)
    return parts


def _runtime_params(fn) -> list[str]:
    """Parameter names from pybind11's signature line ``name(a: T, b: T = ...) -> R``."""
    line = (fn.__doc__ or "").strip().splitlines()[0]
    inner = line[line.index("(") + 1: line.rindex(") ->")]
    return [p.split(":")[0].strip() for p in _split_top_level(inner) if p.strip() and p.strip() != "self"]


def _runtime_scope(mod) -> dict[str, object]:
    out: dict[str, object] = {}
    for name, obj in vars(mod).items():
        if name.startswith("_") or name in SUBMODULES or inspect.ismodule(obj):
            continue
        if inspect.isclass(obj):
            out[name] = {m: v for m, v in vars(obj).items() if not m.startswith("_")}
        elif callable(obj):
            out[name] = _runtime_params(obj)
        else:
            out[name] = "attribute"
    return out


@pytest.mark.parametrize("scope", ["", *SUBMODULES])
def test_stub_matches_extension(scope):
    stub = _stub_scopes()[scope]
    runtime = _runtime_scope(getattr(_core, scope) if scope else _core)
    where = f"pyssl._core{'.' + scope if scope else ''}"
    if scope == "cuda" and not _core.cuda.compiled:
        # a CPU-only build has only the availability functions; the stub describes a CUDA build
        missing = sorted(set(runtime) - set(stub))
        assert not missing, f"{where}: {missing} not in pyssl/_core.pyi"
        return
    assert sorted(set(runtime) - set(stub)) == [], f"{where}: functions missing from pyssl/_core.pyi"
    assert sorted(set(stub) - set(runtime)) == [], f"{where}: pyssl/_core.pyi names what the extension lacks"
    for name, params in runtime.items():
        if isinstance(params, list):
            assert stub[name] == params, f"{where}.{name}: stub parameters {stub[name]} != extension {params}"
        elif isinstance(params, dict):
            stub_methods = {m for m in stub[name] if not m.startswith("_")}
            assert stub_methods == set(params), f"{where}.{name}: methods {sorted(stub_methods)} != {sorted(params)}"
