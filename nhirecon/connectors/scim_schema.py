"""SCIM 2.0 resources (RFC 7643) as raw rows: attribute paths and the default mapping.

Shared by the live ``scim`` connector and by saved ``ListResponse`` files.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any, Final

from nhirecon.connectors import paths
from nhirecon.core.model import Origin

USER_SCHEMA: Final = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE_USER: Final = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
LIST_RESPONSE: Final = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ERROR: Final = "urn:ietf:params:scim:api:messages:2.0:Error"
"""RFC 7644 §3.12: the schema of an error response."""

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


def scim_origin(external_id: str | None) -> Origin:
    """An account with an ``externalId`` was provisioned by a SCIM client; one without was not."""
    return Origin.SCIM if external_id else Origin.JIT


@functools.lru_cache(maxsize=512)
def _compile(path: str) -> tuple[str | None, tuple[paths.Part, ...]]:
    """Split a path once: its schema URN (if any) and its steps, names case-folded."""
    schema = None
    if path.startswith("urn:"):  # the attribute follows the URN's last colon
        head, bracket, tail = path.partition("[")
        schema, _, attribute = head.rpartition(":")
        schema, path = schema.casefold(), attribute + bracket + tail
    parts = paths.compile_path(path, fold=True)
    if parts is None:  # not a path: one attribute name, as written
        parts = ((paths.NAME, path.casefold(), ""),)
    return schema, parts


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
    """Reads SCIM attribute paths from one resource: each call gives the value at a path,
    or ``None``.

    Supports ``attr``, ``attr.sub``, schema-qualified ``urn:…:attr.sub``, a value filter
    ``attr[type eq "work"].value`` (or ``attr[type=work].value``) and an index ``attr[0]``
    (see :mod:`nhirecon.connectors.paths`). Attribute names are case-insensitive. A
    multi-valued attribute comes back whole (``emails``: every item): the field mapping
    reads each item's ``value``, so no value is picked by its place in the list.
    """
    folded = fold_keys(resource)
    return lambda path: _resolve(folded, path)


def _resolve(folded: dict[str, Any], path: str) -> object:
    schema, parts = _compile(path)
    node: object = folded if schema is None else folded.get(schema)
    return paths.walk(node, parts)


def attribute(node: object, name: str) -> Any:
    """``node[name]``, the name matched ignoring case (RFC 7643 §2.1); ``None`` when
    absent, or when ``node`` is not an object."""
    if not isinstance(node, Mapping):
        return None
    if name in node:
        return node[name]
    folded = name.casefold()
    for key, value in node.items():
        if isinstance(key, str) and key.casefold() == folded:
            return value
    return None
