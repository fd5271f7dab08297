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
from http import HTTPStatus
from typing import Any

from nhirecon.connectors.scim_protocol import (
    DELETE_OK,
    GET_OK,
    LIST_OK,
    MAX_PAGE,
    NOT_FOUND,
    NOT_SUPPORTED,
    PATCH_OK,
    PUT_OK,
    AccountState,
    Features,
    LiveAccount,
    Page,
    ProtocolError,
    Request,
    WriteResult,
    account_state,
    check_complete,
    config_request,
    delete_request,
    disable_patch,
    disable_put,
    get_request,
    list_request,
    page_starts,
    parse_features,
    parse_page,
    resource_version,
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

    def read(self, resource_id: str) -> LiveAccount:
        """The account as it is now (§3.4.1); 404 means it is gone."""
        response = self.send(get_request(self.resource_type, resource_id))
        if response.status == NOT_FOUND:
            return LiveAccount(AccountState.GONE)
        if response.status not in GET_OK:
            raise self.transport.fail(response, "200 or 404")
        resource = response.json()
        if not isinstance(resource, Mapping):
            raise ProtocolError(f"GET {response.url}: expected a resource object")
        return LiveAccount(account_state(resource), resource_version(response, resource), resource)

    def _version(self, live: LiveAccount) -> str | None:
        return live.version if self.features().etag else None

    def disable(self, resource_id: str, live: LiveAccount) -> WriteResult:
        """Set ``active`` to false: PATCH where supported, else PUT of the whole resource."""
        features = self.features()
        version = self._version(live)
        if features.patch is not False:
            response = self.send(disable_patch(self.resource_type, resource_id, version))
            if response.status not in NOT_SUPPORTED:
                return self._result(response, PATCH_OK)
            log.info("%s: PATCH not supported (HTTP %s); using PUT", self.base_url, response.status)
            with self._lock:
                self._features = _without_patch(features)
        if live.resource is None:
            return WriteResult(0, False, "no resource read to PUT back")
        return self._result(
            self.send(disable_put(self.resource_type, live.resource, version)), PUT_OK
        )

    def delete(self, resource_id: str, live: LiveAccount) -> WriteResult:
        response = self.send(delete_request(self.resource_type, resource_id, self._version(live)))
        return self._result(response, DELETE_OK)

    def _result(self, response: Response, expected: frozenset[HTTPStatus]) -> WriteResult:
        if response.status in expected:
            return WriteResult(response.status, True)
        error = self.transport.fail(response)
        return WriteResult(response.status, False, error.detail)


def _without_patch(features: Features) -> Features:
    return Features(
        patch=False,
        etag=features.etag,
        bulk=features.bulk,
        bulk_max_operations=features.bulk_max_operations,
        filter=features.filter,
    )
