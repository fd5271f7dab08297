"""What the ``github`` connector reads, as GitHub documents it (REST API 2022-11-28 and
GraphQL; the doc pages are named in ``tests/data/github/README.md``), and the settings that
follow from it. Pure: :mod:`nhirecon.connectors.github` sends the requests.

Every record is read as GitHub sends it, with the names nhirecon adds under ``nhirecon.``
(the default mapping reads them): see the ``*_view`` functions.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import replace
from types import MappingProxyType
from typing import Any, Final
from urllib.parse import urlsplit

from nhirecon.connectors.context import ConnectorContext
from nhirecon.core.model import Origin
from nhirecon.errors import ConnectorError, DataError
from nhirecon.http.answers import Response
from nhirecon.http.urls import url_problem

API_URL: Final = "https://api.github.com"
API_VERSION: Final = "2022-11-28"
HEADERS: Final[Mapping[str, str]] = MappingProxyType(
    {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": API_VERSION}
)
MAX_PAGE: Final = 100
"""``per_page`` of every listing, and GraphQL's ``first``: at most 100."""
CREDENTIAL_TYPES: Final = ("fine_grained_pats", "deploy_keys", "app_installations")
ORG_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,38}")
REPO_NAME: Final = re.compile(r"[A-Za-z0-9._-]+")
POSITIVE: Final = ("timeout", "max_response_mb", "max_records")
NOT_NEGATIVE: Final = ("retries", "backoff", "max_retry_wait", "rate_limit_per_minute")
NEEDS: Final[Mapping[str, str]] = {
    "members": '"Members" organization permission (read)',
    "outside_collaborators": '"Members" organization permission (read)',
    "invitations": '"Members" organization permission (read), as an organization owner',
    "fine_grained_pats": 'to be a GitHub App\'s, with "Personal access tokens" (read)',
    "repos": '"Metadata" repository permission (read) on every repository',
    "deploy_keys": '"Administration" repository permission (read) on every repository',
    "app_installations": '"Administration" organization permission (read), as an owner',
}
"""What the token needs for each listing, for the hint of a 403."""
ADDED: Final = "nhirecon"
"""The key under which nhirecon adds its own names to a record."""

CREDENTIAL_FIELDS: Final = (
    *("id", "username", "kind", "owner", "credential_id", "active", "created_at"),
    *("last_login_at", "expires_at", "credential_rotated_at"),
)
"""The canonical fields a credential's ``nhirecon`` object holds, by their own names."""
_USER_MAP: Final = {"id": "id", "username": "login", "display_name": "name"}
DEFAULT_MAPS: Final[Mapping[str, Mapping[str, str]]] = MappingProxyType(
    {
        "members": {**_USER_MAP, "email": f"{ADDED}.sso_emails", "origin": f"{ADDED}.origin"},
        "outside_collaborators": _USER_MAP,
        "invitations": {
            "id": "id",
            "username": "login",
            "email": "email",
            "created_at": "created_at",
            "origin": "invitation_source",
            "last_login_at": f"{ADDED}.accepted_at",
        },
        "credentials": {
            **{name: f"{ADDED}.{name}" for name in CREDENTIAL_FIELDS},
            "display_name": f"{ADDED}.username",
        },
    }
)
"""Canonical field → path in a record, per ``records``; ``map:`` adds to and overrides it."""
NEVER_USED: Final[Mapping[str, str]] = MappingProxyType(
    {"invitations": f"{ADDED}.accepted_at", "credentials": f"{ADDED}.last_login_at"}
)
"""Where ``null`` means "never used" (a pending invitation was never accepted, a token or
key GitHub saw no use of), so the field counts as provided and ``dormant`` is evaluated."""

IDENTITIES_QUERY: Final = (
    "query($org: String!, $first: Int!, $after: String) { organization(login: $org) {"
    " samlIdentityProvider { externalIdentities(first: $first, after: $after) {"
    " pageInfo { hasNextPage endCursor } edges { node { guid"
    " samlIdentity { nameId username emails { value primary type } }"
    " scimIdentity { username emails { value primary type } } user { login } } } } } } }"
)


def user_view(
    user: Mapping[str, Any], role: str, identity: Mapping[str, Any] | None
) -> dict[str, Any]:
    """A member or outside collaborator with ``nhirecon.role`` (``admin``, ``member`` or
    ``outside_collaborator``), ``nhirecon.external_identity`` (the SAML/SCIM node, or
    ``null``), ``nhirecon.sso_emails`` (its addresses) and ``nhirecon.origin`` (``scim``
    when a SCIM identity is linked: the IdP provisions and removes the member)."""
    added: dict[str, Any] = {"role": role, "external_identity": identity}
    if identity is not None:
        added["sso_emails"] = sso_emails(identity)
        if isinstance(identity.get("scimIdentity"), dict):
            added["origin"] = "scim"
    return {**user, ADDED: added}


def sso_emails(identity: Mapping[str, Any]) -> list[str]:
    """The addresses of an external identity: the SAML ``nameId`` and ``username`` and the
    SCIM ``username`` where they are addresses (hold an ``@``), and every ``emails[].value``
    of both; distinct (case-insensitively), the ``nameId`` first."""
    found: list[str] = []
    for part in ("samlIdentity", "scimIdentity"):
        attributes = identity.get(part)
        if not isinstance(attributes, dict):
            continue
        for name in ("nameId", "username"):
            value = attributes.get(name)
            if isinstance(value, str) and "@" in value:
                found.append(value.strip())
        emails = attributes.get("emails")
        for item in emails if isinstance(emails, list) else ():
            value = item.get("value") if isinstance(item, dict) else None
            if isinstance(value, str) and value.strip():
                found.append(value.strip())
    seen: set[str] = set()
    distinct = []
    for value in found:
        if value.casefold() not in seen:
            seen.add(value.casefold())
            distinct.append(value)
    return distinct


def identity_index(nodes: list[Any], where: str) -> dict[str, Mapping[str, Any]]:
    """External identities by the case-folded login of the account they are linked to;
    identities linked to no account are left out (no member can be joined to them)."""
    index: dict[str, Mapping[str, Any]] = {}
    for position, node in enumerate(nodes):
        if not isinstance(node, dict):
            raise ConnectorError(
                f"POST {where}: externalIdentities node {position} is not an object"
            )
        user = node.get("user")
        login = user.get("login") if isinstance(user, dict) else None
        if not isinstance(login, str) or not login:
            continue
        if login.casefold() in index:
            raise ConnectorError(
                f"POST {where}: two external identities are linked to {login!r}; which one"
                " is the member's would be a guess"
            )
        index[login.casefold()] = node
    return index


def invitation_view(invitation: Mapping[str, Any]) -> dict[str, Any]:
    """A pending invitation, with ``nhirecon.accepted_at: null``: it was never accepted."""
    return {**invitation, ADDED: {"accepted_at": None}}


def pat_view(grant: Mapping[str, Any], where: str) -> dict[str, Any]:
    """A fine-grained token's grant to the org. It stays a grant until revoked, expired or
    not: a holder may regenerate an expired token, so the grant is ``active`` and an
    expired token is reported ``expired``. ``created_at`` is when access was granted (the
    token's own creation date is not in the API)."""
    owner = grant.get("owner")
    token_id = grant.get("token_id")
    expires = grant.get("token_expires_at")
    if grant.get("token_expired") is True and not expires:
        raise DataError(f"{where}: token_expired is true but token_expires_at is empty")
    return {
        **grant,
        ADDED: {
            "id": f"fine_grained_pat/{grant['id']}",
            "type": "fine_grained_pat",
            "username": grant.get("token_name"),
            "owner": owner.get("login") if isinstance(owner, dict) else None,
            "kind": "api_key",
            "credential_id": None if token_id is None else f"github-pat:{token_id}",
            "active": True,
            "created_at": grant.get("access_granted_at"),
            "last_login_at": grant.get("token_last_used_at"),
            "expires_at": expires,
        },
    }


def deploy_key_view(key: Mapping[str, Any], repository: str, where: str) -> dict[str, Any]:
    """A deploy key of ``repository`` (``owner/name``). Keys are immutable, so the key's
    age is its rotation age; ``credential_id`` is its SHA-256 fingerprint as ``ssh-keygen
    -l`` prints it, so the same key elsewhere is the same credential. ``last_used`` is
    optional in GitHub's schema (older Enterprise Server leaves it out): ``null`` is "never
    used", but a key without it has no known use, so its date is then ``added_at``."""
    enabled = key.get("enabled", True)
    if not isinstance(enabled, bool):
        raise DataError(f"{where}: enabled is {enabled!r}, not true or false")
    created = key.get("created_at")
    use = {"created_at": created} if "last_used" in key else {"added_at": created}
    return {
        **key,
        ADDED: {
            "id": f"deploy_key/{repository}/{key['id']}",
            "type": "deploy_key",
            "username": key.get("title"),
            "owner": key.get("added_by"),
            "kind": "api_key",
            "credential_id": fingerprint(key.get("key"), where),
            "active": enabled,
            **use,
            "last_login_at": key.get("last_used"),
            "credential_rotated_at": created,
            "repository": repository,
        },
    }


def installation_view(installation: Mapping[str, Any]) -> dict[str, Any]:
    """A GitHub App installed in the org: a ``bot``, active until suspended. The API says
    nothing of its use, so its install date is ``nhirecon.installed_at``, not
    ``created_at``: beside tokens and keys, an old installation would otherwise read as
    "never used"."""
    return {
        **installation,
        ADDED: {
            "id": f"app_installation/{installation['id']}",
            "type": "app_installation",
            "username": installation.get("app_slug"),
            "kind": "bot",
            "active": installation.get("suspended_at") is None,
            "last_login_at": None,  # unknown; without created_at it never reads as dormant
            "installed_at": installation.get("created_at"),
        },
    }


def fingerprint(key: object, where: str) -> str:
    """``SHA256:<base64 without padding>`` of an OpenSSH public key line's key blob."""
    parts = key.split() if isinstance(key, str) else []
    try:
        blob = base64.b64decode(parts[1], validate=True) if len(parts) >= 2 else b""
    except (binascii.Error, ValueError):
        blob = b""
    if not blob:
        raise DataError(f"{where}: `key` is not an OpenSSH public key line ({str(key)[:40]!r})")
    digest = base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")
    return f"SHA256:{digest}"


def page_items(data: object, url: str, limit: int, key: str | None) -> tuple[list[Any], Any]:
    """The records of one page, checked (objects with an ``id``, no more than asked for),
    and the ``total_count`` a wrapped listing (``key``) announces."""
    total = None
    if key is not None:
        if not isinstance(data, dict) or not isinstance(data.get(key), list):
            raise ConnectorError(f"GET {url}: the answer is not an object with a `{key}` list")
        total, data = data.get("total_count"), data[key]
    if not isinstance(data, list):
        raise ConnectorError(f"GET {url}: the answer is not a JSON array")
    if len(data) > limit:
        raise ConnectorError(
            f"GET {url}: {len(data)} records on a page of at most {limit} (per_page); refusing"
            " a listing that does not page as documented"
        )
    for index, item in enumerate(data):
        if not isinstance(item, dict) or item.get("id") in (None, ""):
            raise ConnectorError(f"GET {url}: item {index} has no `id`")
    return data, total


def identities_page(data: object, url: str, first: int) -> tuple[list[Any], str | None]:
    """The nodes of one page of ``externalIdentities`` and the cursor of the next page
    (``None`` at the end)."""
    org = _walk(data, "data", "organization")
    if not isinstance(org, dict):
        raise ConnectorError(f"POST {url}: no organization in the answer")
    provider = org.get("samlIdentityProvider")
    if provider is None:
        raise ConnectorError(
            f"POST {url}: the organization has no SAML identity provider, or the token may not"
            " see it (only org owners' classic tokens with read:org and GitHub App"
            " installation tokens with Members access may); without it members have no"
            " corporate email: set saml_identities: false to read them by login only"
        )
    connection = _walk(provider, "externalIdentities")
    edges = _walk(connection, "edges")
    info = _walk(connection, "pageInfo")
    if not isinstance(edges, list) or not isinstance(info, dict):
        raise ConnectorError(f"POST {url}: externalIdentities has no edges or pageInfo")
    if len(edges) > first:
        raise ConnectorError(f"POST {url}: {len(edges)} identities on a page of at most {first}")
    cursor = info.get("endCursor")
    if info.get("hasNextPage") is not True:
        return [_walk(edge, "node") for edge in edges], None
    if not isinstance(cursor, str) or not cursor or not edges:
        raise ConnectorError(f"POST {url}: hasNextPage is true but the page gives no way on")
    return [_walk(edge, "node") for edge in edges], cursor


def graphql_errors(data: object) -> list[tuple[str, str]]:
    """The ``(type, message)`` of each entry of a GraphQL answer's ``errors``."""
    errors = data.get("errors") if isinstance(data, dict) else None
    return [
        (str(item.get("type") or ""), str(item.get("message") or ""))
        for item in (errors if isinstance(errors, list) else ())
        if isinstance(item, dict)
    ]


def github_message(response: Response) -> str:
    """The ``message`` of GitHub's error body (``{"message", "documentation_url",
    "status"}``); empty when the body is not one."""
    try:
        data = json.loads(response.body) if response.body.strip() else None
    except (ValueError, RecursionError):
        return ""
    message = data.get("message") if isinstance(data, dict) else None
    return message if isinstance(message, str) else ""


def _walk(node: object, *keys: str) -> Any:
    for key in keys:
        node = node.get(key) if isinstance(node, dict) else None
    return node


def option_problems(options: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Problems with a ``connector: github`` entry's options, once their types fit."""
    found: list[tuple[str, str]] = []
    if not ORG_NAME.fullmatch(str(options["org"])):
        found.append(("org", f"expected an organisation login, got {options['org']!r}"))
    if not str(options["token_env"]).strip():
        found.append(("token_env", "expected the name of an environment variable"))
    problem = url_problem(
        str(options.get("api_url", API_URL)), allow_http=bool(options.get("allow_http"))
    )
    found += [("api_url", problem)] if problem else []
    records, types = options.get("records", "members"), options.get("credential_types")
    if types is not None and records != "credentials":
        found.append(("credential_types", "only with records: credentials"))
    elif types is not None and (
        not types or len(set(types)) != len(types) or set(types) - set(CREDENTIAL_TYPES)
    ):
        found.append(
            ("credential_types", f"expected some of {', '.join(CREDENTIAL_TYPES)}, got {types!r}")
        )
    if "saml_identities" in options and records != "members":
        found.append(("saml_identities", "only with records: members"))
    if not 1 <= options.get("page_size", MAX_PAGE) <= MAX_PAGE:
        found.append(
            ("page_size", f"must be 1 to {MAX_PAGE} (per_page), got {options['page_size']}")
        )
    found += [(name, "must be positive") for name in POSITIVE if options.get(name, 1) <= 0]
    found += [
        (name, "must not be negative") for name in NOT_NEGATIVE if (options.get(name) or 0) < 0
    ]
    return found


def github_context(context: ConnectorContext, records: str) -> ConnectorContext:
    """``context`` with GitHub's own words: ``null`` as "never used" where it means that
    (so that ``dormant`` is evaluated when nothing was ever used), and an invitation's
    ``invitation_source`` ``member`` (sent by a person) as ``manual``."""
    field_map, changes = context.field_map, dict[str, Any]()
    never = NEVER_USED.get(records)
    if never and "last_login_at" not in field_map:
        changes["field_map"] = MappingProxyType({**field_map, "last_login_at": never})
    if (
        records == "invitations"
        and field_map.get("origin", "invitation_source") == "invitation_source"
    ):
        changes["origin_values"] = MappingProxyType(
            {"member": Origin.MANUAL, **context.origin_values}
        )
    return replace(context, **changes)


def graphql_url(api_url: str) -> str:
    """``{api_url}/graphql``; ``https://HOST/api/graphql`` for Enterprise Server's
    ``https://HOST/api/v3``."""
    return f"{api_url.removesuffix('/v3') if api_url.endswith('/api/v3') else api_url}/graphql"


def same_service(candidate: str, api_url: str) -> bool:
    """Same scheme, host and port as ``api_url``, and under its path (``/api/v3``)."""
    try:
        found, wanted = urlsplit(candidate), urlsplit(api_url)
        ports = [
            part.port or {"https": 443, "http": 80}.get(part.scheme) for part in (found, wanted)
        ]
    except ValueError:
        return False
    return (
        found.scheme.casefold() == wanted.scheme.casefold()
        and (found.hostname or "").rstrip(".").casefold() == (wanted.hostname or "").casefold()
        and ports[0] == ports[1]
        and f"{found.path}/".startswith(f"{wanted.path.rstrip('/')}/")
        and not (found.username or found.password or found.fragment)
    )
