"""SCIM 2.0 resources (RFC 7643) as raw rows: attribute paths and the default mapping.

Shared by the live ``scim`` connector and by saved ``ListResponse`` files.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from typing import Any, Final

from nhirecon.core.model import Origin

USER_SCHEMA: Final = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE_USER: Final = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
LIST_RESPONSE: Final = "urn:ietf:params:scim:api:messages:2.0:ListResponse"

DEFAULT_MAP: Final[Mapping[str, str]] = {
    "id": "id",
    "external_id": "externalId",
    "username": "userName",
    "email": "emails",
    "display_name": "displayName",
    "active": "active",
    "title": "title",
    "department": f"{ENTERPRISE_USER}:department",
    "manager": f"{ENTERPRISE_USER}:manager.value",
    "groups": "groups.display",
    "created_at": "meta.created",
    "version": "meta.version",
    "last_modified": "meta.lastModified",
}
"""Canonical field → SCIM attribute path; ``map:`` adds to and overrides it."""

_FILTER = re.compile(
    r'^(?P<attr>[^\[]+)\[(?P<sub>\w+)\s+eq\s+(?P<value>"[^"]*"|true|false)\]$', re.I
)


def scim_origin(external_id: str | None) -> Origin:
    """An account with an ``externalId`` was provisioned by a SCIM client; one without was not."""
    return Origin.SCIM if external_id else Origin.JIT


Step = tuple[str, str | None, object]
"""One part of a path, case-folded: the attribute, and for a filter its sub-attribute and
the wanted value."""


@functools.lru_cache(maxsize=512)
def _compile(path: str) -> tuple[str | None, tuple[Step, ...]]:
    """Split a path once: its schema URN (if any) and its steps, names case-folded."""
    schema = None
    if path.startswith("urn:"):
        schema, _, path = path.rpartition(":")
        schema = schema.casefold()
    steps: list[Step] = []
    for part in path.split("."):
        match = _FILTER.match(part)
        if match:
            raw = match["value"]
            wanted: object = raw.strip('"') if raw.startswith('"') else raw.lower() == "true"
            steps.append((match["attr"].casefold(), match["sub"].casefold(), wanted))
        else:
            steps.append((part.casefold(), None, None))
    return schema, tuple(steps)


def fold_keys(value: Any) -> Any:
    """A copy of a JSON value whose object keys are case-folded: SCIM attribute names are
    case-insensitive (RFC 7643 §2.1), and folding once makes every look-up a plain get."""
    kind = type(value)
    if kind is dict:
        return {
            key.casefold() if type(key) is str else key: (
                fold_keys(item) if type(item) in _CONTAINERS else item
            )
            for key, item in value.items()
        }
    if kind is list:
        return [fold_keys(item) if type(item) in _CONTAINERS else item for item in value]
    return value


_CONTAINERS: Final = (dict, list)


def lookup(resource: Mapping[str, Any]) -> Callable[[str], object]:
    """Reads SCIM attribute paths from one resource (see :func:`resolve`)."""
    folded = fold_keys(resource)
    return lambda path: _resolve(folded, path)


def resolve(resource: Mapping[str, Any], path: str) -> object:
    """The value at a SCIM attribute path, or ``None``.

    Supports ``attr``, ``attr.sub``, schema-qualified ``urn:…:attr.sub`` and a simple value
    filter ``attr[type eq "work"].value``. Attribute names are case-insensitive. A complex
    multi-valued attribute named alone (``emails``) gives the primary (else first) ``value``.
    """
    return _resolve(fold_keys(resource), path)


def _resolve(folded: dict[str, Any], path: str) -> object:
    schema, steps = _compile(path)
    node: object = folded if schema is None else folded.get(schema)
    for name, sub, wanted in steps:
        if node is None:
            return None
        if sub is not None:
            node = _select(_get(node, name), sub, wanted)
        elif isinstance(node, list):
            node = [item.get(name) for item in node if isinstance(item, dict)]
        else:
            node = _get(node, name)
    if isinstance(node, list) and node and all(isinstance(item, dict) for item in node):
        chosen = next((item for item in node if item.get("primary") is True), node[0])
        return chosen.get("value")
    return node


def _get(node: object, name: str) -> object:
    return node.get(name) if isinstance(node, dict) else None


def _select(values: object, sub: str, expected: object) -> object:
    if not isinstance(values, list):
        return None
    for item in values:
        found = _get(item, sub)
        if isinstance(found, str) and isinstance(expected, str):
            if found.casefold() == expected.casefold():
                return item
        elif found == expected:
            return item
    return None
