"""The line on which each record of a JSON document starts, so that a record read from a
JSON array or a saved ListResponse is located as ``users.json:57``, like a CSV row.

:func:`json.loads` keeps no positions, so the text is scanned once more with regular
expressions that step over strings and stop at brackets: no value is decoded twice.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Final

_TOKEN: Final = re.compile(r'"(?:[^"\\]|\\.)*"(\s*:)?|[\[\]{}]', re.DOTALL)
_BRACKET: Final = re.compile(r'(?:[^\[\]{}"]++|"(?:[^"\\]++|\\.)*+")*+([\[\]{}])', re.DOTALL)
"""The next bracket, stepping over the text and strings before it in one match."""


def element_lines(text: str, path: Sequence[str], expected: int) -> list[int] | None:
    """The 1-based line of each element of the array at ``path`` (the member names from
    the document's root; empty for a top-level array).

    ``text`` must be valid JSON (it has been parsed already). Returns ``None`` when the
    elements found are not ``expected`` in number (a member named twice, of which JSON
    keeps the last): a location is then better unknown than wrong.

    Outside the array, every string is a token (a member name says where the array is);
    inside it, only brackets are: each match steps over the strings and other text up to
    the next bracket, so that an element costs a match per bracket it holds, not per
    string. JSON strings hold no raw line break (RFC 8259, section 7), so the lines are
    counted between brackets."""
    wanted = tuple(path)
    stack: list[str | None] = []
    """The member name each open container is under (``None`` for the root and for
    array elements)."""
    member: str | None = None
    lines: list[int] = []
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
                inside = _elements(text, at, lines, line, counted)
                if inside is None:
                    return None
                at, line, counted = inside
                stack.pop()
        else:
            stack.pop()
    return lines if len(lines) == expected else None


def _elements(
    text: str, at: int, lines: list[int], line: int, counted: int
) -> tuple[int, int, int] | None:
    """Add the line of each object element of the array opened just before ``at``; the
    offset after its closing bracket, and the line count so far (the line, and the offset
    it is counted to). ``None`` when the text ends first (it is not valid JSON)."""
    depth = 0
    while bracket := _BRACKET.match(text, at):
        at = bracket.end()
        if bracket.group(1) in "[{":
            if depth == 0 and bracket.group(1) == "{":
                line += text.count("\n", counted, at - 1)
                counted = at - 1
                lines.append(line)
            depth += 1
        elif depth == 0:
            return at, line, counted
        else:
            depth -= 1
    return None


def _name(token: str) -> str:
    """A member name as JSON reads it: ``"a\\u0062"`` is ``ab``."""
    text = token[: token.rindex('"') + 1]
    return json.loads(text) if "\\" in text else text[1:-1]
