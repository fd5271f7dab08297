"""An Okta org's users, read live from the Users API (``GET /api/v1/users``); read only.

Every user is read, whatever its status: the deprovisioned ones too, which Okta's plain
listing leaves out (see :mod:`nhirecon.connectors.okta_listing` for how, and for what makes
a pull fail). Each user is a raw row read by dotted paths (``profile.department``,
``credentials.provider.type``), with a default mapping for the canonical fields:

- ``active`` from ``status``: ``STAGED``, ``PROVISIONED``, ``ACTIVE``, ``RECOVERY``,
  ``PASSWORD_EXPIRED`` and ``LOCKED_OUT`` users exist and can be used or re-activated;
  ``SUSPENDED`` and ``DEPROVISIONED`` ones cannot (``active_values`` adds or overrides words);
- ``last_login_at`` from ``lastLogin``, where ``null`` (or an absent value) means never
  signed in: the field always counts as provided, so ``dormant`` is evaluated;
- ``origin`` from ``credentials.provider.type``: ``FEDERATION`` and ``SOCIAL`` users sign in
  through an identity provider and are created at their first sign-in by its just-in-time
  provisioning (``jit``); ``ACTIVE_DIRECTORY`` and ``LDAP`` users are imported and
  deactivated by a directory integration (lifecycle sync: ``scim``); ``IMPORT`` users were
  created by a password migration an administrator ran (``manual``); ``OKTA`` says only
  that Okta holds the credential, not who created the user (``unknown``). ``origin_values``
  overrides any of these words.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, ClassVar, Final
from urllib.parse import urlsplit

from nhirecon.connectors.base import Connector, ConnectorContext, RawRow
from nhirecon.connectors.context import range_problems
from nhirecon.connectors.json import row
from nhirecon.connectors.okta_listing import MAX_LIMIT, USERS, OktaUsers
from nhirecon.connectors.scim_listing import MAX_RECORDS
from nhirecon.core.model import Origin
from nhirecon.errors import ConfigError
from nhirecon.http import auth as auth_settings
from nhirecon.http.limits import Limits
from nhirecon.http.tls import warn_unverified
from nhirecon.http.transport import Credentials, Transport
from nhirecon.http.urls import url_problem

log = logging.getLogger(__name__)

LAST_LOGIN: Final = "lastLogin"
ORIGIN_PATH: Final = "credentials.provider.type"
DEFAULT_MAP: Final[Mapping[str, str]] = MappingProxyType(
    {
        "id": "id",
        "external_id": "profile.employeeNumber",
        "username": "profile.login",
        "email": "profile.email",
        "display_name": "profile.displayName",
        "status": "status",
        "active": "status",
        "title": "profile.title",
        "department": "profile.department",
        "manager": "profile.manager",
        "created_at": "created",
        "last_login_at": LAST_LOGIN,
        "origin": ORIGIN_PATH,
    }
)
"""Canonical field → path in an Okta user object; ``map:`` adds to and overrides it."""
STATUS_ACTIVE: Final[Mapping[str, bool]] = MappingProxyType(
    {
        "staged": True,
        "provisioned": True,
        "active": True,
        "recovery": True,
        "password_expired": True,
        "locked_out": True,
        "suspended": False,
        "deprovisioned": False,
    }
)
"""Okta's user statuses (case-folded) → whether the account counts as active."""
PROVIDER_ORIGINS: Final[Mapping[str, Origin]] = MappingProxyType(
    {
        "federation": Origin.JIT,
        "social": Origin.JIT,
        "active_directory": Origin.SCIM,
        "ldap": Origin.SCIM,
        "import": Origin.MANUAL,
        "okta": Origin.UNKNOWN,
    }
)
"""``credentials.provider.type`` (case-folded) → origin (see the module's docstring)."""
AUTH_TYPES: Final = ("bearer", "oauth2")
POSITIVE: Final = ("timeout", "page_size", "max_response_mb", "max_records")


@dataclass(frozen=True)
class ApiToken:
    """An Okta API token, sent as ``Authorization: SSWS <token>``."""

    token: str = field(repr=False)

    def headers(self, transport: Transport) -> Mapping[str, str]:
        return {"Authorization": f"SSWS {self.token}"}

    def refresh(self, transport: Transport) -> bool:
        return False

    def secrets(self) -> Iterable[str]:
        return (self.token,)


def api_token(variable: str, key: str) -> ApiToken:
    """The API token held by the environment variable ``variable``; ``key`` is the option's
    key path, for messages (which never show the value)."""
    value = (os.environ.get(variable) or "").strip()
    if not value:
        raise ConfigError(
            f"environment variable {variable} is not set (it should hold the Okta API token)",
            key=key,
        )
    if not (value.isascii() and value.isprintable()):
        raise ConfigError(
            f"environment variable {variable} holds a line break, a control or a non-ASCII"
            " character, which an API token cannot (the value is not shown)",
            key=key,
        )
    return ApiToken(value)


def okta_context(context: ConnectorContext) -> ConnectorContext:
    """``context`` with Okta's own words: its statuses for ``active`` and its provider types
    for ``origin``, each only while the field reads its default path (the config's
    ``active_values`` and ``origin_values`` add to them and win); and ``last_login_at``
    named as a path every user has, so that an org where nobody ever signed in still gets
    its ``dormant`` findings."""
    field_map, options = context.field_map, context.value_options
    changes: dict[str, Any] = {}
    if "last_login_at" not in field_map:
        changes["field_map"] = MappingProxyType({**field_map, "last_login_at": LAST_LOGIN})
    if field_map.get("active", "status") == "status":
        words = {**STATUS_ACTIVE, **(options.active_values or {})}
        changes["value_options"] = replace(options, active_values=MappingProxyType(words))
    if field_map.get("origin", ORIGIN_PATH) == ORIGIN_PATH:
        changes["origin_values"] = MappingProxyType({**PROVIDER_ORIGINS, **context.origin_values})
    return replace(context, **changes)


def _url_path_problem(url: str) -> str | None:
    path = urlsplit(url).path.rstrip("/")
    if "/api/" in f"{path}/":
        return f"give the org URL without the API path (https://acme.okta.com), got {url!r}"
    return None


class OktaConnector(Connector):
    name = "okta"
    description = (
        "The users of an Okta org, read live from the Users API: every status, deprovisioned"
        " users included."
    )
    default_map: ClassVar[Mapping[str, str]] = DEFAULT_MAP

    def __init__(
        self,
        *,
        context: ConnectorContext,
        url: str,
        token_env: str | None = None,
        auth: Mapping[str, str] | None = None,
        timeout: float = 30.0,
        page_size: int = MAX_LIMIT,
        rate_limit_per_minute: int | None = None,
        verify_tls: bool = True,
        ca_bundle: str | None = None,
        allow_http: bool = False,
        retries: int = 5,
        backoff: float = 0.5,
        max_retry_wait: float = 120.0,
        max_response_mb: float = 64.0,
        max_records: int = MAX_RECORDS,
    ) -> None:
        """Options (the keys of a ``connector: okta`` source, include or target):

        - ``url``: the org URL (``https://acme.okta.com``);
        - ``token_env``: the environment variable holding an API token (sent as ``SSWS``);
        - ``auth``: instead, an OAuth 2.0 access token, ``{type: bearer, token_env: VAR}``,
          or ``{type: oauth2, token_url, client_id[_env], client_secret_env, scope}``
          (client secret only: Okta's org authorization server wants ``private_key_jwt``
          for ``okta.*`` scopes, which this tool does not sign);
        - ``timeout``: seconds to connect and to wait for each read;
        - ``page_size``: users asked for per page (``limit``, at most 200);
        - ``rate_limit_per_minute``: requests started in any 60 seconds;
        - ``verify_tls``, ``ca_bundle``: TLS certificate checks and a private CA file;
        - ``allow_http``: permit plain ``http://`` to another machine (never advisable);
        - ``retries``, ``backoff``, ``max_retry_wait``: bounds of the retry policy;
        - ``max_response_mb``: the largest page read, in MiB once decompressed;
        - ``max_records``: the most users a pull may return.
        """
        super().__init__(context=okta_context(context))
        self.url = url.rstrip("/")
        self.page_size = page_size
        self.max_records = max_records
        prefix = f"{context.key}." if context.key else ""
        bundle = context.ca_bundle(ca_bundle)
        if not verify_tls and self.url.casefold().startswith("https:"):
            warn_unverified(context.key, self.url, service="Okta", receives="the token")
        credentials: Credentials = (
            api_token(token_env, f"{prefix}token_env")
            if token_env
            else auth_settings.credentials(auth, f"{prefix}auth")
        )
        self.transport = Transport(
            limits=Limits(
                timeout=float(timeout),
                retries=retries,
                backoff=float(backoff),
                max_retry_wait=float(max_retry_wait),
                max_workers=1,
                rate_limit_per_minute=rate_limit_per_minute,
                max_response_mb=float(max_response_mb),
            ),
            credentials=credentials,
            verify_tls=verify_tls,
            ca_bundle=str(bundle) if bundle else None,
            service=self.url,
        )

    @classmethod
    def check_options(cls, options: Mapping[str, Any]) -> list[tuple[str, str]]:
        problems = super().check_options(options)
        if problems:
            return problems
        allow_http = bool(options.get("allow_http", False))
        url = str(options["url"])
        problem = url_problem(url, allow_http=allow_http) or _url_path_problem(url)
        if problem:
            problems.append(("url", problem))
        token_env, auth = options.get("token_env"), options.get("auth")
        if (token_env is None) == (auth is None):
            problems.append(
                (
                    "token_env",
                    "give exactly one of token_env (an environment variable holding an API"
                    " token) and auth (an OAuth 2.0 access token)",
                )
            )
        elif token_env is not None and not str(token_env).strip():
            problems.append(("token_env", "expected the name of an environment variable"))
        if isinstance(auth, Mapping):
            if auth.get("type") not in AUTH_TYPES:
                problems.append(
                    (
                        "auth.type",
                        f"expected bearer or oauth2, got {auth.get('type')!r} (an API token"
                        " goes in token_env: it is sent as SSWS, not as a bearer token)",
                    )
                )
            else:
                problems.extend(
                    (f"auth.{key}", message)
                    for key, message in auth_settings.problems(auth, allow_http=allow_http)
                )
        problems += range_problems(options, positive=POSITIVE, not_negative=())
        if options.get("page_size", MAX_LIMIT) > MAX_LIMIT:
            problems.append(
                (
                    "page_size",
                    f"at most {MAX_LIMIT}: Okta's largest page, got {options['page_size']!r}",
                )
            )
        problems += range_problems(options, positive=())
        return problems

    def rows(self) -> Iterator[RawRow]:
        users = OktaUsers(self.url, self.transport, self.page_size, self.max_records)
        for user in users:
            if LAST_LOGIN not in user:  # Okta may omit a null property: never signed in
                user = {**user, LAST_LOGIN: None}
            yield row(f"{self.url}{USERS}/{user['id']}", user)

    def close(self) -> None:
        self.transport.close()
