"""What the ``entra`` connector reads of each kind of Microsoft Graph object, as pure data.

For ``users``, ``service_principals`` and ``applications``: the collection's path under
``/v1.0``, the properties always asked for (``$select``), the largest page Graph serves,
the default mapping to canonical fields, and the values nhirecon computes from an object
(its ``nhirecon.*`` names: the latest sign-in, a status word, the kind, one owner, when the
credentials expire and when they were last rotated). Nothing here touches the network.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from nhirecon.connectors import dates
from nhirecon.core.values import ValueError_
from nhirecon.errors import DataError

DERIVED: Final = "nhirecon."
"""The prefix of the names nhirecon computes from an object (never a Graph property)."""
LAST_SIGN_IN: Final = "nhirecon.lastSignIn"
STATUS: Final = "nhirecon.status"
KIND: Final = "nhirecon.kind"
OWNER: Final = "nhirecon.owner"
OWNERS: Final = "nhirecon.owners"
CREDENTIALS_EXPIRE: Final = "nhirecon.credentialsExpire"
CREDENTIAL_ROTATED: Final = "nhirecon.credentialRotated"

SIGN_IN_ACTIVITY: Final = "signInActivity"
SIGN_INS: Final = ("lastSignInDateTime", "lastNonInteractiveSignInDateTime")
"""The sign-in dates whose latest is ``last_login_at``: interactive and non-interactive, as
Microsoft's guidance on inactive accounts reads them together."""
CREDENTIALS: Final = ("passwordCredentials", "keyCredentials")
OWNERS_NAVIGATION: Final = "owners"
EXPANDED_OWNERS_CAP: Final = 20
"""``$expand`` on a directory object returns at most 20 related objects, with no next link:
an object showing this many owners is asked for the whole list (``/{id}/owners``)."""
USER_TYPE: Final = "#microsoft.graph.user"
MANAGED_IDENTITY: Final = "ManagedIdentity"
USERS_PAGE: Final = 999
"""The largest ``$top`` of ``/users`` (Graph refuses 1000)."""
SIGN_IN_PAGE: Final = 500
"""The largest page of ``/users`` when ``signInActivity`` is selected (Graph serves at most
500 then, whatever ``$top`` says)."""
_PROPERTY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

Derive = Callable[[Mapping[str, Any], str, datetime], dict[str, object]]
"""The ``nhirecon.*`` values of an object: (the object, its location, the run's instant)."""
"""An object and where it was read → its ``nhirecon.*`` values."""


@dataclass(frozen=True)
class ObjectType:
    """One collection the connector can read."""

    option: str
    """The ``objects:`` word."""
    path: str
    """The collection under ``/v1.0``."""
    label: str
    select: tuple[str, ...]
    """Properties always asked for; ``map`` and ``where`` add the ones they name."""
    default_map: Mapping[str, str]
    derive: Derive
    sources: Mapping[str, tuple[str, ...]]
    """Each ``nhirecon.*`` name → the Graph properties it is computed from."""
    navigation: frozenset[str] = frozenset()
    """Relationships that are ``$expand``-ed rather than selected."""
    expand_owners: bool = False
    permissions: str = ""
    """The application permissions a listing needs, for messages."""
    max_page: int = USERS_PAGE

    def select_for(self, names: Iterable[str], *, sign_ins: bool) -> tuple[list[str], list[str]]:
        """The ``$select`` and ``$expand`` lists for a listing whose mapping and filters name
        ``names`` (Graph paths or ``nhirecon.*`` names), sorted so requests are stable."""
        selected = set(self.select)
        expanded = {OWNERS_NAVIGATION} if self.expand_owners else set()
        if sign_ins:
            selected.add(SIGN_IN_ACTIVITY)
        for name in names:
            for source in self.sources.get(name, ()) if name.startswith(DERIVED) else (name,):
                found = _PROPERTY.match(source)
                if found is None:
                    continue
                head = found.group()
                (expanded if head in self.navigation else selected).add(head)
        return sorted(selected), sorted(expanded)


_DATE: Final = dates.date_reader("iso", UTC)
"""Graph's timestamps: ISO 8601 in UTC; ``0001-01-01T00:00:00Z`` and empty mean never."""


def _date(raw: object, where: str, name: str) -> datetime | None:
    try:
        moment: datetime | None = _DATE(raw)
        return moment
    except ValueError_ as exc:
        raise DataError(f"{where}: {name}: {exc}") from None


def latest_sign_in(item: Mapping[str, Any], where: str) -> datetime | None:
    """The latest of the interactive and non-interactive sign-ins; ``None`` when there is no
    ``signInActivity`` (a user who never signed in) or it holds only "never"."""
    activity = item.get(SIGN_IN_ACTIVITY)
    if not isinstance(activity, Mapping):
        return None
    found = [_date(activity.get(name), where, f"{SIGN_IN_ACTIVITY}.{name}") for name in SIGN_INS]
    moments = [moment for moment in found if moment is not None]
    return max(moments) if moments else None


def status(item: Mapping[str, Any]) -> str | None:
    """``active`` or ``disabled``, from ``accountEnabled``: a disabled object is not an
    active identity when Entra is the source."""
    enabled = item.get("accountEnabled")
    if not isinstance(enabled, bool):
        return None
    return "active" if enabled else "disabled"


def credential_dates(
    item: Mapping[str, Any], where: str, as_of: datetime
) -> tuple[datetime | None, datetime | None]:
    """When the object's credentials (secrets and certificates) run out, and since when it
    has held the oldest one still valid at ``as_of``: the latest ``endDateTime`` (an
    identity expires when its last credential does), and the earliest ``startDateTime`` of
    the credentials that have not ended by ``as_of`` (one without an ``endDateTime`` has
    not ended). Each credential in the collection is valid from its own start to its own
    end (Microsoft Graph, passwordCredential and keyCredential resource types), so adding a
    secret does not retire an older one: an object whose old secret still works has not
    rotated it. When every credential has ended, the latest ``startDateTime``; ``(None,
    None)`` without credentials."""
    ends: list[datetime] = []
    starts: list[datetime] = []
    valid: list[datetime] = []
    for kind in CREDENTIALS:
        listed = item.get(kind) or []
        if not isinstance(listed, list):
            raise DataError(f"{where}: {kind}: expected a list, got {type(listed).__name__}")
        for index, credential in enumerate(listed):
            if not isinstance(credential, Mapping):
                raise DataError(f"{where}: {kind}[{index}]: expected an object")
            label = f"{kind}[{index}]"
            end = _date(credential.get("endDateTime"), where, f"{label}.endDateTime")
            start = _date(credential.get("startDateTime"), where, f"{label}.startDateTime")
            if end is not None:
                ends.append(end)
            if start is not None:
                starts.append(start)
                if end is None or end > as_of:
                    valid.append(start)
    rotated = min(valid) if valid else max(starts) if starts else None
    return (max(ends) if ends else None, rotated)


def owner_references(owners: Sequence[Mapping[str, Any]]) -> list[str]:
    """Each owner as the source knows it: a user by its ``userPrincipalName`` (its ``id``
    when the app may not read users), any other owner by its ``id``. Users come first, then
    by reference, so the choice of one owner is the same on every run."""
    people: list[str] = []
    others: list[str] = []
    for owner in owners:
        is_user = owner.get("@odata.type") == USER_TYPE
        reference = owner.get("userPrincipalName") if is_user else None
        reference = reference or owner.get("id")
        if isinstance(reference, str) and reference.strip():
            (people if is_user else others).append(reference.strip())
    ordered = sorted(set(people), key=str.casefold) + sorted(set(others), key=str.casefold)
    return list(dict.fromkeys(ordered))


def _owned(item: Mapping[str, Any], where: str, as_of: datetime) -> dict[str, object]:
    owners = item.get(OWNERS_NAVIGATION) or []
    if not isinstance(owners, list) or not all(isinstance(o, Mapping) for o in owners):
        raise DataError(f"{where}: owners: expected a list of directory objects")
    references = owner_references(owners)
    expires, rotated = credential_dates(item, where, as_of)
    return {
        OWNER: references[0] if references else None,
        OWNERS: references,
        CREDENTIALS_EXPIRE: expires,
        CREDENTIAL_ROTATED: rotated,
    }


def _user(item: Mapping[str, Any], where: str, as_of: datetime) -> dict[str, object]:
    derived: dict[str, object] = {STATUS: status(item)}
    if SIGN_IN_ACTIVITY in item:
        derived[LAST_SIGN_IN] = latest_sign_in(item, where)
    return derived


def _service_principal(item: Mapping[str, Any], where: str, as_of: datetime) -> dict[str, object]:
    kind = "workload" if item.get("servicePrincipalType") == MANAGED_IDENTITY else "service_account"
    return {STATUS: status(item), KIND: kind, **_owned(item, where, as_of)}


def _application(item: Mapping[str, Any], where: str, as_of: datetime) -> dict[str, object]:
    return {KIND: "service_account", **_owned(item, where, as_of)}


_OWNED_SOURCES: Final[Mapping[str, tuple[str, ...]]] = {
    OWNER: (OWNERS_NAVIGATION,),
    OWNERS: (OWNERS_NAVIGATION,),
    CREDENTIALS_EXPIRE: CREDENTIALS,
    CREDENTIAL_ROTATED: CREDENTIALS,
}
_NONHUMAN_MAP: Final[Mapping[str, str]] = {
    "id": "id",
    "external_id": "appId",
    "display_name": "displayName",
    "kind": KIND,
    "owner": OWNER,
    "expires_at": CREDENTIALS_EXPIRE,
    "credential_rotated_at": CREDENTIAL_ROTATED,
}

USERS: Final = ObjectType(
    option="users",
    path="users",
    label="users",
    select=(
        "id",
        "userPrincipalName",
        "mail",
        "displayName",
        "accountEnabled",
        "employeeId",
        "department",
        "jobTitle",
        "createdDateTime",
    ),
    default_map={
        "id": "id",
        "external_id": "employeeId",
        "username": "userPrincipalName",
        "email": "mail",
        "display_name": "displayName",
        "active": "accountEnabled",
        "status": STATUS,
        "department": "department",
        "title": "jobTitle",
        "created_at": "createdDateTime",
        "last_login_at": LAST_SIGN_IN,
    },
    derive=_user,
    sources={LAST_SIGN_IN: (SIGN_IN_ACTIVITY,), STATUS: ("accountEnabled",)},
    navigation=frozenset({"manager"}),
    permissions="User.Read.All (and AuditLog.Read.All for signInActivity)",
)
SERVICE_PRINCIPALS: Final = ObjectType(
    option="service_principals",
    path="servicePrincipals",
    label="service principals",
    select=(
        "id",
        "appId",
        "displayName",
        "accountEnabled",
        "servicePrincipalType",
        "passwordCredentials",
        "keyCredentials",
    ),
    default_map={**_NONHUMAN_MAP, "active": "accountEnabled", "status": STATUS},
    derive=_service_principal,
    sources={
        **_OWNED_SOURCES,
        STATUS: ("accountEnabled",),
        KIND: ("servicePrincipalType",),
    },
    navigation=frozenset({OWNERS_NAVIGATION}),
    expand_owners=True,
    permissions="Application.Read.All",
)
APPLICATIONS: Final = ObjectType(
    option="applications",
    path="applications",
    label="applications",
    select=("id", "appId", "displayName", "createdDateTime", *CREDENTIALS),
    default_map={**_NONHUMAN_MAP, "created_at": "createdDateTime"},
    derive=_application,
    sources={**_OWNED_SOURCES, KIND: ()},
    navigation=frozenset({OWNERS_NAVIGATION}),
    expand_owners=True,
    permissions="Application.Read.All",
)
OBJECTS: Final[Mapping[str, ObjectType]] = {
    kind.option: kind for kind in (USERS, SERVICE_PRINCIPALS, APPLICATIONS)
}
