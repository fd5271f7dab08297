"""The line on which each record of a JSON document starts, so that a record read from a
JSON array or a saved ListResponse is located as ``users.json:57``, like a CSV row.

:func:`json.loads` keeps no positions, so the text is read once more: up to the records'
array a token at a time (a member name says where the array is), then an element at a
time with the standard library's decoder, which reads it in C and gives the offset where
it ends. Decoding an element again costs less than stepping through its text in Python:
on a large export, a regular expression's match per string took nine times as long, and
one per bracket three times (``bench/json_bench.py``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Final, NamedTuple

_TOKEN: Final = re.compile(r'"(?:[^"\\]|\\.)*"(\s*:)?|[\[\]{}]', re.DOTALL)
_GAP: Final = re.compile(r"[ \t\n\r,]*")
"""What may stand between two elements of an array: JSON's whitespace and the comma."""
_DECODER: Final = json.JSONDecoder()
"""Reads one JSON value from an offset, as :func:`json.loads` reads it: ``raw_decode``
gives ``(value, end)``."""


class Elements(NamedTuple):
    """Where each element of an array is, and how deeply it can nest."""

    lines: list[int]
    """The 1-based line each element starts on."""
    opened: list[int]
    """How many brackets open in each element's text, its own included (those in strings
    too): no element nests more deeply than this, so one that opens no more than a limit
    need not be walked to know it stays within it. Counted in C."""


def locate(text: str, path: Sequence[str], expected: int) -> Elements | None:
    """The line of each element of the array at ``path`` (the member names from the
    document's root; empty for a top-level array), and the brackets it opens.

    ``text`` must be valid JSON (it has been parsed already). Where a member is named
    twice, JSON keeps the last, and so does this: the array read is the last one at
    ``path`` in the text. Returns ``None`` when its elements are not ``expected`` in
    number: a location is then better unknown than wrong.

    Lines are counted up to each element's first character: a JSON string holds no raw
    line break (RFC 8259, section 7), so every line break counted is one of the text's."""
    wanted = tuple(path)
    stack: list[str | None] = []
    """The member name each open container is under (``None`` for the root and for
    array elements)."""
    member: str | None = None
    found: Elements | None = None
    line, counted, at = 1, 0, 0
    while token := _TOKEN.search(text, at):
        at = token.end()
        first = text[token.start()]
        if first == '"':
            member = _name(token.group()) if token.group(1) else None
        elif first in "[{":
            stack.append(member)
            member = None
            if first == "[" and tuple(stack[1:]) == wanted:
                found = Elements([], [])  # a later array at the path replaces it
                inside = _elements(text, at, found, line, counted)
                if inside is None:
                    return None
                at, line, counted = inside
                stack.pop()
        else:
            stack.pop()
    return found if found is not None and len(found.lines) == expected else None


def _elements(
    text: str, at: int, found: Elements, line: int, counted: int
) -> tuple[int, int, int] | None:
    """Add each element of the array opened just before ``at`` to ``found``; the
    offset after its closing bracket, and the line count so far (the line, and the offset
    it is counted to). ``None`` when an element does not read (the text is not the JSON
    that was parsed)."""
    decode = _DECODER.raw_decode
    try:
        while True:
            gap = _GAP.match(text, at)
            at = gap.end() if gap else at
            first = text[at]
            if first == "]":
                return at + 1, line, counted
            start = at
            _value, at = decode(text, at)
            line += text.count("\n", counted, start)
            counted = start
            found.lines.append(line)
            found.opened.append(text.count("{", start, at) + text.count("[", start, at))
    except (IndexError, ValueError, RecursionError):
        return None


def _name(token: str) -> str:
    """A member name as JSON reads it: ``"a\\u0062"`` is ``ab``."""
    text = token[: token.rindex('"') + 1]
    return json.loads(text) if "\\" in text else text[1:-1]
