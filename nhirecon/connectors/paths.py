"""Paths into nested records (JSON, YAML, SCIM): ``a.b``, ``a[0]``, ``a[type=work].value``.

- ``name`` reads a key of an object; over a list it reads the key of every object in it
  (``emails.value``), and a bare value in such a list stands for its own ``value``.
- ``[n]`` takes the n-th item of a list: a position the user chose.
- ``[key=value]`` (or SCIM's ``[key eq "value"]``) keeps every item of a list whose ``key``
  equals ``value`` (strings compared case-insensitively). It never stops at the first match:
  a selection that leaves several values gives the field several values (SPEC §4).
"""

from __future__ import annotations

import functools
import re
from typing import Final

NAME: Final = 0
INDEX: Final = 1
WHERE: Final = 2

Part = tuple[int, str | int, str]
"""One step of a path: (``NAME``, key, ""), (``INDEX``, n, "") or (``WHERE``, key, wanted)."""

_SEGMENT = re.compile(r"([^.\[\]]+)((?:\[[^\]]*\])*)")
_BRACKET = re.compile(r"\[([^\]]*)\]")
_CONDITION = re.compile(r"^\s*([\w$-]+)\s*(?:=|\beq\b)\s*(.*?)\s*$", re.IGNORECASE)


@functools.lru_cache(maxsize=1024)
def compile_path(path: str, *, fold: bool = False) -> tuple[Part, ...] | None:
    """The steps of ``path`` (names case-folded with ``fold``); ``None`` when it is not a
    path of this syntax, so the caller can read it as one plain name."""
    parts: list[Part] = []
    position = 0
    while True:
        match = _SEGMENT.match(path, position)
        if match is None:
            return None
        name = match[1].strip()
        parts.append((NAME, name.casefold() if fold else name, ""))
        for inner in _BRACKET.findall(match[2]):
            part = _bracket(inner, fold)
            if part is None:
                return None
            parts.append(part)
        position = match.end()
        if position == len(path):
            return tuple(parts)
        if path[position] != ".":
            return None
        position += 1


def _bracket(inner: str, fold: bool) -> Part | None:
    inner = inner.strip()
    if inner.isdigit():
        return (INDEX, int(inner), "")
    condition = _CONDITION.match(inner)
    if condition is None:
        return None
    key, wanted = condition[1], condition[2]
    if len(wanted) >= 2 and wanted[0] == wanted[-1] and wanted[0] in "\"'":
        wanted = wanted[1:-1]
    return (WHERE, key.casefold() if fold else key, wanted)


def walk(node: object, parts: tuple[Part, ...]) -> object:
    """The value ``parts`` lead to from ``node``, or ``None``; a list where a selection or a
    list of objects leaves several."""
    for kind, key, wanted in parts:
        if node is None:
            return None
        if kind == NAME:
            if isinstance(node, dict):
                node = node.get(key)
            elif isinstance(node, list):
                node = _each(node, str(key))
            else:
                return None
        elif kind == INDEX:
            assert isinstance(key, int)
            node = node[key] if isinstance(node, list) and key < len(node) else None
        else:
            items = node if isinstance(node, list) else [node]
            node = [
                item for item in items if isinstance(item, dict) and _equal(item.get(key), wanted)
            ]
    return node


def _each(items: list[object], key: str) -> list[object]:
    found: list[object] = []
    for item in items:
        if isinstance(item, dict):
            value = item.get(key)
        elif key.casefold() == "value" and not isinstance(item, list):
            value = item  # a bare value among objects (a sloppy multi-valued attribute)
        else:
            continue
        if isinstance(value, list):
            found.extend(value)
        elif value is not None:
            found.append(value)
    return found


def _equal(found: object, wanted: str) -> bool:
    if isinstance(found, bool):
        return wanted.casefold() == ("true" if found else "false")
    if isinstance(found, str):
        return found.casefold() == wanted.casefold()
    if isinstance(found, int | float):
        return str(found) == wanted
    return False
