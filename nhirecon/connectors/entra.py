"""Microsoft Entra ID, read live from Microsoft Graph: users, service principals or
applications (app registrations).

The connector signs in as an application (:mod:`nhirecon.connectors.entra_auth`), lists one
collection under ``{graph_url}/v1.0`` page by page to its end
(:mod:`nhirecon.connectors.graph_paging`), and hands each object on as a raw row together
with the values nhirecon computes from it (:mod:`nhirecon.connectors.entra_objects`): the
latest sign-in, a status word, the kind, an owner, when the credentials expire and when they
were last rotated. It only reads: Entra is never written to.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar, Final, Literal

from nhirecon.connectors import entra_objects
from nhirecon.connectors.base import Connector, ConnectorContext, RawRow
from nhirecon.connectors.context import range_problems
from nhirecon.connectors.entra_auth import (
    ClientCertificate,
    ClientSecret,
    EntraCredentials,
    load_certificate,
    token_url,
)
from nhirecon.connectors.entra_objects import OBJECTS, SIGN_IN_ACTIVITY, SIGN_IN_PAGE
from nhirecon.connectors.graph_paging import MAX_RECORDS, GraphClient, Hint
from nhirecon.connectors.json import dotted_has, dotted_lookup
from nhirecon.errors import ConfigError, ConnectorError
from nhirecon.http.limits import Limits
from nhirecon.http.tls import warn_unverified
from nhirecon.http.transport import Transport
from nhirecon.http.urls import url_problem

log = logging.getLogger(__name__)

GRAPH_URL: Final = "https://graph.microsoft.com"
LOGIN_URL: Final = "https://login.microsoftonline.com"
POSITIVE: Final = ("timeout", "page_size", "max_response_mb", "max_records")
_TENANT = re.compile(r"[A-Za-z0-9][A-Za-z0-9.-]*")
_CLIENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_VERSIONED = re.compile(r"/(v1\.0|beta)/?$", re.IGNORECASE)
NON_PREMIUM: Final = "Authentication_RequestFromNonPremiumTenantOrB2CTenant"


class EntraConnector(Connector):
    name = "entra"
    description = (
        "Microsoft Entra ID users, service principals or applications, read live from"
        " Microsoft Graph."
    )
    default_map: ClassVar[Mapping[str, str]] = {
        name: column for kind in OBJECTS.values() for name, column in kind.default_map.items()
    }

    def __init__(
        self,
        *,
        context: ConnectorContext,
        tenant_id: str,
        client_id: str,
        objects: Literal["users", "service_principals", "applications"] = "users",
        client_secret_env: str | None = None,
        certificate_env: str | None = None,
        graph_url: str = GRAPH_URL,
        login_url: str = LOGIN_URL,
        scope: str | None = None,
        sign_in_activity: bool = True,
        page_size: int | None = None,
        timeout: float = 30.0,
        retries: int = 5,
        backoff: float = 0.5,
        max_retry_wait: float = 120.0,
        rate_limit_per_minute: int | None = None,
        verify_tls: bool = True,
        ca_bundle: str | None = None,
        allow_http: bool = False,
        max_response_mb: float = 64.0,
        max_records: int = MAX_RECORDS,
    ) -> None:
        """Options (the keys of a ``connector: entra`` source, include or target):

        - ``tenant_id``: the directory (tenant) id, or its domain;
        - ``client_id``: the app registration's application (client) id;
        - ``client_secret_env`` or ``certificate_env``: the variable holding the client
          secret, or a PEM with the certificate's private key and the certificate;
        - ``objects``: ``users``, ``service_principals`` or ``applications``;
        - ``graph_url``, ``login_url``: Graph and the sign-in service (national clouds, a
          proxy, a test server); ``scope``: default ``{graph_url}/.default``;
        - ``sign_in_activity``: users only; ``false`` for tenants without an Entra ID P1/P2
          licence (no sign-in dates, so no ``dormant`` findings);
        - ``page_size``: ``$top`` (default and most: 999, or 500 with sign-in activity);
        - ``timeout``, ``retries``, ``backoff``, ``max_retry_wait``,
          ``rate_limit_per_minute``, ``verify_tls``, ``ca_bundle``, ``allow_http``,
          ``max_response_mb``, ``max_records``: as for the ``scim`` connector.
        """
        super().__init__(context=context)
        self.kind = OBJECTS[objects]
        self.graph_url = graph_url.rstrip("/")
        self.sign_ins = sign_in_activity and self.kind is entra_objects.USERS
        limit = SIGN_IN_PAGE if self.sign_ins else self.kind.max_page
        self.page_size = min(page_size or limit, limit)
        self.max_records = max_records
        role = "target" if context.key.startswith("targets") else "source"
        self.where = f"{role} {context.name!r} (Entra ID {self.kind.label})"
        self._check_sign_in_map(context)
        bundle = context.ca_bundle(ca_bundle)
        if not verify_tls:
            warn_unverified(
                context.key, self.graph_url, service="Microsoft Graph", receives="its tokens"
            )
        credentials = EntraCredentials(
            url=token_url(login_url.rstrip("/"), tenant_id),
            client_id=client_id,
            scope=scope or f"{self.graph_url}/.default",
            proof=self._proof(client_secret_env, certificate_env),
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
            service=self.graph_url,
        )
        self.client = GraphClient(self.graph_url, self.transport, self._hint())

    def _key(self, option: str) -> str:
        return f"{self.context.key}.{option}" if self.context.key else option

    def _proof(
        self, secret_env: str | None, certificate_env: str | None
    ) -> ClientSecret | ClientCertificate:
        """The application's credential, read from the environment now, never shown."""
        option = "client_secret_env" if secret_env else "certificate_env"
        variable = secret_env or certificate_env
        if variable is None:
            raise ConfigError("give client_secret_env or certificate_env", key=self._key(option))
        value = os.environ.get(variable)
        if value is None or not value.strip():
            raise ConfigError(
                f"environment variable {variable} is not set (it should hold the"
                f" {'client secret' if secret_env else 'PEM certificate and private key'})",
                key=self._key(option),
            )
        if secret_env:
            return ClientSecret(value.strip())
        return load_certificate(value, self._key(option))

    def _hint(self) -> Hint:
        consent = (
            f"the app registration needs the application permission {self.kind.permissions},"
            " with admin consent"
        )
        return Hint(
            by_status={401: "Graph refused the token: check tenant_id and client_id", 403: consent},
            by_code={
                NON_PREMIUM: (
                    "signInActivity needs a Microsoft Entra ID P1 or P2 licence; set"
                    " sign_in_activity: false to read users without sign-in dates (then no"
                    " dormant findings)"
                ),
            },
        )

    def _check_sign_in_map(self, context: ConnectorContext) -> None:
        """A ``map`` that reads sign-ins while ``sign_in_activity`` is off would read nothing."""
        if self.sign_ins or self.kind is not entra_objects.USERS:
            return
        for name, named in context.field_map.items():
            columns = (named,) if isinstance(named, str) else named
            if any(
                column.startswith(SIGN_IN_ACTIVITY) or column == entra_objects.LAST_SIGN_IN
                for column in columns
            ):
                raise ConfigError(
                    "reads sign-in activity, but sign_in_activity is false",
                    key=self._key(f"map.{name}"),
                )

    @classmethod
    def check_options(cls, options: Mapping[str, Any]) -> list[tuple[str, str]]:
        problems = super().check_options(options)
        if problems:
            return problems
        if ("client_secret_env" in options) == ("certificate_env" in options):
            problems.append(
                ("client_secret_env", "give exactly one of client_secret_env and certificate_env")
            )
        for name in ("client_secret_env", "certificate_env", "scope"):
            value = options.get(name)
            if value is not None and (not value.strip() or any(c.isspace() for c in value)):
                problems.append((name, f"expected a name without spaces, got {value!r}"))
        allow_http = bool(options.get("allow_http", False))
        for name, default in (("graph_url", GRAPH_URL), ("login_url", LOGIN_URL)):
            problem = url_problem(str(options.get(name, default)), allow_http=allow_http)
            if problem:
                problems.append((name, problem))
        if _VERSIONED.search(str(options.get("graph_url", GRAPH_URL))):
            problems.append(("graph_url", "give the service's base URL, without /v1.0 or /beta"))
        if not _TENANT.fullmatch(str(options["tenant_id"])):
            problems.append(("tenant_id", "expected the tenant's id (a GUID) or its domain"))
        if not _CLIENT_ID.fullmatch(str(options["client_id"])):
            problems.append(("client_id", "expected the application (client) id, a GUID"))
        if "sign_in_activity" in options and options.get("objects", "users") != "users":
            problems.append(("sign_in_activity", "applies to objects: users only"))
        page_size = options.get("page_size")
        if page_size is not None and page_size > entra_objects.USERS_PAGE:
            problems.append(("page_size", f"Graph serves at most {entra_objects.USERS_PAGE}"))
        problems += range_problems(options, positive=POSITIVE)
        return problems

    def defaults(self) -> Mapping[str, str]:
        mapped = dict(self.kind.default_map)
        if not self.sign_ins:
            mapped.pop("last_login_at", None)
        return mapped

    def names(self) -> set[str]:
        """Every Graph path or ``nhirecon.*`` name this pull reads: the mapping's columns and
        the fields ``where`` and ``where_not`` test."""
        effective: dict[str, tuple[str, ...]] = {
            name: (column,) for name, column in self.defaults().items()
        }
        for name, named in self.context.field_map.items():
            effective[name] = (named,) if isinstance(named, str) else tuple(named)
        found = {column for columns in effective.values() for column in columns}
        options = self.context.value_options
        for name in (*options.where, *options.where_not):
            found.update(effective.get(name, (name,)))
        return found

    def listing_url(self) -> str:
        select, expand = self.kind.select_for(self.names(), sign_ins=self.sign_ins)
        return self.client.collection_url(
            self.kind.path, select=select, expand=expand, top=self.page_size
        )

    def rows(self) -> Iterator[RawRow]:
        as_of = self.context.as_of or datetime.now(UTC)
        try:
            url = self.listing_url()
            log.debug("%s: listing %s", self.where, url)
            for item in self.client.list_all(url, top=self.page_size, max_records=self.max_records):
                location = f"{self.client.root}/{self.kind.path}/{item['id']}"
                if self.kind.expand_owners:
                    item = self._with_owners(item)
                record = {**item, **self.kind.derive(item, location, as_of)}
                yield RawRow(location, dotted_lookup(record), dotted_has(record))
        except ConnectorError as exc:
            raise ConnectorError(f"{self.where}: {exc}") from exc

    def _with_owners(self, item: dict[str, Any]) -> dict[str, Any]:
        """The object with every owner: ``$expand`` stops at 20 related objects without a
        next link, so an object showing 20 (or none at all) is asked for the whole list."""
        owners = item.get(entra_objects.OWNERS_NAVIGATION)
        if isinstance(owners, list) and len(owners) < entra_objects.EXPANDED_OWNERS_CAP:
            return item
        url = self.client.related_url(self.kind.path, item["id"], entra_objects.OWNERS_NAVIGATION)
        full = list(self.client.list_all(url, top=None, max_records=self.max_records))
        return {**item, entra_objects.OWNERS_NAVIGATION: full}

    def close(self) -> None:
        self.transport.close()
