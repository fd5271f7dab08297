"""SCIM 2.0 writes as pure data: where a write may go, what it sends, and how its answer and
the account read back after it are judged.

Every write URL is built from the target's base URL and the planned account id,
percent-encoded; never from a URL, ``id`` or ``meta.location`` found in a response. An id
that cannot name one resource safely (empty, ``.``, ``..``, a control character) is refused
before any request is built.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from http import HTTPStatus
from typing import Any, Final
from urllib.parse import quote

from nhirecon.connectors.scim_schema import USER_SCHEMA, attribute
from nhirecon.core.ids import id_problem
from nhirecon.errors import ConnectorError

PATCH_OP: Final = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ENTERPRISE_USER: Final = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

READ_ONLY: Final[Mapping[str, frozenset[str]]] = {
    "": frozenset({"id", "meta", "groups"}),
    ENTERPRISE_USER: frozenset(),
}
"""Attributes RFC 7643 defines as ``readOnly`` (§3.1 ``id``, §3.1 ``meta``, §4.1.2
``groups``), by schema (``""`` for the core resource), used when the service publishes no
``/Schemas``."""
READ_ONLY_SUB: Final[Mapping[str, frozenset[str]]] = {"manager": frozenset({"displayName"})}
"""Read-only sub-attributes of complex attributes (RFC 7643 §4.3: ``manager.displayName``)."""

PATH_PROBLEMS: Final = frozenset({"invalidpath", "notarget", "invalidsyntax"})
"""``scimType`` values (RFC 7644 §3.12, table 9) by which a 400 says the PATCH path itself
is what the service refuses."""


class PatchForm(StrEnum):
    """The two shapes of a PATCH that sets ``active`` (RFC 7644 §3.5.2.3)."""

    PATH = "path"
    """``{"op": "replace", "path": "active", "value": false}``"""
    VALUE = "value"
    """``{"op": "replace", "value": {"active": false}}``: the path-less form."""

    @property
    def other(self) -> PatchForm:
        return PatchForm.VALUE if self is PatchForm.PATH else PatchForm.PATH


class AccountState(StrEnum):
    ACTIVE = "active"
    DISABLED = "disabled"
    GONE = "gone"


@dataclass(frozen=True)
class LiveAccount:
    """An account as the service holds it right now."""

    state: AccountState
    version: str | None = None
    """``meta.version`` (else the ``ETag`` header) exactly as the service gave it."""
    resource: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class WriteResult:
    """How a write went: the HTTP status and, when it failed, why."""

    status: int
    ok: bool
    detail: str = ""


@dataclass(frozen=True)
class Write:
    """One write, before it is sent: pure data."""

    method: str
    path: str
    """Relative to the service's base URL, starting with ``/``."""
    body: Mapping[str, Any] | None = None
    headers: Mapping[str, str] | None = None


class UnsafeId(ConnectorError):
    """An account id that cannot name one resource in a URL path."""


def resource_path(resource_type: str, resource_id: str) -> str:
    """``/Users/<id>`` with the id percent-encoded as one path segment; refuses an id that
    :func:`id_problem` rejects (raises :class:`UnsafeId`)."""
    problem = id_problem(resource_id)
    if problem:
        raise UnsafeId(f"refusing to write: {problem}")
    return f"/{resource_type}/{quote(resource_id, safe='')}"


def _if_match(version: str | None) -> dict[str, str]:
    return {"If-Match": version} if version else {}


def disable_patch(
    resource_type: str, resource_id: str, version: str | None, form: PatchForm = PatchForm.PATH
) -> Write:
    """§3.5.2.3: ``replace`` of ``active`` with ``false`` in either form; ``If-Match`` when a
    version is known."""
    operation: dict[str, Any] = (
        {"op": "replace", "path": "active", "value": False}
        if form is PatchForm.PATH
        else {"op": "replace", "value": {"active": False}}
    )
    body = {"schemas": [PATCH_OP], "Operations": [operation]}
    return Write(
        "PATCH", resource_path(resource_type, resource_id), body, _if_match(version) or None
    )


def disable_put(
    resource_type: str,
    resource_id: str,
    resource: Mapping[str, Any],
    version: str | None,
    read_only: Mapping[str, frozenset[str]] = READ_ONLY,
) -> Write:
    """§3.5.1: the resource as read, without its read-only attributes, with ``active: false``,
    to the planned account's URL (never the ``id`` in the body read)."""
    body = writable(resource, read_only)
    active_key = next((key for key in body if key.casefold() == "active"), "active")
    body[active_key] = False
    return Write("PUT", resource_path(resource_type, resource_id), body, _if_match(version) or None)


def delete_request(resource_type: str, resource_id: str, version: str | None) -> Write:
    """§3.6: delete a resource."""
    return Write(
        "DELETE", resource_path(resource_type, resource_id), None, _if_match(version) or None
    )


def writable(
    resource: Mapping[str, Any], read_only: Mapping[str, frozenset[str]] = READ_ONLY
) -> dict[str, Any]:
    """The attributes of ``resource`` a PUT may send back: those of the core schema and of
    each extension (keyed by its URN, RFC 7643 §3.3) that are not ``readOnly``.

    ``read_only`` maps a schema URN (``""`` for the core) to its read-only attribute names,
    compared case-insensitively (RFC 7643 §2.1).
    """
    core = {name.casefold() for name in read_only.get("", frozenset())}
    body: dict[str, Any] = {}
    for key, value in resource.items():
        if key.casefold() in core:
            continue
        if key.startswith("urn:") and isinstance(value, Mapping):
            hidden = {name.casefold() for name in read_only.get(key, frozenset())}
            body[key] = {
                name: _without_read_only_sub(name, item)
                for name, item in value.items()
                if name.casefold() not in hidden
            }
            continue
        body[key] = _without_read_only_sub(key, value)
    return body


def _without_read_only_sub(name: str, value: Any) -> Any:
    hidden = READ_ONLY_SUB.get(name)
    if hidden and isinstance(value, Mapping):
        return {key: item for key, item in value.items() if key not in hidden}
    return value


def read_only_from_schemas(data: Any) -> dict[str, frozenset[str]] | None:
    """Read-only attribute names per schema from a ``/Schemas`` answer (RFC 7644 §4, RFC 7643
    §7: each attribute's ``mutability``); ``None`` when the answer says nothing usable.

    The core User schema's names go under ``""``; each other schema under its URN.
    """
    schemas: Iterable[Any]
    if isinstance(data, Mapping) and isinstance(data.get("Resources"), list):
        schemas = data["Resources"]
    elif isinstance(data, list):
        schemas = data
    else:
        return None
    found: dict[str, frozenset[str]] = {}
    for schema in schemas:
        if not isinstance(schema, Mapping) or not isinstance(schema.get("id"), str):
            continue
        attributes = schema.get("attributes")
        if not isinstance(attributes, list):
            continue
        names = frozenset(
            str(attribute["name"])
            for attribute in attributes
            if isinstance(attribute, Mapping)
            and isinstance(attribute.get("name"), str)
            and attribute.get("mutability") == "readOnly"
        )
        key = "" if schema["id"] == USER_SCHEMA else str(schema["id"])
        found[key] = names
    if "" not in found:
        return None
    # id and meta are common attributes (RFC 7643 §3.1), not listed in a resource's schema.
    found[""] = found[""] | READ_ONLY[""]
    return found


def account_state(resource: Mapping[str, Any]) -> AccountState:
    """Active unless ``active`` is false (§4.1.1: absent means the service does not say)."""
    active = next((value for key, value in resource.items() if key.casefold() == "active"), True)
    if active is False or (isinstance(active, str) and active.strip().casefold() == "false"):
        return AccountState.DISABLED
    return AccountState.ACTIVE


def resource_version(resource: Mapping[str, Any], etag: str | None) -> str | None:
    """``meta.version`` of a resource, else the ``ETag`` header (RFC 7644 §3.14), as given;
    its names read case-insensitively (RFC 7643 §2.1), as the mapping reads them, and a
    number as its text."""
    meta = attribute(resource, "meta")
    version = attribute(meta, "version") if isinstance(meta, Mapping) else None
    if isinstance(version, str):
        return version
    if isinstance(version, int) and not isinstance(version, bool):
        return str(version)
    return etag


def opaque_tag(version: str | None) -> str | None:
    """An entity tag without its weakness marker (RFC 9110 §8.8.3: ``W/"3"`` → ``"3"``)."""
    if version is None:
        return None
    tag = version.strip()
    return tag[2:] if tag[:2] in ("W/", "w/") else tag


def same_version(first: str | None, second: str | None) -> bool:
    """Whether two versions are the same by the weak comparison of RFC 9110 §8.8.3.2: the
    opaque tags match, whether either is marked weak. ``None`` matches nothing."""
    if first is None or second is None:
        return False
    return opaque_tag(first) == opaque_tag(second)


def says_path_problem(status: int, body: Any, detail: str) -> bool:
    """Whether a refused PATCH was refused for its form: a 400 whose ``scimType`` (RFC 7644
    §3.12) or detail points at the path."""
    if status != HTTPStatus.BAD_REQUEST:
        return False
    if isinstance(body, Mapping):
        scim_type = body.get("scimType")
        if isinstance(scim_type, str) and scim_type.casefold() in PATH_PROBLEMS:
            return True
    return "path" in detail.casefold()
