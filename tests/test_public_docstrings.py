"""Every public class and function of pyssl has a docstring that documents its parameters: a
"Parameters" section, or each argument named in the text (``name``, name:, name =). Public means
listed in ``__all__`` of pyssl and its subpackages; for a class, its own docstring together with
its ``__init__``'s documents the constructor (methods are not walked)."""
import importlib
import inspect
import re

import pytest

import pyssl

PACKAGES = ["pyssl", "pyssl.nn", "pyssl.losses", "pyssl.optim", "pyssl.pretext", "pyssl.methods",
            "pyssl.transfer", "pyssl.theory", "pyssl.data", "pyssl.callbacks", "pyssl.distributed", "pyssl.export",
            "pyssl.train", "pyssl.testing", "pyssl.experiments"]
SKIP_ARGS = {"self", "cls", "args", "kwargs", "kw"}


def _public():
    seen = {}
    for pkg in PACKAGES:
        mod = importlib.import_module(pkg)
        names = getattr(mod, "__all__", None) or [n for n in vars(mod) if not n.startswith("_")]
        for name in names:
            obj = getattr(mod, name, None)
            if (inspect.isclass(obj) or inspect.isfunction(obj)) and getattr(obj, "__module__", "").startswith("pyssl"):
                seen.setdefault(f"{obj.__module__}.{obj.__qualname__}", obj)
    return seen


PUBLIC = _public()


def _arguments(fn):
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return []
    return [n for n, p in sig.parameters.items() if n not in SKIP_ARGS and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


def _documents(doc, args):
    if re.search(r"^\s*(Parameters|Args|Arguments)\s*\n\s*[-=]{3,}", doc, re.M) or "Parameters" in doc:
        return []
    return [a for a in args if not re.search(rf"(?<![\w]){re.escape(a)}(?![\w])", doc)]


def _callables(name, obj):
    if inspect.isfunction(obj):
        yield name, obj, inspect.getdoc(obj) or ""
        return
    own_init = obj.__dict__.get("__init__")
    init_doc = (inspect.getdoc(own_init) or "") if own_init else ""
    yield name, obj.__init__ if own_init else None, (obj.__doc__ and inspect.getdoc(obj) or "") + "\n" + init_doc


CASES = [(n, f, d) for name, obj in sorted(PUBLIC.items()) for n, f, d in _callables(name, obj)]


def test_the_public_api_is_walked():
    assert len(PUBLIC) > 150 and any(n.endswith("PretextTaskMethod") for n in PUBLIC)


@pytest.mark.parametrize("name", [c[0] for c in CASES])
def test_has_a_docstring_that_documents_its_parameters(name):
    _, fn, doc = next(c for c in CASES if c[0] == name)
    if not doc.strip():
        pytest.fail(f"{name} has no docstring")
    missing = _documents(doc, _arguments(fn) if fn is not None else [])
    assert not missing, f"{name}: the docstring documents no Parameters section and does not name {missing}"
