"""Talking to one directory over ``ldap3``: connect (TLS first where configured), bind,
page through a search (RFC 2696) and look up the mail of a DN.

A listing is complete only when the server ends its last page with success and an empty
paging cookie (see :func:`next_cookie`); anything else fails the pull. Every failure of
the library or the network is a :class:`ConnectorError` naming the URL, never the password.
"""

from __future__ import annotations

import ast
import contextlib
import logging
import math
import ssl
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from ipaddress import ip_address
from pathlib import Path
from types import ModuleType
from typing import Any, Final, TypeVar
from urllib.parse import unquote, urlsplit

from nhirecon.connectors import ldap_ad
from nhirecon.connectors.ldap_ad import DnKey
from nhirecon.core.values import ValueError_
from nhirecon.errors import ConnectorError

log = logging.getLogger(__name__)

PAGED_RESULTS: Final = "1.2.840.113556.1.4.319"
"""The simple paged results control (RFC 2696)."""
SUCCESS: Final = 0
SIZE_LIMIT_EXCEEDED: Final = 4
LOOKUP_MISSES: Final = frozenset({10, 32, 50})
"""A DN looked up on its own: referral, noSuchObject and insufficientAccessRights leave
the DN as it is."""
MAX_DETAIL: Final = 400
"""How much of a server's or the library's message an error repeats."""
MAX_TEXT: Final = 4096
"""The longest message text unpacked when it spells a tuple (see :func:`reasons`)."""

AD_PARTITIONS: Final = frozenset({"dc=domaindnszones", "dc=forestdnszones", "cn=configuration"})
"""The first RDN of the partitions an Active Directory domain controller refers a subtree
search of the domain's root to: DNS records and the forest's configuration, never an
account. Every such search meets them, so they are not a partial listing."""

Entry = tuple[str, Mapping[str, Sequence[bytes]]]
"""One entry of a search: its DN and its raw attributes."""
T = TypeVar("T")


@dataclass
class Directory:
    """One connection to one directory, opened by :meth:`connect`."""

    ldap3: ModuleType
    url: str
    """``ldap[s]://host:port``, as messages show it."""
    host: str
    port: int
    ldaps: bool
    start_tls: bool
    ca_bundle: Path | None
    bind_dn: str | None
    password: str | None = field(repr=False)
    timeout: float
    connection: Any = None

    def connect(self) -> None:
        """Open, start TLS where configured, and bind."""
        ldap3 = self.ldap3
        tls = None
        if self.ldaps or self.start_tls:
            tls = ldap3.Tls(
                validate=ssl.CERT_REQUIRED,
                ca_certs_file=str(self.ca_bundle) if self.ca_bundle else None,
                sni=None if _is_address(self.host) else self.host,
            )
        server = ldap3.Server(
            self.host,
            port=self.port,
            use_ssl=self.ldaps,
            tls=tls,
            get_info=ldap3.NONE,
            connect_timeout=self.timeout,
        )
        connection = self.connection = ldap3.Connection(
            server,
            user=self.bind_dn,
            password=self.password,
            authentication=ldap3.SIMPLE if self.bind_dn else ldap3.ANONYMOUS,
            auto_bind=ldap3.AUTO_BIND_NONE,
            auto_referrals=False,  # a referral would carry the password to another server
            raise_exceptions=False,
            read_only=True,
            receive_timeout=math.ceil(self.timeout),  # whole seconds: a socket option
            return_empty_attributes=False,
            check_names=False,
        )
        try:
            self.call("cannot connect", connection.open)
            if self.start_tls and not self.call("StartTLS failed", connection.start_tls, False):
                raise ConnectorError(f"{self.url}: StartTLS failed: {connection.last_error}")
            if not self.call("bind failed", connection.bind, False):
                who = f"as {self.bind_dn!r}" if self.bind_dn else "anonymously"
                raise ConnectorError(f"{self.url}: bind {who} refused: {self.outcome()}")
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self.connection is not None:
            with contextlib.suppress(Exception):
                self.connection.unbind()

    def pages(
        self,
        base: str,
        search_filter: str,
        scope: str,
        attributes: list[str],
        page_size: int,
        *,
        references: str = "fail",
        ad: bool = False,
    ) -> Iterator[list[Entry]]:
        """Each page of a search; the listing is checked complete before its last page.

        Search references (RFC 4511 §4.5.3: entries held by another server, never followed)
        fail the pull after its last page with ``references="fail"``: the listing lacks
        their entries. With ``"skip"`` a warning names them. With ``ad``, references to
        the domain's DNS and configuration partitions (:data:`AD_PARTITIONS`) are skipped
        either way."""
        connection = self.connection
        cookie: bytes | None = None
        pages = count = 0
        referred: list[str] = []
        while True:
            self.call(
                f"search of {base!r} failed",
                connection.search,
                base,
                search_filter,
                search_scope=scope,
                dereference_aliases=self.ldap3.DEREF_NEVER,
                attributes=attributes,
                paged_size=page_size,
                paged_cookie=cookie,
            )
            pages += 1
            found: list[Entry] = []
            for item in connection.response or ():
                if item.get("type") == "searchResEntry":
                    found.append((str(item["dn"]), item.get("raw_attributes") or {}))
                elif item.get("type") == "searchResRef":
                    referred.extend(str(uri) for uri in item.get("uri") or ())
            count += len(found)
            try:
                cookie = next_cookie(connection.result, cookie)
            except ValueError_ as exc:
                if not count:
                    raise ConnectorError(
                        f"{self.url}: the search of {base!r} failed: {exc}"
                    ) from None
                raise ConnectorError(
                    f"{self.url}: the search of {base!r} is incomplete after {count} entries"
                    f" on {pages} page{'s' * (pages > 1)}: {exc}; no partial directory is used"
                ) from None
            if cookie is None:
                referred = [uri for uri in referred if not (ad and _ad_partition(uri))]
                if referred and references == "fail":
                    raise ConnectorError(
                        f"{self.url}: the search of {base!r} was referred to other servers"
                        f" ({len(referred)}: {', '.join(referred[:3])}), whose entries are"
                        " not read (a referral is never followed: it would carry the bind"
                        " password elsewhere); no partial directory is used: read each"
                        " server as its own input, narrow `base_dn`, or set"
                        " `references: skip` to read without those entries"
                    )
            yield found
            if cookie is None:
                break
        if referred:
            log.warning(
                "%s: %d search references to other servers were not followed (the bind"
                " password is never sent elsewhere), so their entries are not read: %s",
                self.url,
                len(referred),
                ", ".join(referred[:3]),
            )
        log.info("%s: %d entries in %d pages", self.url, count, pages)

    def mails(self, held: Sequence[Entry], names: frozenset[str]) -> dict[DnKey, str | None]:
        """The ``mail`` of every DN that the attributes ``names`` (case-folded) of the
        entries hold: from the entries themselves, else looked up one by one."""
        mails: dict[DnKey, str | None] = {}
        for dn, raw in held:
            mails[ldap_ad.dn_key(dn)] = first_text(values(raw, "mail"))
        for _, raw in held:
            for name in names:
                for value in values(raw, name):
                    named = first_text([value])
                    if named and ldap_ad.dn_key(named) not in mails:
                        mails[ldap_ad.dn_key(named)] = self.mail_of(named)
        return mails

    def mail_of(self, dn: str) -> str | None:
        """The ``mail`` of one entry, read on its own; ``None`` when it has none or the
        server does not show it (see ``LOOKUP_MISSES``)."""
        connection = self.connection
        self.call(
            f"lookup of {dn!r} failed",
            connection.search,
            dn,
            "(objectClass=*)",
            search_scope=self.ldap3.BASE,
            dereference_aliases=self.ldap3.DEREF_NEVER,
            attributes=["mail"],
        )
        code = connection.result.get("result")
        if code in LOOKUP_MISSES:
            return None
        if code != SUCCESS:
            raise ConnectorError(f"{self.url}: lookup of {dn!r} failed: {self.outcome()}")
        for item in connection.response or ():
            if item.get("type") == "searchResEntry":
                return first_text(values(item.get("raw_attributes") or {}, "mail"))
        return None

    def call(self, what: str, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``function(*args, **kwargs)``, with the library's and the network's failures as
        a :class:`ConnectorError` that names the URL (and never the password)."""
        try:
            return function(*args, **kwargs)
        except (self.ldap3.core.exceptions.LDAPException, OSError) as exc:
            detail = self.redacted("; ".join(dict.fromkeys(reasons(exc))))
            hint = ""
            if "CERTIFICATE_VERIFY_FAILED" in detail:
                hint = " (a CA that is not trusted signed the certificate: set ca_bundle to it)"
            elif "doesn't match" in detail:
                hint = " (the certificate names another host: use that name in url)"
            raise ConnectorError(f"{self.url}: {what}: {detail}{hint}") from None

    def outcome(self) -> str:
        """The last operation's result, as a message shows it."""
        result = self.connection.result or {}
        message = str(result.get("message") or "").strip()
        shown = f"{result.get('description') or 'error'} ({result.get('result')})"
        return self.redacted(f"{shown}: {message}" if message else shown)

    def redacted(self, text: str) -> str:
        if self.password and len(self.password) >= 4:
            text = text.replace(self.password, "[redacted]")
        return text[:MAX_DETAIL] + "…" if len(text) > MAX_DETAIL else text


def next_cookie(result: Mapping[str, Any], sent: bytes | None) -> bytes | None:
    """The cookie to send for the next page, or ``None`` when the listing is complete.

    Complete means the server ended the page with success and an empty cookie, or (on the
    first page) with success and no paging control at all: a server that ignores the
    control returns the whole listing. Anything else raises :class:`ValueError_`."""
    code = result.get("result")
    if code == SIZE_LIMIT_EXCEEDED:
        raise ValueError_(
            "the server stopped at its size limit (sizeLimitExceeded); lift the limit for"
            " the bind account (OpenLDAP: olcLimits size.prtotal=unlimited)"
        )
    if code != SUCCESS:
        message = str(result.get("message") or "").strip()
        detail = f": {message[:MAX_DETAIL]}" if message else ""
        raise ValueError_(f"the server ended it with {result.get('description')} ({code}){detail}")
    control = (result.get("controls") or {}).get(PAGED_RESULTS)
    if control is None:
        if sent is None:
            return None
        raise ValueError_("the server dropped the paging control before the end of the listing")
    cookie = (control.get("value") or {}).get("cookie") or None
    if cookie is not None and cookie == sent:
        raise ValueError_("the server sent the same paging cookie twice")
    return bytes(cookie) if cookie is not None else None


def reasons(value: object) -> list[str]:
    """The messages inside an exception of ``ldap3``, which nests exceptions, tuples of
    (exception, address) and the text of tuples in its own messages."""
    if isinstance(value, BaseException):
        return [reason for arg in value.args for reason in reasons(arg)] or [type(value).__name__]
    if isinstance(value, list | tuple):
        if len(value) == 2 and isinstance(value[0], BaseException):
            return reasons(value[0])  # (the exception, the address it was raised for)
        return [reason for item in value for reason in reasons(item)]
    if not isinstance(value, str):
        return []
    text = value.strip()
    if text[:1] in ("(", "[") and len(text) <= MAX_TEXT:
        with contextlib.suppress(ValueError, SyntaxError, MemoryError, RecursionError):
            return reasons(ast.literal_eval(text))
    return [text] if text else []


def values(raw: Mapping[str, Sequence[bytes]], name: str) -> list[bytes]:
    """The values of attribute ``name`` (case-folded) in raw attributes."""
    return next((list(found) for key, found in raw.items() if key.casefold() == name), [])


def first_text(found: Sequence[bytes]) -> str | None:
    """The first value that is UTF-8 text, trimmed; ``None`` when there is none."""
    for value in found:
        with contextlib.suppress(UnicodeDecodeError):
            return bytes(value).decode("utf-8").strip() or None
    return None


def _is_address(host: str) -> bool:
    try:
        ip_address(host)
    except ValueError:
        return False
    return True


def _ad_partition(uri: str) -> bool:
    """Whether an LDAP URL (RFC 4516) refers to one of :data:`AD_PARTITIONS`."""
    dn = unquote(urlsplit(uri).path.lstrip("/"))
    first = dn.split(",", 1)[0].replace(" ", "").casefold()
    return first in AD_PARTITIONS
