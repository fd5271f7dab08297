"""A live SCIM 2.0 service provider (RFC 7643/7644): reads ``/Users``, disables and deletes.

Accounts are paged by cursor (RFC 9865) where the service offers it, else on
``totalResults``, the pages after the first fetched concurrently. A listing that is not
provably complete, or that holds a resource outside the configured ``filter``, fails the
pull (see :mod:`nhirecon.connectors.scim_listing`). Group membership comes from
``/Groups`` when it is needed (``compare: [groups]`` or ``map: {groups: ...}``), since many
services never fill in ``User.groups`` (see :mod:`nhirecon.connectors.scim_groups`). A
manager's id is read as the manager's address when the manager is used (see
:mod:`nhirecon.connectors.scim_manager`); the listing is then held until it ends.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, ClassVar, Final

from nhirecon.connectors import scim_groups, scim_manager, scim_schema
from nhirecon.connectors.base import Connector, ConnectorContext, RawRow
from nhirecon.connectors.context import range_problems
from nhirecon.connectors.mapping import FieldMapper
from nhirecon.connectors.scim_client import ScimClient
from nhirecon.connectors.scim_filter import FilterError, compile_filter
from nhirecon.connectors.scim_listing import MAX_RECORDS
from nhirecon.connectors.scim_writer import ScimWriter
from nhirecon.core.model import Origin, Record
from nhirecon.errors import ConnectorError
from nhirecon.http import auth as auth_settings
from nhirecon.http.limits import Limits
from nhirecon.http.tls import warn_unverified
from nhirecon.http.transport import Transport
from nhirecon.http.urls import url_problem

log = logging.getLogger(__name__)

GROUPS: Final = scim_groups.GROUPS
USERS: Final = "Users"
POSITIVE: Final = ("timeout", "page_size", "max_workers", "max_response_mb", "max_records")


class ScimConnector(Connector):
    name = "scim"
    description = (
        "A SCIM 2.0 service provider (RFC 7644), read live over HTTPS; can disable and delete."
    )
    can_write: ClassVar[frozenset[str]] = frozenset({"disable", "delete"})
    default_map: ClassVar[Mapping[str, str]] = scim_schema.DEFAULT_MAP

    def __init__(
        self,
        *,
        context: ConnectorContext,
        url: str,
        auth: Mapping[str, str] | None = None,
        timeout: float = 30.0,
        page_size: int = 500,
        max_workers: int = 4,
        rate_limit_per_minute: int | None = None,
        verify_tls: bool = True,
        ca_bundle: str | None = None,
        allow_http: bool = False,
        filter: str | None = None,
        retries: int = 5,
        backoff: float = 0.5,
        max_retry_wait: float = 120.0,
        max_response_mb: float = 64.0,
        max_records: int = MAX_RECORDS,
    ) -> None:
        """Options (the keys of a ``connector: scim`` target):

        - ``url``: the service's base URL (``https://…/scim/v2``);
        - ``auth``: ``{type: bearer, token_env: VAR}``, ``{type: basic, username[_env],
          password_env}``, ``{type: oauth2, token_url, client_id[_env], client_secret_env,
          scope}``, or ``{type: none}``;
        - ``timeout``: seconds to connect and to wait for each read;
        - ``page_size``: resources asked for per page (servers may clamp it);
        - ``max_workers``: requests in flight at once;
        - ``rate_limit_per_minute``: requests started in any 60 seconds (reads and writes);
        - ``verify_tls``, ``ca_bundle``: TLS certificate checks and a private CA file;
        - ``allow_http``: permit plain ``http://`` to another machine (never advisable);
        - ``filter``: a SCIM filter for the listing, e.g. ``userType eq "Employee"``; every
          resource returned is checked against it;
        - ``retries``, ``backoff``, ``max_retry_wait``: bounds of the retry policy;
        - ``max_response_mb``: the largest answer read, in MiB once decompressed;
        - ``max_records``: the most resources a listing may announce or return.
        """
        super().__init__(context=context)
        self.url = url.rstrip("/")
        self.filter = filter
        self.page_size = page_size
        self.max_workers = max_workers
        self.max_records = max_records
        where = f"{context.key}.auth" if context.key else "auth"
        bundle = context.ca_bundle(ca_bundle)
        if not verify_tls and self.url.casefold().startswith("https:"):
            warn_unverified(context.key, self.url)
        credentials = auth_settings.credentials(auth, where)
        self.transport = Transport(
            limits=Limits(
                timeout=float(timeout),
                retries=retries,
                backoff=float(backoff),
                max_retry_wait=float(max_retry_wait),
                max_workers=max_workers,
                rate_limit_per_minute=rate_limit_per_minute,
                max_response_mb=float(max_response_mb),
            ),
            credentials=credentials,
            verify_tls=verify_tls,
            ca_bundle=str(bundle) if bundle else None,
            service=self.url,
        )
        self.client = ScimClient(self.url, self.transport, USERS)
        self._groups: dict[str, list[dict[str, str]]] | None = None
        self._recheck: FieldMapper | None = None
        """Maps the accounts the re-check reads (:meth:`record_of`)."""
        self._groups_failure: ConnectorError | None = None
        self._addresses: dict[str, str | None] = {}
        """User id → address, of the users read (see :mod:`nhirecon.connectors.scim_manager`)."""
        self._listed: set[str] = set()
        """The addresses of the users listed, case-folded."""
        self._lock = threading.Lock()
        self.wants_manager = scim_manager.wanted(context, scim_schema.DEFAULT_MAP)
        """Whether the manager's id is read as the manager's address (see
        :mod:`nhirecon.connectors.scim_manager`); decided as the connector is made, so that
        a filter it conflicts with is a config error for ``validate`` too."""

    @classmethod
    def check_options(cls, options: Mapping[str, Any]) -> list[tuple[str, str]]:
        problems = super().check_options(options)
        if problems:
            return problems
        allow_http = bool(options.get("allow_http", False))
        problem = url_problem(str(options["url"]), allow_http=allow_http)
        if problem:
            problems.append(("url", problem))
        auth = options.get("auth")
        if isinstance(auth, Mapping):
            problems.extend(
                (f"auth.{key}", message)
                for key, message in auth_settings.problems(auth, allow_http=allow_http)
            )
        problems += range_problems(options, positive=POSITIVE, not_negative=())
        if options.get("filter"):
            try:
                compile_filter(str(options["filter"]))
            except FilterError as exc:
                problems.append(("filter", f"cannot be checked on the resources returned: {exc}"))
        problems += range_problems(options, positive=())
        return problems

    def default_origin(self, external_id: str | None) -> Origin:
        return scim_schema.scim_origin(external_id)

    @functools.cached_property
    def wants_groups(self) -> bool:
        """Whether group membership is used (compared, or mapped explicitly) and read from
        the users' ``groups`` (``groups.display``, ``groups.value``: attribute names are
        case-insensitive, RFC 7643 §2.1), not mapped from another attribute."""
        context = self.context
        used = "groups" in context.compared or "groups" in context.field_map
        path = context.field_map.get("groups", scim_schema.DEFAULT_MAP["groups"])
        paths = (path,) if isinstance(path, str) else tuple(path)
        return used and any(one.lower().partition(".")[0] == "groups" for one in paths)

    def rows(self) -> Iterator[RawRow]:
        resources: Iterable[Mapping[str, Any]] = self.client.list_all(
            USERS,
            page_size=self.page_size,
            scim_filter=self.filter,
            max_workers=self.max_workers,
            max_records=self.max_records,
        )
        if self.wants_manager:  # every user before any row: a manager may be listed later
            resources = list(resources)
            with self._lock:
                self._addresses.update(scim_manager.addresses(resources))
                self._listed.update(m.casefold() for m in self._addresses.values() if m)
            self._manager_addresses(resources)
        for resource in resources:
            yield self._row(resource)

    def _row(self, resource: Mapping[str, Any]) -> RawRow:
        """A resource as a row to map, with the groups ``/Groups`` lists it in when it
        names none itself and the groups are used: ``/Groups`` is read the first time an
        account needs it, and never when every account names its own (``User.groups``);
        and its manager's id read as the manager's address when the manager is used."""
        resource_id = str(resource.get("id", ""))
        if self.wants_groups and not resource.get("groups"):
            resource = {**resource, "groups": self.memberships().get(resource_id, [])}
        if self.wants_manager:
            resource = scim_manager.resolved(resource, self._manager_addresses([resource]))
        return RawRow(f"{self.url}/{USERS}/{resource_id}", scim_schema.lookup(resource))

    def _manager_addresses(
        self, resources: Iterable[Mapping[str, Any]]
    ) -> Mapping[str, str | None]:
        """User id → address, for the managers ``resources`` name: from the users read
        so far, else each read alone, once; a value that is already a listed user's address
        (a service that puts the address where the id belongs) is not looked up."""
        with self._lock:
            named = {scim_manager.manager_id(resource) for resource in resources}
            unknown = [
                one
                for one in named
                if one is not None
                and one not in self._addresses
                and one.casefold() not in self._listed
            ]
            if unknown:
                self._addresses.update(
                    scim_manager.look_up(self.client, unknown, max_workers=self.max_workers)
                )
            return self._addresses

    def memberships(self) -> dict[str, list[dict[str, str]]]:
        """Member id → the groups it is a direct member of (``value``, ``display``); listed
        once. A listing that failed fails every later call too, without being tried again
        (the re-checks of a run's actions each ask for it)."""
        with self._lock:
            if self._groups_failure is not None:
                raise self._groups_failure
            if self._groups is None:
                try:
                    self._groups = self._list_memberships()
                except ConnectorError as exc:
                    self._groups_failure = exc
                    raise
            return self._groups

    def _list_memberships(self) -> dict[str, list[dict[str, str]]]:
        listing = self.client.list_all(
            GROUPS,
            page_size=self.page_size,
            max_workers=self.max_workers,
            max_records=self.max_records,
        )
        return scim_groups.memberships(self.client, listing, max_workers=self.max_workers)

    def writer(self) -> ScimWriter:
        """What performs this target's disables and deletes, through the same client."""
        return ScimWriter(self.client, self.record_of)

    def record_of(self, resource: Mapping[str, Any]) -> Record | None:
        """A resource read on its own (``GET /Users/{id}``), mapped as a pulled one is (its
        groups from ``/Groups``, listed once, where it names none and they are used), for
        the re-check before a write to see whether it changed since it was pulled.
        ``None`` when the target's ``filter`` or ``where`` no longer takes it.

        Raises :class:`~nhirecon.errors.DataError` for a value the mapping refuses."""
        if self.filter and not compile_filter(self.filter).matches(resource):
            return None
        row = self._row(resource)
        with self._lock:
            if self._recheck is None:
                self._recheck = FieldMapper(self)
            return self._recheck.one(row)

    def close(self) -> None:
        self.transport.close()
