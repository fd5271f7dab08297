"""The line on which each record of a JSON document starts, so that a record read from a
JSON array or a saved ListResponse is located as ``users.json:57``, like a CSV row.

:func:`json.loads` keeps no positions, so the text is scanned once more with one regular
expression that steps over strings and stops at brackets: no value is decoded twice.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Final

_TOKEN: Final = re.compile(r'"(?:[^"\\]|\\.)*"(\s*:)?|[\[\]{}]', re.DOTALL)


def element_lines(text: str, path: Sequence[str], expected: int) -> list[int] | None:
    """The 1-based line of each element of the array at ``path`` (the member names from
    the document's root; empty for a top-level array).

    ``text`` must be valid JSON (it has been parsed already). Returns ``None`` when the
    elements found are not ``expected`` in number (a member named twice, of which JSON
    keeps the last): a location is then better unknown than wrong."""
    wanted = tuple(path)
    stack: list[str | None] = []
    """The member name each open container is under (``None`` for the root and for
    array elements)."""
    target = -1
    """The depth of the array being read, while inside it."""
    member: str | None = None
    lines: list[int] = []
    line, counted = 1, 0
    for token in _TOKEN.finditer(text):
        first = text[token.start()]
        if first == '"':
            member = _name(token.group()) if token.group(1) else None
            continue
        if first in "[{":
            if first == "{" and len(stack) == target:
                line += text.count("\n", counted, token.start())
                counted = token.start()
                lines.append(line)
            stack.append(member)
            member = None
            if first == "[" and target < 0 and tuple(stack[1:]) == wanted:
                target = len(stack)
        else:
            if len(stack) == target:
                target = -1
            stack.pop()
    return lines if len(lines) == expected else None


def _name(token: str) -> str:
    """A member name as JSON reads it: ``"a\\u0062"`` is ``ab``."""
    text = token[: token.rindex('"') + 1]
    return json.loads(text) if "\\" in text else text[1:-1]
