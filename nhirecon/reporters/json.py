"""The JSON report (schema version 1), for machines, written a batch of findings at a time.

The text is exactly ``json.dumps(serialize.report(report), indent=2, ensure_ascii=False)``
and a newline, made in pieces: the top-level fields as they come and the items of a
long list (:class:`Items`) :data:`BATCH` at a time, so that a report of a million accounts
is never held whole, as data or as text. SARIF (:func:`stream`, the same way) and OCSF
(:func:`compact`, a line per event) are encoded here too.

Each piece is encoded by :func:`dumps`: by orjson (C: with the check below, a finding is
encoded several times faster than by the standard library's indenting encoder, which is
pure Python) where its output is the standard library's byte for byte, else by the
standard library. orjson agrees on text
(escapes, non-ASCII, U+2028), on ``true``/``false``/``null``, on integers of 64 bits and on
empty containers. Floats are not always written alike (``1e-07`` against ``1e-7``, ``NaN``),
larger integers, other types and dict keys that are not text are refused or written
otherwise, and so is anything nested deeper than orjson goes: such a value goes to the
standard library (:func:`plain` says which), as does text holding a lone surrogate
(``"\\ud800"``), which orjson refuses.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any, Final

import orjson

from nhirecon.core.report import Report
from nhirecon.core.values import SECONDS_Z, format_datetime
from nhirecon.reporters import serialize
from nhirecon.reporters.base import Reporter
from nhirecon.reporters.plain import Items, Plain, plain

INDENT: Final = "  "

_STANDARD: Final = json.JSONEncoder(indent=2, ensure_ascii=False)
"""What ``json.dumps(value, indent=2, ensure_ascii=False)`` uses."""


def _instant(value: object) -> str:
    """An instant a :class:`Plain` holds (``native_instants``), for the standard
    library, spelt as orjson spells it; any other type is refused, as ``json`` refuses it."""
    if type(value) is datetime:
        return format_datetime(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


_STANDARD_PLAIN: Final = json.JSONEncoder(indent=2, ensure_ascii=False, default=_instant)
""":data:`_STANDARD` for a :class:`Plain` that orjson refused (a lone surrogate
in its text): it may hold instants."""
_COMPACT: Final = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
"""What ``json.dumps(value, ensure_ascii=False, separators=(",", ":"))`` uses."""


def _by_orjson(value: Any, option: int) -> bytes | None:
    """``value`` encoded by orjson when it is plain data (:func:`plain`), which
    orjson writes as the standard library does, and orjson accepts it; else ``None``, for
    the standard library. An instant (in a :class:`Plain` only) is written as
    :func:`~nhirecon.core.values.format_datetime` spells it (:data:`SECONDS_Z`)."""
    if not plain(value):
        return None
    try:
        return orjson.dumps(value, option=option | SECONDS_Z)
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
    text = (_STANDARD_PLAIN if type(value) is Plain else _STANDARD).encode(value)
    return text.replace("\n", "\n" + INDENT * level) if level else text


def compact(value: Any) -> str:
    """``json.dumps(value, ensure_ascii=False, separators=(",", ":"))``: one line, for
    JSON Lines; by orjson where it writes the same, as :func:`dumps`."""
    data = _by_orjson(value, 0)
    return _COMPACT.encode(value) if data is None else data.decode("utf-8")


def stream(value: Any, level: int = 0) -> Iterator[str]:
    """``dumps(value, level)`` in pieces: each item of a :class:`Items` is one
    (written whole), and a dict or list that holds one, at any depth, is written field by
    field or element by element."""
    if isinstance(value, Items):
        yield from _items(value, level)
    elif type(value) is dict and _lazy(value.values()):
        yield from _fields(value, level)
    elif type(value) is list and _lazy(value):
        yield from _elements(value, level)
    else:
        yield dumps(value, level)


def _lazy(values: Iterable[Any]) -> bool:
    return any(
        isinstance(item, Items)
        or (type(item) is dict and _lazy(item.values()))
        or (type(item) is list and _lazy(item))
        for item in values
    )


def _items(items: Items, level: int) -> Iterator[str]:
    """A long list, :data:`BATCH` items to an orjson call where they are plain (the list
    encoded at ``level``: its brackets dropped, each line indented the levels it lacks),
    item by item by :func:`dumps` where they are not."""
    inner = "\n" + INDENT * (level + 1)
    shift = b"\n" + b"  " * level
    end = len(shift) + 1  # the list's last line break, its indent and "]"
    opened = False
    iterator = iter(items)
    while batch := list(itertools.islice(iterator, BATCH)):
        data = _by_orjson(batch, orjson.OPT_INDENT_2)
        if data is not None:
            text = (data.replace(b"\n", shift) if level else data)[1:-end].decode("utf-8")
            yield ("," if opened else "[") + text
        else:
            separator = "," + inner if opened else "[" + inner
            yield separator + ("," + inner).join(dumps(item, level + 1) for item in batch)
        opened = True
    yield "\n" + INDENT * level + "]" if opened else "[]"


BATCH: Final = 256
"""How many items of a long list one orjson call encodes: enough to make the calls' own
cost small, few enough that the text of a batch stays a few hundred KiB."""


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
        yield from stream(serialize.sections(report, native_instants=True))
        yield "\n"

    def render(self, report: Report) -> str:
        return "".join(self.chunks(report))
