"""A SCIM user's manager read as the manager's email address, as other systems name them.

The enterprise extension's ``manager.value`` is "the id of the SCIM resource representing
the User's manager" (RFC 7643 §4.3): an opaque id the service assigned. An HR export names
a manager by address, so an id compared with it would differ for every account that has a
manager. When the manager is used (compared, correlated on, filtered on or mapped
explicitly), the id is read as the address of the user it names: that user's primary
``emails`` value, else its only one. An id no user of the listing has is looked up
(``GET /Users/{id}``, live services only); an id that names no user (404), or a user with
no address, or several and none primary, stays the value the service gave, as LDAP keeps a
manager's DN when it has no ``mail``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, Final

from nhirecon.connectors.context import ConnectorContext
from nhirecon.connectors.scim_client import ScimClient
from nhirecon.connectors.scim_schema import ENTERPRISE_USER

MANAGER_ID: Final = f"{ENTERPRISE_USER}:manager.value"
"""The path of the manager's id (RFC 7643 §4.3)."""

_EXTENSION: Final = ENTERPRISE_USER.casefold()


def wanted(context: ConnectorContext, defaults: Mapping[str, str]) -> bool:
    """Whether a field reads the manager's id and is used: mapped to it explicitly in
    ``map``, or by ``defaults`` for a field compared, correlated on or filtered on (every
    field when what correlation reads is not known). Attribute names and schema URNs are
    case-insensitive (RFC 7643 §2.1)."""
    field_map = context.field_map
    options = context.value_options
    correlated = defaults.keys() if context.correlated is None else context.correlated
    used = {*context.compared, *correlated, *options.where, *options.where_not}

    def is_manager(path: str | tuple[str, ...]) -> bool:
        paths = (path,) if isinstance(path, str) else path
        return any(one.casefold() == MANAGER_ID.casefold() for one in paths)

    if any(is_manager(path) for path in field_map.values()):
        return True
    return any(field not in field_map and is_manager(defaults.get(field, "")) for field in used)


def manager_id(resource: Mapping[str, Any]) -> str | None:
    """The id a user resource gives for its manager, or ``None``."""
    manager = _member(_member(resource, _EXTENSION), "manager")
    value = _member(manager, "value")
    return value if isinstance(value, str) and value else None


def address(resource: Mapping[str, Any]) -> str | None:
    """A user's address: the ``emails`` value marked ``primary``, else the only one;
    ``None`` when it has none, or several and none primary (no address is picked by its
    place in the list: RFC 7643 §2.4 gives a multi-valued attribute no order)."""
    emails = _member(resource, "emails")
    if not isinstance(emails, list):
        return None
    values = [
        (_member(item, "value"), _member(item, "primary") is True)
        for item in emails
        if isinstance(item, Mapping)
    ]
    found = [(value, primary) for value, primary in values if isinstance(value, str) and value]
    primary = [value for value, is_primary in found if is_primary]
    if len(primary) == 1:
        return str(primary[0])
    return str(found[0][0]) if len(found) == 1 else None


def addresses(resources: Iterable[Mapping[str, Any]]) -> dict[str, str | None]:
    """User id → :func:`address`, for every resource with an id."""
    return {
        resource["id"]: address(resource)
        for resource in resources
        if isinstance(resource, Mapping) and isinstance(resource.get("id"), str)
    }


def resolved(resource: Mapping[str, Any], known: Mapping[str, str | None]) -> Mapping[str, Any]:
    """The resource with its manager's id read as the address ``known`` gives for it
    (user id → address); unchanged when the id is not known or has no address."""
    manager = manager_id(resource)
    mail = known.get(manager) if manager is not None else None
    return resource if mail is None else _with_address(resource, mail)


def _with_address(resource: Mapping[str, Any], mail: str) -> Mapping[str, Any]:
    """A copy of the resource with its manager's id replaced by ``mail``; the resource
    itself is left as it was."""
    copy = dict(resource)
    for key, extension in resource.items():
        if key.casefold() != _EXTENSION or not isinstance(extension, Mapping):
            continue
        copy[key] = extension = dict(extension)
        for name, manager in extension.items():
            if name.casefold() == "manager" and isinstance(manager, Mapping):
                extension[name] = {
                    sub: mail if sub.casefold() == "value" else value
                    for sub, value in manager.items()
                }
    return copy


def _member(node: object, name: str) -> Any:
    """The member of a JSON object whose name case-folds to ``name`` (``None``: none)."""
    found = None
    if isinstance(node, Mapping):
        for key, value in node.items():  # the last, as the mapping's look-up reads it
            if isinstance(key, str) and key.casefold() == name:
                found = value
    return found


def look_up(
    client: ScimClient, ids: Iterable[str], *, max_workers: int = 1
) -> dict[str, str | None]:
    """User id → :func:`address`, each user read alone (``GET /Users/{id}?attributes=
    emails``, RFC 7644 §3.4.1 and §3.4.2.5; ``max_workers`` at a time); ``None`` for an id
    that names no user (404).

    Raises :class:`~nhirecon.errors.ConnectorError` for an answer other than 200 or 404,
    or a 200 that is not the user asked for."""
    wanted_ids = sorted(set(ids))
    with ThreadPoolExecutor(max_workers=max(1, max_workers)) as pool:
        found = pool.map(partial(_read_alone, client), wanted_ids)
        return dict(zip(wanted_ids, found, strict=True))


def _read_alone(client: ScimClient, user_id: str) -> str | None:
    user = client.read_alone(client.resource_type, user_id, ASK_FOR_EMAILS)
    return None if user is None else address(user)


ASK_FOR_EMAILS: Final = "attributes=emails"
"""The query that asks for a user's addresses; ``id`` comes with them (RFC 7643 §7)."""
