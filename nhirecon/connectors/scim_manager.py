"""A SCIM user's manager read as the manager's email address, as other systems name them.

The enterprise extension's ``manager.value`` is "the id of the SCIM resource representing
the User's manager" (RFC 7643 §4.3): an opaque id the service assigned. An HR export names
a manager by address, so an id compared with it would differ for every account that has a
manager. When the manager is used (compared, correlated on, or mapped explicitly; a
filter on it is then refused, see :func:`wanted`), the id is read as the address of the
user it names: that user's primary ``emails`` value, else its only one. An id no user of
the listing has is looked up (``GET /Users/{id}``, live services only); a value that names
no user (see :func:`look_up`), or a user with no address, or several and none primary,
stays the value the service gave, as LDAP keeps a manager's DN when it has no ``mail``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, Final

from nhirecon.connectors.context import ConnectorContext
from nhirecon.connectors.scim_client import ScimClient
from nhirecon.connectors.scim_schema import ENTERPRISE_USER
from nhirecon.errors import ConfigError

MANAGER_ID: Final = f"{ENTERPRISE_USER}:manager.value"
"""The path of the manager's id (RFC 7643 §4.3)."""

_EXTENSION: Final = ENTERPRISE_USER.casefold()


def wanted(context: ConnectorContext, defaults: Mapping[str, str]) -> bool:
    """Whether a field reads the manager's id and is used: mapped to it explicitly in
    ``map``, or by ``defaults`` for a field compared or correlated on (every field when
    what correlation reads is not known). A filter (``where``, ``where_not``) alone does not
    make it used: its values were written for the ids the service gives. Attribute names
    and schema URNs are case-insensitive (RFC 7643 §2.1).

    Raises :class:`~nhirecon.errors.ConfigError` when it is used and a filter names it (the
    field or its raw path): the filter would see addresses where it was written for ids,
    and silently stop excluding (or start excluding) what it did."""
    field_map = context.field_map
    options = context.value_options
    correlated = defaults.keys() if context.correlated is None else context.correlated
    used = {*context.compared, *correlated}

    def is_manager(path: str | tuple[str, ...]) -> bool:
        paths = (path,) if isinstance(path, str) else path
        return any(one.casefold() == MANAGER_ID.casefold() for one in paths)

    def reads_manager(field: str) -> bool:
        return is_manager(field_map[field] if field in field_map else defaults.get(field, ""))

    explicit = any(is_manager(path) for path in field_map.values())
    if not explicit and not any(reads_manager(field) for field in used):
        return False
    for option in ("where", "where_not"):
        for key in getattr(options, option):
            if is_manager(key) or reads_manager(key):
                raise ConfigError(
                    f"filters on {key!r}, which reads the manager's id as the manager's"
                    " address while the manager is compared, correlated on or mapped: a"
                    " filter written for ids would no longer match; leave the manager out"
                    " of the filter, or out of compare, correlate and map",
                    key=context.option_key(option),
                )
    return True


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
    primary: dict[str, str] = {}
    distinct: dict[str, str] = {}  # one address written twice is one address
    for value, is_primary in found:
        distinct.setdefault(value.casefold(), value)
        if is_primary:
            primary.setdefault(value.casefold(), value)
    if len(primary) == 1:
        return next(iter(primary.values()))
    return next(iter(distinct.values())) if len(distinct) == 1 and not primary else None


def addresses(resources: Iterable[Mapping[str, Any]]) -> dict[str, str | None]:
    """User id → :func:`address`, for every resource with an id (a number as its text)."""
    return {
        str(resource["id"]): address(resource)
        for resource in resources
        if isinstance(resource, Mapping) and type(resource.get("id")) in (str, int)
    }


def readable(user_id: str) -> bool:
    """Whether an id can be read alone at ``/Users/{id}``: not ``.`` or ``..`` (which a
    URL resolves to another path, RFC 3986 §5.2.4), and text a URL can carry (no lone
    surrogate). An id that cannot is no user's, and stays as the service gave it."""
    if user_id in (".", ".."):
        return False
    try:
        user_id.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


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
    that names no user: one that is not :func:`readable`, or answered 404, or 400 (a
    service that refuses an id of the wrong form, as one whose ``manager.value`` holds an
    address rather than an id).

    Raises :class:`~nhirecon.errors.ConnectorError` for any other answer, or a 200 that is
    not the user asked for."""
    wanted_ids = sorted(set(ids))
    with ThreadPoolExecutor(max_workers=max(1, max_workers)) as pool:
        found = pool.map(partial(_read_alone, client), wanted_ids)
        return dict(zip(wanted_ids, found, strict=True))


def _read_alone(client: ScimClient, user_id: str) -> str | None:
    if not readable(user_id):
        return None
    user = client.read_alone(client.resource_type, user_id, ASK_FOR_EMAILS, missing=(400, 404))
    return None if user is None else address(user)


ASK_FOR_EMAILS: Final = "attributes=emails"
"""The query that asks for a user's addresses; ``id`` comes with them (RFC 7643 §7)."""
