"""SCIM 2.0 resources (RFC 7643) as raw rows: attribute paths and the default mapping.

Shared by the live ``scim`` connector and by saved ``ListResponse`` files.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from nhirecon.model import Origin

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


def resolve(resource: Mapping[str, Any], path: str) -> object:
    """The value at a SCIM attribute path, or ``None``.

    Supports ``attr``, ``attr.sub``, schema-qualified ``urn:…:attr.sub`` and a simple value
    filter ``attr[type eq "work"].value``. Attribute names are case-insensitive. A complex
    multi-valued attribute named alone (``emails``) gives the primary (else first) ``value``.
    """
    node: object = resource
    if path.startswith("urn:"):
        schema, _, path = path.rpartition(":")
        node = _get(resource, schema)
    for part in path.split("."):
        if node is None:
            return None
        match = _FILTER.match(part)
        if match:
            node = _select(_get(node, match["attr"]), match["sub"], match["value"])
        elif isinstance(node, list):
            node = [_get(item, part) for item in node if isinstance(item, Mapping)]
        else:
            node = _get(node, part)
    if isinstance(node, list) and node and all(isinstance(item, Mapping) for item in node):
        chosen = next((item for item in node if item.get("primary") is True), node[0])
        return chosen.get("value")
    return node


def _get(node: object, name: str) -> object:
    if not isinstance(node, Mapping):
        return None
    if name in node:
        return node[name]
    folded = name.casefold()
    for key, value in node.items():
        if isinstance(key, str) and key.casefold() == folded:
            return value
    return None


def _select(values: object, sub: str, wanted: str) -> object:
    if not isinstance(values, list):
        return None
    expected: object = wanted.strip('"') if wanted.startswith('"') else wanted.lower() == "true"
    for item in values:
        found = _get(item, sub)
        if isinstance(found, str) and isinstance(expected, str):
            if found.casefold() == expected.casefold():
                return item
        elif found == expected:
            return item
    return None
