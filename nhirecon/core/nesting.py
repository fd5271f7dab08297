"""How deeply parsed JSON nests: a document deeper than any real export or SCIM answer is
refused where it is read, so that nothing downstream recurses into it."""

from __future__ import annotations

from typing import Any, Final

MAX_DEPTH: Final = 100
"""How many arrays and objects may nest in one another; real exports need a handful."""
TOO_DEEP: Final = f"JSON nested too deeply (more than {MAX_DEPTH} levels)"

Container = dict[Any, Any] | list[Any]


def too_deep(value: object, limit: int = MAX_DEPTH) -> bool:
    """Whether arrays and objects nest more than ``limit`` levels in ``value``: checked
    level by level, without recursion, at a cost that grows with the containers."""
    level: list[Container] = [value] if isinstance(value, (dict, list)) else []
    for _ in range(limit):
        if not level:
            return False
        below: list[Container] = []
        for node in level:
            items = node.values() if isinstance(node, dict) else node
            below.extend([item for item in items if isinstance(item, (dict, list))])
        level = below
    return bool(level)
