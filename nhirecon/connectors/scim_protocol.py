"""SCIM 2.0 (RFC 7644) as pure data: the requests to send and the checks on the answers.

The ``*_request`` builders make :class:`Request` values for reading a service (its
configuration and its listings), and the ``parse_*`` and ``check_*`` functions judge what
came back; none of them touches the network. Writes are in
:mod:`nhirecon.connectors.scim_writes`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Final
from urllib.parse import urlencode

from nhirecon.connectors.scim_schema import LIST_RESPONSE
from nhirecon.errors import ConnectorError

# Expected answers, by operation (RFC 7644).
LIST_OK: Final = frozenset({HTTPStatus.OK})
"""§3.4.2: a query answers 200 OK with a ListResponse."""
MAX_PAGE: Final = 1000
"""The largest ``count`` asked for; servers clamp it anyway (§3.4.2.4)."""


class ProtocolError(ConnectorError):
    """A SCIM answer that breaks the protocol or cannot be trusted (an incomplete listing)."""


@dataclass(frozen=True)
class Request:
    """One SCIM request, before it is sent: pure data."""

    method: str
    path: str
    """Relative to the service's base URL, starting with ``/``."""
    query: tuple[tuple[str, str], ...] = ()
    body: Mapping[str, Any] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)

    def url(self, base: str) -> str:
        suffix = f"?{urlencode(self.query)}" if self.query else ""
        return f"{base}{self.path}{suffix}"


@dataclass(frozen=True)
class Features:
    """What ``/ServiceProviderConfig`` says the service supports (RFC 7643 §5)."""

    patch: bool | None = None
    """``None``: the service did not say (PATCH is tried, PUT is the fallback)."""
    etag: bool = False
    bulk: bool = False
    bulk_max_operations: int = 0
    filter: bool = False
    cursor: bool = False
    """RFC 9865 ``pagination.cursor``: the service pages by ``cursor`` and ``nextCursor``."""
    max_page_size: int | None = None
    """RFC 9865 ``pagination.maxPageSize``: the most resources a page holds, whatever is asked."""
    cursor_timeout: int | None = None
    """RFC 9865 ``pagination.cursorTimeout``: seconds a cursor stays valid between pages."""


@dataclass(frozen=True)
class Page:
    """One page of a listing."""

    total: int | None
    """``None`` only for a page paged by cursor, where RFC 9865 makes it optional."""
    start: int
    items_per_page: int
    resources: tuple[Mapping[str, Any], ...]
    next_cursor: str | None = None
    """RFC 9865: the cursor of the next page; ``None`` on the last page."""
    url: str = ""
    """Where the page was read, for messages."""


def config_request() -> Request:
    """§4: the service provider configuration."""
    return Request("GET", "/ServiceProviderConfig")


def list_request(
    resource_type: str, start: int, count: int, scim_filter: str | None = None
) -> Request:
    """§3.4.2: one page of a listing, 1-based ``startIndex``."""
    query = [("startIndex", str(start)), ("count", str(count))]
    if scim_filter:
        query.append(("filter", scim_filter))
    return Request("GET", f"/{resource_type}", tuple(query))


def cursor_request(
    resource_type: str, cursor: str, count: int, scim_filter: str | None = None
) -> Request:
    """RFC 9865 §2: one page of a listing by cursor; the empty cursor asks for the first."""
    query = [("cursor", cursor), ("count", str(count))]
    if scim_filter:
        query.append(("filter", scim_filter))
    return Request("GET", f"/{resource_type}", tuple(query))


def _positive(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def parse_features(data: Any) -> Features:
    """The features a ``/ServiceProviderConfig`` document announces."""
    if not isinstance(data, Mapping):
        return Features()

    def supported(name: str) -> bool | None:
        section = data.get(name)
        if isinstance(section, Mapping) and isinstance(section.get("supported"), bool):
            return bool(section["supported"])
        return None

    bulk = data.get("bulk") if isinstance(data.get("bulk"), Mapping) else {}
    assert isinstance(bulk, Mapping)
    max_ops = bulk.get("maxOperations")
    pagination = data.get("pagination")
    if not isinstance(pagination, Mapping):  # RFC 9865 §4
        pagination = {}
    return Features(
        patch=supported("patch"),
        etag=bool(supported("etag")),
        bulk=bool(supported("bulk")),
        bulk_max_operations=max_ops if isinstance(max_ops, int) else 0,
        filter=bool(supported("filter")),
        cursor=pagination.get("cursor") is True,
        max_page_size=_positive(pagination.get("maxPageSize")),
        cursor_timeout=_positive(pagination.get("cursorTimeout")),
    )


def parse_page(data: Any, where: str, *, cursor: bool = False) -> Page:
    """A ListResponse page (§3.4.2), checked; anything else is a :class:`ProtocolError`.

    ``totalResults`` may be missing only from a page paged by cursor (RFC 9865 §2): one
    asked for by ``cursor``, or one that carries a ``nextCursor``.
    """
    if not isinstance(data, Mapping):
        raise ProtocolError(f"{where}: expected a ListResponse object")
    schemas = data.get("schemas")
    if isinstance(schemas, list) and schemas and LIST_RESPONSE not in schemas:
        raise ProtocolError(f"{where}: not a ListResponse (schemas {schemas})")
    next_cursor = data.get("nextCursor")
    if next_cursor is not None and not (isinstance(next_cursor, str) and next_cursor):
        raise ProtocolError(f"{where}: ListResponse with an invalid nextCursor ({next_cursor!r})")
    total = data.get("totalResults")
    optional = total is None and (cursor or next_cursor is not None)
    valid = isinstance(total, int) and not isinstance(total, bool) and total >= 0
    if not (valid or optional):
        raise ProtocolError(f"{where}: ListResponse without a valid totalResults ({total!r})")
    resources = data.get("Resources", [])
    if resources is None:
        resources = []
    if not isinstance(resources, list) or not all(isinstance(r, Mapping) for r in resources):
        raise ProtocolError(f"{where}: ListResponse Resources is not a list of objects")
    start = data.get("startIndex", 1)
    per_page = data.get("itemsPerPage", len(resources))
    if not isinstance(start, int) or isinstance(start, bool) or start < 1:
        raise ProtocolError(f"{where}: ListResponse with an invalid startIndex ({start!r})")
    if not isinstance(per_page, int) or isinstance(per_page, bool) or per_page < 0:
        raise ProtocolError(f"{where}: ListResponse with an invalid itemsPerPage ({per_page!r})")
    if per_page != len(resources):
        raise ProtocolError(
            f"{where}: itemsPerPage says {per_page} but the page holds {len(resources)} resources"
        )
    return Page(total, start, per_page, tuple(resources), next_cursor, where)


def page_starts(total: int, first_page: int) -> range:
    """The ``startIndex`` of every page after the first, given the first page's size.

    A ``range``, never a list: a ``totalResults`` of 10^12 costs nothing until paged.
    """
    if total <= first_page:
        return range(0)
    if first_page < 1:
        raise ProtocolError(
            f"the first page is empty but totalResults says {total}: cannot page through it"
        )
    return range(1 + first_page, total + 1, first_page)


def check_complete(seen: int, unique: int, total: int, where: str) -> None:
    """A listing must hold exactly ``totalResults`` distinct resources."""
    if unique != seen:
        raise ProtocolError(
            f"{where}: the listing returned {seen - unique} resources twice (did it change "
            "during the pull?); refusing an inconsistent estate"
        )
    if seen != total:
        raise ProtocolError(
            f"{where}: the listing returned {seen} resources but totalResults says {total};"
            " refusing an incomplete estate"
        )
