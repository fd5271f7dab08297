"""The JSON report (schema version 1), for machines, written one finding at a time.

The text is exactly ``json.dumps(serialize.report(report), indent=2, ensure_ascii=False)``
and a newline, made in pieces: the top-level fields as they come and each item of a long
list (:class:`serialize.Items`) on its own, so that a report of a million accounts is never
held whole, as data or as text. SARIF (:func:`stream`, the same way) and OCSF
(:func:`compact`, a line per event) are encoded here too.

Each piece is encoded by :func:`dumps`: by orjson (C: with the check below, a finding is
encoded several times faster than by the standard library's indenting encoder, which is
pure Python) where its output is the standard library's byte for byte, else by the
standard library. orjson agrees on text
(escapes, non-ASCII, U+2028), on ``true``/``false``/``null``, on integers of 64 bits and on
empty containers. Floats are not always written alike (``1e-07`` against ``1e-7``, ``NaN``),
larger integers, other types and dict keys that are not text are refused or written
otherwise, and so is anything nested deeper than orjson goes: such a value goes to the
standard library (:func:`_plain` says which), as does text holding a lone surrogate
(``"\\ud800"``), which orjson refuses.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any, Final

import orjson

from nhirecon.core.report import Report
from nhirecon.reporters import serialize
from nhirecon.reporters.base import Reporter

INDENT: Final = "  "
_STANDARD: Final = json.JSONEncoder(indent=2, ensure_ascii=False)
"""What ``json.dumps(value, indent=2, ensure_ascii=False)`` uses."""
_COMPACT: Final = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
"""What ``json.dumps(value, ensure_ascii=False, separators=(",", ":"))`` uses."""
_LEAVES: Final[set[type]] = {str, bool, int, type(None)}
"""Types orjson writes as the standard library does (an integer when it fits 64 bits),
with each subclass of ``str`` met (a text enumeration: both write its text)."""
_DEPTH: Final = 200
"""How deep :func:`_plain` looks; deeper values go to the standard library (orjson refuses
more than 255 levels)."""


def _plain(value: Any, depth: int = 0) -> bool:
    """Whether orjson, if it accepts ``value``, writes it as the standard library does:
    text, flags, ``None`` and integers, in lists, tuples and dicts. (orjson refuses dict keys
    other than text, integers beyond 64 bits and lone surrogates: the caller then falls
    back.) A list or dict of leaves only is checked in C."""
    kind = type(value)
    if kind is dict:
        items = value.values()
    elif kind is list or kind is tuple:
        items = value
    else:
        return kind in _LEAVES or isinstance(value, str)
    if _LEAVES.issuperset(map(type, items)):
        return True
    if depth >= _DEPTH:
        return False
    for item in items:
        kind = type(item)
        if kind in _LEAVES:
            continue
        if kind is dict or kind is list or kind is tuple:
            if not _plain(item, depth + 1):
                return False
        elif isinstance(item, str):  # a text enumeration: its text, by either
            _LEAVES.add(kind)
        else:
            return False
    return True


def _by_orjson(value: Any, option: int) -> bytes | None:
    """``value`` encoded by orjson when :func:`_plain` says it writes what the standard
    library writes and orjson accepts it; else ``None``, for the standard library."""
    if not _plain(value):
        return None
    try:
        return orjson.dumps(value, option=option)
    except orjson.JSONEncodeError:  # a lone surrogate, a key not text, a huge integer
        return None


def dumps(value: Any, level: int = 0) -> str:
    """``json.dumps(value, indent=2, ensure_ascii=False)``, each line after the first
    indented by ``level`` more levels, so that it can stand at that depth of a document."""
    data = _by_orjson(value, orjson.OPT_INDENT_2)
    if data is not None:
        if level and b"\n" in data:
            data = data.replace(b"\n", b"\n" + b"  " * level)
        return data.decode("utf-8")
    text = _STANDARD.encode(value)
    return text.replace("\n", "\n" + INDENT * level) if level else text


def compact(value: Any) -> str:
    """``json.dumps(value, ensure_ascii=False, separators=(",", ":"))``: one line, for
    JSON Lines; by orjson where it writes the same, as :func:`dumps`."""
    data = _by_orjson(value, 0)
    return _COMPACT.encode(value) if data is None else data.decode("utf-8")


def stream(value: Any, level: int = 0) -> Iterator[str]:
    """``dumps(value, level)`` in pieces: each item of a :class:`serialize.Items` is one
    (written whole), and a dict or list that holds one, at any depth, is written field by
    field or element by element."""
    if isinstance(value, serialize.Items):
        yield from _items(value, level)
    elif type(value) is dict and _lazy(value.values()):
        yield from _fields(value, level)
    elif type(value) is list and _lazy(value):
        yield from _elements(value, level)
    else:
        yield dumps(value, level)


def _lazy(values: Iterable[Any]) -> bool:
    return any(
        isinstance(item, serialize.Items)
        or (type(item) is dict and _lazy(item.values()))
        or (type(item) is list and _lazy(item))
        for item in values
    )


def _items(items: serialize.Items, level: int) -> Iterator[str]:
    inner = "\n" + INDENT * (level + 1)
    separator = "[" + inner
    for item in items:
        yield separator + dumps(item, level + 1)
        separator = "," + inner
    yield "[]" if separator[0] == "[" else "\n" + INDENT * level + "]"


def _elements(value: list[Any], level: int) -> Iterator[str]:
    inner = "\n" + INDENT * (level + 1)
    separator = "[" + inner
    for item in value:
        yield separator
        yield from stream(item, level + 1)
        separator = "," + inner
    yield "[]" if separator[0] == "[" else "\n" + INDENT * level + "]"


def _fields(value: dict[str, Any], level: int) -> Iterator[str]:
    inner = "\n" + INDENT * (level + 1)
    separator = "{" + inner
    for key, item in value.items():
        yield separator + dumps(key) + ": "
        yield from stream(item, level + 1)
        separator = "," + inner
    yield "{}" if separator[0] == "{" else "\n" + INDENT * level + "}"


class JsonReporter(Reporter):
    name = "json"
    description = "The full report as JSON, schema version 1."
    extensions = (".json",)

    def chunks(self, report: Report) -> Iterator[str]:
        yield from stream(serialize.sections(report))
        yield "\n"

    def render(self, report: Report) -> str:
        return "".join(self.chunks(report))
