"""An LDAP directory or Active Directory, read live with simple paged results (RFC 2696).

A listing is complete only when the server ends its last page with success and an empty
paging cookie. A server that stops at its size limit, ends the search with any other
result, drops the paging control half-way or repeats a cookie fails the pull (exit 3), so
a truncated directory never passes for the whole one. Entries are read through the shared
mapping like every other input: how their values read is in
:mod:`nhirecon.connectors.ldap_ad`, the conversation with the server in
:mod:`nhirecon.connectors.ldap_search`. ``ldap3`` is an optional extra, imported when a
connector is built.
"""

from __future__ import annotations

import importlib
import logging
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from types import MappingProxyType, ModuleType
from typing import Any, ClassVar, Final, Literal
from urllib.parse import urlsplit

from nhirecon.connectors import ldap_ad
from nhirecon.connectors.base import Connector, ConnectorContext, RawRow
from nhirecon.connectors.ldap_ad import DnKey, Entries, Flavor
from nhirecon.connectors.ldap_search import Directory, Entry
from nhirecon.core.model import DATE_FIELDS
from nhirecon.core.values import ValueError_
from nhirecon.errors import ConfigError, ConnectorError
from nhirecon.http.urls import is_loopback

log = logging.getLogger(__name__)

INSTALL: Final = "pip install 'nhirecon[ldap]'"
SCOPES: Final[Mapping[str, str]] = {"sub": "SUBTREE", "one": "LEVEL", "base": "BASE"}
"""The ``scope`` option → ``ldap3``'s name for it."""
DEFAULT_FILTERS: Final[Mapping[str, str]] = {
    "ldap": "(objectClass=person)",
    "ad": "(&(objectClass=user)(!(objectClass=computer)))",
}
"""Without ``filter``. In Active Directory computers (and managed service accounts) are
``person`` entries too, so ``flavor: ad`` asks for users that are not computers."""
LDAP_MAP: Final[Mapping[str, str]] = MappingProxyType(
    {
        "id": "entryUUID",
        "external_id": "employeeNumber",
        "username": "uid",
        "email": "mail",
        "display_name": "cn",
        "department": "departmentNumber",
        "title": "title",
        "manager": "manager",
        "groups": "memberOf",
        "kind": "accountKind",
        "created_at": "createTimestamp",
    }
)
"""Canonical field → attribute of an ``inetOrgPerson`` (OpenLDAP, 389 DS ...)."""
AD_MAP: Final[Mapping[str, str]] = MappingProxyType(
    {
        "id": "objectGUID",
        "external_id": "objectSid",
        "username": "sAMAccountName",
        "email": "mail",
        "display_name": "displayName",
        "department": "department",
        "title": "title",
        "manager": "manager",
        "groups": "memberOf",
        "status": "accountStatus",
        "active": "accountEnabled",
        "kind": "accountKind",
        "created_at": "whenCreated",
        "last_login_at": "lastLogonTimestamp",
        "expires_at": "accountExpires",
    }
)
"""Canonical field → Active Directory attribute (``accountStatus``, ``accountEnabled`` and
``accountKind`` are derived, see :mod:`nhirecon.connectors.ldap_ad`)."""


_PLAIN: set[str] = set()
"""Directories already warned about in this process (a run opens an input more than once)."""


def _warn_plain(key: str, url: str) -> None:
    """Say, once per directory, that ``allow_plain`` sends the password in clear."""
    if url in _PLAIN:
        return
    _PLAIN.add(url)
    log.warning(
        "%s%s: plain LDAP without TLS (allow_plain: true): the bind password and every"
        " entry cross the network in clear",
        f"{key} " if key else "",
        url,
    )


class LdapConnector(Connector):
    name = "ldap"
    requires = (("ldap3", "ldap3", "ldap"),)
    description = (
        "An LDAP directory or Active Directory (flavor: ad), read live with paged searches."
    )
    default_map: ClassVar[Mapping[str, str]] = LDAP_MAP

    def __init__(
        self,
        *,
        context: ConnectorContext,
        url: str,
        base_dn: str,
        bind_dn: str | None = None,
        password_env: str | None = None,
        filter: str | None = None,
        scope: Literal["sub", "one", "base"] = "sub",
        page_size: int = 500,
        flavor: Literal["ldap", "ad"] = "ldap",
        start_tls: bool = False,
        ca_bundle: str | None = None,
        allow_plain: bool = False,
        service_account_ous: Sequence[str] = (),
        timeout: float = 30.0,
        references: Literal["fail", "skip"] = "fail",
    ) -> None:
        """Options (the keys of a ``connector: ldap`` source or target):

        - ``url``: ``ldaps://host[:636]`` or ``ldap://host[:389]``;
        - ``base_dn``: where the search starts; ``scope``: ``sub``, ``one`` or ``base``;
        - ``bind_dn`` and ``password_env``: a simple bind, the password read from that
          environment variable (neither: an anonymous bind);
        - ``filter``: an LDAP filter (default by flavor, see ``DEFAULT_FILTERS``);
        - ``page_size``: entries per page of the paged search;
        - ``flavor``: ``ldap`` (inetOrgPerson) or ``ad`` (Active Directory);
        - ``start_tls``: upgrade ``ldap://`` to TLS before binding; ``ca_bundle``: a PEM
          file of the CAs to trust (the system's otherwise); certificates are always
          verified;
        - ``allow_plain``: permit ``ldap://`` without TLS to another machine (the password
          then crosses the network in clear);
        - ``service_account_ous``: DNs of OUs whose entries are service accounts;
        - ``timeout``: seconds to connect and to wait for each answer;
        - ``references``: what a search reference does (a referral to another server,
          never followed: it would carry the bind password there): ``fail`` the pull (the
          default: the listing would lack that server's entries), or ``skip`` it with a
          warning. With ``flavor: ad``, the references to the domain's DNS and
          configuration partitions, which hold no account, are skipped either way.
        """
        super().__init__(context=context)
        key = f"{context.key}." if context.key else ""
        self.ldap3 = _library(f"{key}connector")
        parts = urlsplit(url)
        self.ldaps = parts.scheme.casefold() == "ldaps"
        self.host = parts.hostname or ""
        self.port = parts.port or (636 if self.ldaps else 389)
        host = f"[{self.host}]" if ":" in self.host else self.host
        self.url = f"{parts.scheme.casefold()}://{host}:{self.port}"
        self.base_dn = base_dn
        self.flavor: Flavor = flavor
        self.filter = filter or DEFAULT_FILTERS[flavor]
        self.scope = str(getattr(self.ldap3, SCOPES[scope]))
        self.page_size = page_size
        self.start_tls = start_tls
        self.timeout = float(timeout)
        self.references = references
        self.bind_dn = bind_dn
        self.service_ous: tuple[DnKey, ...] = tuple(map(ldap_ad.dn_key, service_account_ous))
        try:
            self.ldap3.operation.search.parse_filter(self.filter, None, True, True, None, False)
        except self.ldap3.core.exceptions.LDAPException as exc:
            raise ConfigError(f"not a valid LDAP filter: {exc}", key=f"{key}filter") from None
        self._password = _secret(password_env, f"{key}password_env") if bind_dn else None
        self.ca_bundle = context.ca_bundle(ca_bundle)
        if not self.ldaps and not start_tls and not is_loopback(url):
            _warn_plain(context.key, self.url)
        self._plan()

    @classmethod
    def check_options(cls, options: Mapping[str, Any]) -> list[tuple[str, str]]:
        problems = super().check_options(options)
        if problems:
            return problems
        start_tls = bool(options.get("start_tls", False))
        problem = url_problem(
            str(options["url"]),
            allow_plain=bool(options.get("allow_plain", False)),
            start_tls=start_tls,
        )
        if problem:
            problems.append(("url", problem))
        ldaps = str(options["url"]).casefold().startswith("ldaps:")
        if start_tls and ldaps:
            problems.append(("start_tls", "is for ldap:// URLs; ldaps:// is TLS from the start"))
        if options.get("ca_bundle") and not (ldaps or start_tls):
            problems.append(("ca_bundle", "is used only with ldaps:// or start_tls: true"))
        if bool(options.get("bind_dn")) != bool(options.get("password_env")):
            given, missing = ("bind_dn", "password_env")
            if options.get("password_env"):
                given, missing = missing, given
            problems.append((given, f"needs {missing} too (neither: an anonymous bind)"))
        for name in ("page_size", "timeout"):
            if name in options and options[name] <= 0:
                problems.append((name, f"must be positive, got {options[name]!r}"))
        named = [("base_dn", options["base_dn"])]
        named += [
            (f"service_account_ous[{index}]", dn)
            for index, dn in enumerate(options.get("service_account_ous") or ())
        ]
        for name, dn in named:
            try:
                ldap_ad.split_dn(dn)
            except ValueError_ as exc:
                problems.append((name, str(exc)))
        search_filter = options.get("filter")
        if search_filter is not None and not _balanced(search_filter):
            problems.append(("filter", f"not an LDAP filter in parentheses: {search_filter!r}"))
        return problems

    def defaults(self) -> Mapping[str, str]:
        return self._defaults

    def _plan(self) -> None:
        """Which attributes to ask for, and how to read them, from the mapping."""
        context = self.context
        flavor_map = AD_MAP if self.flavor == "ad" else LDAP_MAP
        explicit = {field: _names(named) for field, named in context.field_map.items()}
        filtered = {*context.value_options.where, *context.value_options.where_not}
        used = context.compared | (context.correlated or frozenset()) | filtered
        self._defaults = MappingProxyType(
            {
                field: column
                for field, column in flavor_map.items()
                if column.casefold() not in ldap_ad.DN_TO_MAIL or field in used
            }
        )
        effective: dict[str, tuple[str, ...]] = {
            field: (column,) for field, column in self._defaults.items()
        }
        effective.update(explicit)
        names = [name for named in effective.values() for name in named]
        names += [name for field in filtered for name in effective.get(field, (field,))]
        derived = ldap_ad.DEPENDS[self.flavor]
        names += [dependency for name in names for dependency in derived.get(name.casefold(), ())]
        self.resolve_mail = any(name.casefold() in ldap_ad.DN_TO_MAIL for name in names)
        if self.resolve_mail:
            names.append("mail")
        chosen = {name.casefold(): name for name in names if name.casefold() not in derived}
        self.attributes = sorted(chosen.values(), key=str.casefold)
        self.dated = frozenset(
            name.casefold() for field in DATE_FIELDS for name in effective.get(field, ())
        )
        self.grouped = frozenset(name.casefold() for name in effective.get("groups", ()))
        self.needs_control = any(
            name.casefold() in (ldap_ad.ACCOUNT_ENABLED, ldap_ad.ACCOUNT_STATUS)
            for named in effective.values()
            for name in named
        )

    def rows(self) -> Iterator[RawRow]:
        directory = Directory(
            ldap3=self.ldap3,
            url=self.url,
            host=self.host,
            port=self.port,
            ldaps=self.ldaps,
            start_tls=self.start_tls,
            ca_bundle=self.ca_bundle,
            bind_dn=self.bind_dn,
            password=self._password,
            timeout=self.timeout,
        )
        entries = Entries(
            origin=self.url,
            flavor=self.flavor,
            dated=self.dated,
            grouped=self.grouped,
            service_ous=self.service_ous,
        )
        directory.connect()
        try:
            pages = directory.pages(
                self.base_dn,
                self.filter,
                self.scope,
                self.attributes,
                self.page_size,
                references=self.references,
                ad=self.flavor == "ad",
            )
            if not self.resolve_mail:
                yield from self._rows(entries, (entry for page in pages for entry in page))
                return
            held = [entry for page in pages for entry in page]  # every DN before any row
            mails = directory.mails(held, ldap_ad.DN_TO_MAIL)
            entries.mail_of = lambda dn: mails.get(ldap_ad.dn_key(dn))
            yield from self._rows(entries, held)
        finally:
            directory.close()

    def _rows(self, entries: Entries, found: Iterable[Entry]) -> Iterator[RawRow]:
        """The rows of the entries; with ``flavor: ad``, a pull in which no entry shows
        ``userAccountControl`` fails: every account would read as enabled, and a source's
        disabled people would not be leavers."""
        shown = not self.needs_control
        count = 0
        for dn, raw in found:
            count += 1
            shown = shown or any(name.casefold() == "useraccountcontrol" for name in raw)
            yield entries.row(dn, raw)
        if count and not shown:
            raise ConnectorError(
                f"{self.url}: none of the {count} entries under {self.base_dn!r} shows"
                " userAccountControl, which says whether an account is enabled: the bind"
                " account may not read it, or the directory is not Active Directory"
                " (flavor: ad)"
            )


def url_problem(url: str, *, allow_plain: bool, start_tls: bool) -> str | None:
    """Why a directory URL is not acceptable, or ``None``: ``ldaps://``, or ``ldap://``
    with StartTLS, to this machine, or with ``allow_plain``; only a server, no DN."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError as exc:
        return f"not a valid URL ({exc})"
    scheme = parts.scheme.casefold()
    if scheme not in ("ldap", "ldaps") or not parts.hostname:
        return f"expected an ldap:// or ldaps:// URL with a host, got {url!r}"
    if parts.username or parts.password:
        return "must not hold credentials; the password comes from password_env"
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        return "must name only the server (ldaps://host:port); base_dn and filter choose entries"
    if scheme == "ldap" and not start_tls and not allow_plain and not is_loopback(url):
        return (
            "plain ldap:// is refused except to this machine: use ldaps://, set"
            " start_tls: true, or set allow_plain: true"
        )
    return None


def _library(key: str) -> ModuleType:
    """``ldap3``, with the submodules used here (loaded by name: the extra may be absent)."""
    try:
        for module in ("ldap3.core.exceptions", "ldap3.operation.search"):
            importlib.import_module(module)
        return importlib.import_module("ldap3")
    except ImportError:
        raise ConfigError(
            f"connector 'ldap' needs the ldap3 library, which is not installed: {INSTALL}",
            key=key,
        ) from None


def _secret(name: str | None, key: str) -> str:
    value = os.environ.get(name or "")
    if not value or not value.strip():
        raise ConfigError(
            f"environment variable {name} is not set (it should hold the bind password)",
            key=key,
        )
    return value


def _balanced(search_filter: str) -> bool:
    """Whether a filter is in parentheses that balance (``ldap3`` checks the rest when the
    connector is built); a backslash escapes the next character."""
    text = re.sub(r"\\.", "", search_filter.strip())
    depth = 0
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth < 0:
            return False
    return depth == 0 and text.startswith("(") and text.endswith(")")


def _names(named: str | tuple[str, ...]) -> tuple[str, ...]:
    return (named,) if isinstance(named, str) else named
