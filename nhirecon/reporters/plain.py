"""Plain data, as the JSON report's encoders take it: what orjson writes as the standard
library does (:func:`plain`), a dict known to be so when it was made (:class:`Plain`), and
a long list made as it is read (:class:`Items`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Final


class Plain(dict[str, Any]):
    """A dict of the report made of plain data only (see :func:`plain`), known so when it
    was made: :func:`plain` takes it at its word, without looking inside. Only
    :mod:`nhirecon.reporters.serialize` makes one, and adds to one only plain data, or
    the instants its ``record`` leaves for the JSON encoders (``native_instants``), which
    write them."""

    __slots__ = ()


_LEAVES: Final[set[type]] = {str, bool, int, type(None)}
"""The types of plain values, with each subclass of ``str`` met (a text enumeration)."""
_DEPTH: Final = 200
"""How deep :func:`plain` looks; anything deeper is not plain."""


def plain(value: Any, depth: int = 0) -> bool:
    """Whether ``value`` is plain data: text, flags, ``None`` and integers, in lists,
    tuples and dicts, nested at most :data:`_DEPTH` deep (a :class:`Plain` is, by how it
    was made). The JSON report encodes plain data by orjson, which writes it as the
    standard library does (it refuses keys other than text, integers beyond 64 bits and
    lone surrogates, and the report then falls back); floats, for one, it writes otherwise.
    A list or dict of leaves only is checked in C."""
    kind = type(value)
    if kind is dict:
        items = value.values()
    elif kind is list or kind is tuple:
        items = value
    else:
        return kind is Plain or kind in _LEAVES or isinstance(value, str)
    if _LEAVES.issuperset(map(type, items)):
        return True
    if depth >= _DEPTH:
        return False
    for item in items:
        kind = type(item)
        if kind in _LEAVES or kind is Plain:
            continue
        if kind is dict or kind is list or kind is tuple:
            if not plain(item, depth + 1):
                return False
        elif isinstance(item, str):  # a text enumeration: its text, by either
            _LEAVES.add(kind)
        else:
            return False
    return True


class Items:
    """A list of the report that can be long (the findings): its items are made as they
    are read, each time it is iterated, so that the whole list is never held at once."""

    __slots__ = ("_make",)

    def __init__(self, make: Callable[[], Iterator[Any]]) -> None:
        self._make = make

    def __iter__(self) -> Iterator[Any]:
        return self._make()
