"""Users of the Admin SDK Directory API as Google documents them: the default mapping, a
user as it is read (:func:`user_view`) and one page of ``users.list`` checked. Pure: no
network (:mod:`nhirecon.connectors.google` sends the requests; Google's error body is read
by :mod:`nhirecon.http.google_errors`).

Shapes from the Directory API reference: the ``users`` resource (``primaryEmail``,
``name.fullName``, ``emails[].address``, ``aliases``, ``organizations[]``,
``relations[]``, ``externalIds[]``, ``suspended``, ``archived``, ``lastLoginTime``,
``creationTime``) and ``users.list`` (``users``, ``nextPageToken``; ``maxResults`` 1 to
500).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

from nhirecon.errors import ConnectorError, DataError

USERS_PATH: Final = "/admin/directory/v1/users"
SCOPE: Final = "https://www.googleapis.com/auth/admin.directory.user.readonly"
MAX_PAGE: Final = 500
"""``maxResults`` of ``users.list``: 1 to 500 (the Directory API discovery document)."""
NEVER: Final = datetime(1970, 1, 1, tzinfo=UTC)
"""Google's ``lastLoginTime`` for a user who never signed in: ``1970-01-01T00:00:00.000Z``."""
ACTIVE: Final = "active"
STATUS: Final = "accountStatus"
ALL_EMAILS: Final = "allEmails"
PRIMARY_ORGANIZATION: Final = "primaryOrganization"

DEFAULT_MAP: Final[Mapping[str, str]] = {
    "id": "id",
    "external_id": "externalIds[type=organization].value",
    "username": "primaryEmail",
    "email": ALL_EMAILS,
    "display_name": "name.fullName",
    "active": ACTIVE,
    "status": STATUS,
    "department": f"{PRIMARY_ORGANIZATION}.department",
    "title": f"{PRIMARY_ORGANIZATION}.title",
    "manager": "relations[type=manager].value",
    "created_at": "creationTime",
    "last_login_at": "lastLoginTime",
}
"""Canonical field → path in a user (with the names :func:`user_view` adds); ``map:`` adds
to and overrides it."""


def user_view(user: Mapping[str, Any], location: str) -> dict[str, Any]:
    """A user as Google sends it, with the "never" of ``lastLoginTime`` as ``null`` (the
    field still exists: the user never signed in) and four names added:

    - ``active``: neither ``suspended`` nor ``archived`` (an archived user cannot sign in);
    - ``accountStatus``: ``archived``, ``suspended`` or ``active``, so that a Google source
      tells its leavers (``active_status`` is ``[active]`` by default);
    - ``allEmails``: every address of the account, ``primaryEmail`` first (it is the one
      shown), then ``emails[].address``, ``aliases`` and ``nonEditableAliases``;
    - ``primaryOrganization``: the one entry of ``organizations``, or the one flagged
      ``primary``; else all of them, so that a field read from it holds several values
      (an error for a field of one value) rather than one picked by its place.
    """
    view = dict(user)
    if _never(view.get("lastLoginTime")):
        view["lastLoginTime"] = None
    suspended, archived = user.get("suspended"), user.get("archived", False)
    for name, value in (("suspended", suspended), ("archived", archived)):
        if not isinstance(value, bool):
            raise DataError(
                f"{location}: `{name}` is {value!r}, not true or false: cannot tell whether"
                " the account is active"
            )
    view[ACTIVE] = not (suspended or archived)
    view[STATUS] = "archived" if archived else "suspended" if suspended else "active"
    view[ALL_EMAILS] = _addresses(user)
    view[PRIMARY_ORGANIZATION] = _primary_organization(user.get("organizations"))
    return view


def _never(value: object) -> bool:
    if not isinstance(value, str) or not value.startswith("1970-01-01"):
        return False
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return False
    return moment.tzinfo is not None and moment == NEVER


def _addresses(user: Mapping[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    primary = user.get("primaryEmail")
    if isinstance(primary, str) and primary.strip():
        found.append({"value": primary, "primary": True})
    emails = user.get("emails")
    for item in emails if isinstance(emails, list) else ():
        if isinstance(item, Mapping) and isinstance(item.get("address"), str):
            found.append({"value": item["address"]})
    for name in ("aliases", "nonEditableAliases"):
        listed = user.get(name)
        found.extend({"value": alias} for alias in listed or () if isinstance(alias, str))
    return found


def _primary_organization(organizations: object) -> object:
    if not isinstance(organizations, list):
        return None
    entries = [entry for entry in organizations if isinstance(entry, Mapping)]
    flagged = [entry for entry in entries if entry.get("primary") is True]
    if len(entries) == 1:
        return entries[0]
    if len(flagged) == 1:
        return flagged[0]
    return entries or None


def page_users(data: object, url: str, page_size: int) -> list[Mapping[str, Any]]:
    """The users of one page of ``users.list``, checked: an object whose ``users`` (absent
    on an empty page) is a list of users with an ``id``, no more of them than asked for."""
    if not isinstance(data, dict):
        raise ConnectorError(f"GET {url}: the answer is not a users listing (a JSON object)")
    users = data.get("users", [])
    if not isinstance(users, list):
        raise ConnectorError(f"GET {url}: `users` is not a list")
    if len(users) > page_size:
        raise ConnectorError(
            f"GET {url}: {len(users)} users on a page of at most {page_size} (maxResults):"
            " the listing cannot be trusted to be complete; refused"
        )
    for index, user in enumerate(users):
        if not isinstance(user, dict) or not isinstance(user.get("id"), str) or not user["id"]:
            raise ConnectorError(f"GET {url}: users[{index}] has no `id`")
    return users
