"""A SCIM 2.0 client (RFC 7644): a thin layer that sends requests over a transport.

The protocol itself (the ``*_request`` builders, ``parse_*`` and ``check_*`` functions) lives
in :mod:`nhirecon.connectors.scim_protocol` and knows nothing of the network;
:class:`ScimClient` sends what they build through a
:class:`~nhirecon.http.transport.Transport` and hands the answers back to them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from nhirecon.connectors.scim_protocol import (
    LIST_OK,
    MAX_PAGE,
    Features,
    Page,
    ProtocolError,
    Request,
    check_complete,
    config_request,
    list_request,
    page_starts,
    parse_features,
    parse_page,
)
from nhirecon.errors import ConnectorError
from nhirecon.http.transport import Response, Transport

log = logging.getLogger(__name__)


@dataclass
class ScimClient:
    """Talks SCIM to one service provider."""

    base_url: str
    transport: Transport
    resource_type: str = "Users"
    _features: Features | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def send(self, request: Request) -> Response:
        return self.transport.request(
            request.method,
            request.url(self.base_url),
            body=request.body,
            headers=request.headers,
        )

    def features(self) -> Features:
        """Discovered once from ``/ServiceProviderConfig``; a service without one gets defaults."""
        with self._lock:
            if self._features is None:
                response = self.send(config_request())
                if response.status == 200:
                    self._features = parse_features(response.json())
                elif response.status in (401, 403):
                    raise self.transport.fail(response, "200 (check the credentials)")
                else:
                    log.warning(
                        "%s: no service provider config (HTTP %s); assuming defaults",
                        response.url,
                        response.status,
                    )
                    self._features = Features()
            return self._features

    def _page(self, resource_type: str, start: int, count: int, scim_filter: str | None) -> Page:
        request = list_request(resource_type, start, count, scim_filter)
        response = self.send(request)
        if response.status not in LIST_OK:
            raise self.transport.fail(response, "200 with a ListResponse")
        return parse_page(response.json(), response.url)

    def list_all(
        self,
        resource_type: str,
        *,
        page_size: int,
        scim_filter: str | None = None,
        max_workers: int = 1,
    ) -> Iterator[Mapping[str, Any]]:
        """Every resource of a type, page by page; the pages after the first are fetched
        concurrently, and yielded in order.

        The listing must hold exactly ``totalResults`` distinct resources, else
        :class:`ProtocolError` (never a partial estate). One that ends on a full page is
        asked for the page past ``totalResults`` too, which must be empty.
        """
        count = max(1, min(page_size, MAX_PAGE))
        where = f"{self.base_url}/{resource_type}"
        first = self._page(resource_type, 1, count, scim_filter)
        total = first.total
        seen: set[str] = set()
        returned = 0

        def take(page: Page) -> Iterator[Mapping[str, Any]]:
            nonlocal returned
            if page.total != total:
                raise ProtocolError(
                    f"{where}: totalResults changed from {total} to {page.total} during the"
                    " pull; the listing is not stable, try again"
                )
            for resource in page.resources:
                returned += 1
                seen.add(str(resource.get("id")))
                yield resource

        yield from take(first)
        starts = page_starts(total, len(first.resources))
        step = len(first.resources)
        last = len(first.resources)
        for page in self._pages(resource_type, starts, step, scim_filter, max_workers):
            last = len(page.resources)
            yield from take(page)
        check_complete(returned, len(seen), total, where)
        if total and last >= (step if starts else count):
            self._check_nothing_past(resource_type, total, scim_filter, where)

    def _check_nothing_past(
        self, resource_type: str, total: int, scim_filter: str | None, where: str
    ) -> None:
        """A listing that ended on a full page may have been cut short by a ``totalResults``
        the service capped or got wrong: the page past it must be empty. A service that
        will not answer for that page is taken at its word."""
        try:
            after = self._page(resource_type, total + 1, 1, scim_filter)
        except ConnectorError as exc:
            log.debug("%s: no answer for the page past totalResults %d (%s)", where, total, exc)
            return
        if after.resources or after.total != total:
            raise ProtocolError(
                f"{where}: totalResults says {total} but the service holds more (startIndex"
                f" {total + 1} returned {len(after.resources)} resources, totalResults"
                f" {after.total}); refusing an incomplete estate"
            )

    def _pages(
        self,
        resource_type: str,
        starts: Sequence[int],
        step: int,
        scim_filter: str | None,
        max_workers: int,
    ) -> Iterator[Page]:
        """The pages at ``starts``, fetched ``max_workers`` at a time, in order.

        At most ``2 * max_workers`` pages are held at once, so memory stays bounded.
        """
        if not starts:
            return
        workers = max(1, max_workers)
        fetch: Callable[[int], Page] = lambda start: self._page(  # noqa: E731
            resource_type, start, step, scim_filter
        )
        with ThreadPoolExecutor(workers, thread_name_prefix="nhirecon-scim") as pool:
            pending: list[Future[Page]] = []
            upcoming = iter(starts)
            try:
                for start in upcoming:
                    pending.append(pool.submit(fetch, start))
                    if len(pending) >= 2 * workers:
                        break
                while pending:
                    page = pending.pop(0).result()
                    next_start = next(upcoming, None)
                    if next_start is not None:
                        pending.append(pool.submit(fetch, next_start))
                    yield page
            finally:
                for future in pending:
                    future.cancel()
