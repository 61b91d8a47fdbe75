"""Named registries for pyssl's extension points (losses, methods, transforms, layers).

One :class:`Registry` per extension point. Registering an entry is one line — a decorator on the
function or class, or one ``register`` call — and every list that used to be kept by hand reads
the registry instead: ``experiments.METHOD_NAMES``, the CLI's ``--method`` choices, the loss
benchmark's tables and the contract test suites (``tests/contracts/``), which every registered
entry must pass. This follows optax's table of optimizers and scikit-learn's ``check_estimator``:
an entry names the example inputs its contract checks need, so a new entry is checked without
touching any test.
"""
from __future__ import annotations

from typing import Any, Callable, Iterator


class Entry:
    """A registered object and its metadata.

    Parameters
    ----------
    name : str
        The registry key (lower case, ``snake_case``).
    obj : object
        The function or class registered under ``name``.
    **meta
        Entry-specific metadata, readable as attributes (``entry.inputs``); a name that was not
        given reads as None.
    """

    __slots__ = ("name", "obj", "meta")

    def __init__(self, name: str, obj: Any, **meta):
        self.name, self.obj, self.meta = name, obj, meta

    def __getattr__(self, key):
        if key.startswith("__"):
            raise AttributeError(key)
        return self.meta.get(key)

    def __repr__(self):
        return f"Entry({self.name!r}, {getattr(self.obj, '__qualname__', self.obj)!r})"


class Registry:
    """Name → :class:`Entry`, in registration order.

    Parameters
    ----------
    kind : str
        What the entries are ("loss", "method", ...), used in error messages.
    """

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, Entry] = {}

    def register(self, name: str, obj: Any = None, **meta):
        """Register ``obj`` under ``name``; without ``obj``, return a decorator that does.

        Parameters
        ----------
        name : str
            The key; registering the same name twice raises ValueError.
        obj : object, optional
            The function or class (omit to use ``register`` as a decorator).
        **meta
            Metadata stored on the entry (e.g. the example inputs of the contract checks).
        """
        if not isinstance(name, str) or not name:
            raise TypeError(f"a {self.kind} name must be a non-empty str, got {name!r}")

        def add(o):
            if name in self._entries and self._entries[name].obj is not o:
                raise ValueError(f"a {self.kind} named {name!r} is already registered "
                                 f"({self._entries[name]!r}); choose another name")
            self._entries[name] = Entry(name, o, **meta)
            return o

        return add if obj is None else add(obj)

    def entry(self, name: str) -> Entry:
        """The entry registered as ``name`` (ValueError listing the known names otherwise).

        Parameters
        ----------
        name : str
            A registered name; ``-`` is read as ``_`` and case is ignored.
        """
        if not isinstance(name, str):
            raise TypeError(f"{self.kind} must be a {self.kind} name (str), got {name!r} ({type(name).__name__})")
        key = name.lower().replace("-", "_")
        if key not in self._entries:
            raise ValueError(f"unknown {self.kind} {name!r}; choose from {sorted(self._entries)}")
        return self._entries[key]

    def get(self, name: str) -> Any:
        """The object registered as ``name``; see :meth:`entry`.

        Parameters
        ----------
        name : str
            A registered name.
        """
        return self.entry(name).obj

    def names(self) -> tuple[str, ...]:
        """The registered names, in registration order."""
        return tuple(self._entries)

    def entries(self, where: Callable[[Entry], bool] | None = None) -> list[Entry]:
        """The entries (those for which ``where(entry)`` is true, when given).

        Parameters
        ----------
        where : callable, optional
            A filter on entries, e.g. ``lambda e: e.inputs is not None``.
        """
        return [e for e in self._entries.values() if where is None or where(e)]

    def __contains__(self, name) -> bool:
        return isinstance(name, str) and name.lower().replace("-", "_") in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {list(self._entries)})"
