"""Complete listings from a SCIM 2.0 service, or none at all.

A listing is paged by cursor (RFC 9865) where the service offers it, else by ``startIndex``
(RFC 7644 §3.4.2.4, the pages after the first fetched concurrently). Whatever the paging,
a listing is refused (:class:`~nhirecon.connectors.scim_protocol.ProtocolError`, exit 3)
rather than handed on partial or padded:

- a ``totalResults`` over ``max_records``, or more resources than that without one;
- a page holding more resources than its ``count`` asked for;
- an empty page before ``totalResults`` resources came (paging stops there), or an empty
  page that still points to a next one;
- a resource seen twice, a ``totalResults`` that changes, a ``nextCursor`` seen before;
- a resource outside the configured ``filter`` (the service ignored it);
- a listing whose end is not confirmed: by index, the page past ``totalResults`` must be
  empty; a service that refuses that page (400, 404, 416) is asked for the last resource
  and the one after it instead, which must be the last resource alone. Any other error is
  not a confirmation.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Final

from nhirecon.connectors.scim_filter import ScimFilter
from nhirecon.connectors.scim_protocol import (
    LIST_OK,
    MAX_PAGE,
    Features,
    Page,
    ProtocolError,
    Request,
    check_complete,
    cursor_request,
    list_request,
    page_starts,
    parse_page,
)
from nhirecon.http.transport import HttpError, Response, Transport

MAX_RECORDS: Final = 10_000_000
"""The default ``max_records``: the most resources one listing may announce or return."""
NO_SUCH_PAGE: Final = frozenset({400, 404, 416})
"""Answers by which a service refuses a ``startIndex`` past the end of its listing."""


@dataclass
class Tally:
    """What a listing has returned so far, and the checks every page and resource pass."""

    where: str
    scim_filter: ScimFilter | None
    max_records: int
    total: int | None = None
    returned: int = 0
    seen: set[str] = field(default_factory=set)

    def expect(self, page: Page) -> None:
        """Note the page's ``totalResults``: within ``max_records``, and never changing."""
        if page.total is None:
            return
        if self.total is None:
            if page.total > self.max_records:
                raise ProtocolError(
                    f"{page.url}: totalResults says {page.total}, more than max_records"
                    f" ({self.max_records}); refusing to page through it (raise max_records"
                    " if the service really holds that many)"
                )
            self.total = page.total
        elif page.total != self.total:
            raise ProtocolError(
                f"{self.where}: totalResults changed from {self.total} to {page.total} during"
                " the pull; the listing is not stable, try again"
            )

    def take(self, page: Page) -> Iterator[Mapping[str, Any]]:
        self.expect(page)
        for resource in page.resources:
            resource_id = str(resource.get("id"))
            if resource_id in self.seen:
                raise ProtocolError(
                    f"{page.url}: resource {resource_id!r} came twice in the listing (did it"
                    " change during the pull?); refusing an inconsistent estate"
                )
            if self.scim_filter is not None and not self.scim_filter.matches(resource):
                raise ProtocolError(
                    f"{page.url}: resource {resource_id!r} does not match the filter"
                    f" {self.scim_filter.text!r}: the service ignored or misapplied it;"
                    " refusing a listing that holds accounts outside the filter"
                )
            self.seen.add(resource_id)
            self.returned += 1
            if self.returned > self.max_records:
                raise ProtocolError(
                    f"{page.url}: the listing goes past max_records ({self.max_records});"
                    " refusing it (raise max_records if the service really holds more)"
                )
            yield resource

    def complete(self) -> None:
        if self.total is not None:
            check_complete(self.returned, len(self.seen), self.total, self.where)


@dataclass
class Listing:
    """One listing of one resource type; iterate it for the resources, in order."""

    send: Callable[[Request], Response]
    transport: Transport
    features: Callable[[], Features]
    """Called once, when the listing starts."""
    base_url: str
    resource_type: str
    page_size: int
    scim_filter: ScimFilter | None = None
    max_workers: int = 1
    max_records: int = MAX_RECORDS

    @property
    def where(self) -> str:
        return f"{self.base_url}/{self.resource_type}"

    @property
    def filter_text(self) -> str | None:
        return self.scim_filter.text if self.scim_filter else None

    def __iter__(self) -> Iterator[Mapping[str, Any]]:
        features = self.features()
        count = max(1, min(self.page_size, MAX_PAGE, features.max_page_size or MAX_PAGE))
        tally = Tally(self.where, self.scim_filter, self.max_records)
        if features.cursor:
            yield from self._by_cursor(tally, count, None)
            return
        first = self._fetch(list_request(self.resource_type, 1, count, self.filter_text), count)
        if first.next_cursor is not None:  # it pages by cursor, whatever it was asked
            yield from self._by_cursor(tally, count, first)
        else:
            yield from self._by_index(tally, count, first)

    def _fetch(self, request: Request, count: int, *, cursor: bool = False) -> Page:
        response = self.send(request)
        if response.status not in LIST_OK:
            raise self.transport.fail(response, "200 with a ListResponse")
        page = parse_page(response.json(), response.url, cursor=cursor)
        if len(page.resources) > count:
            raise ProtocolError(
                f"{page.url}: the page holds {len(page.resources)} resources but count asked"
                f" for {count}; refusing a listing that does not page as asked"
            )
        return page

    # --- by startIndex ----------------------------------------------------------------------

    def _by_index(self, tally: Tally, count: int, first: Page) -> Iterator[Mapping[str, Any]]:
        yield from tally.take(first)
        total = tally.total
        assert total is not None  # parse_page requires it of a page without a cursor
        if not first.resources:
            if total:
                raise ProtocolError(
                    f"{first.url}: the first page is empty but totalResults says {total};"
                    " refusing an incomplete estate"
                )
            return  # the page at startIndex 1 is the page past totalResults 0: confirmed
        step = len(first.resources)
        with contextlib.closing(self._pages(page_starts(total, step), step)) as pages:
            for page in pages:
                if not page.resources:
                    raise ProtocolError(
                        f"{self.where}: the listing returned {tally.returned} resources but"
                        f" totalResults says {total}, and {page.url} is empty; refusing an"
                        " incomplete estate"
                    )
                yield from tally.take(page)
        tally.complete()
        self._confirm_end(tally, total)

    def _pages(self, starts: Iterable[int], step: int) -> Generator[Page]:
        """The pages at ``starts``, fetched ``max_workers`` at a time, in order.

        At most ``2 * max_workers`` pages are asked for ahead of the one handed on, so
        memory stays bounded and a listing that stops early stops within a few requests.
        """
        workers = max(1, self.max_workers)

        def fetch(start: int) -> Page:
            request = list_request(self.resource_type, start, step, self.filter_text)
            return self._fetch(request, step)

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

    def _confirm_end(self, tally: Tally, total: int) -> None:
        """The page past ``totalResults`` must be empty: a service that capped or got its
        total wrong still serves what lies past it. An error is not a confirmation."""
        request = list_request(self.resource_type, total + 1, 1, self.filter_text)
        try:
            after = self._fetch(request, 1)
        except HttpError as exc:
            if exc.status not in NO_SUCH_PAGE:
                raise self._unconfirmed(exc) from exc
            self._confirm_last(tally, total)
            return
        if after.resources or after.total != total:
            raise ProtocolError(
                f"{self.where}: totalResults says {total} but the service holds more"
                f" (startIndex {total + 1} returned {len(after.resources)} resources,"
                f" totalResults {after.total}); refusing an incomplete estate"
            )

    def _confirm_last(self, tally: Tally, total: int) -> None:
        """For a service that refuses a ``startIndex`` past its end: the last resource and
        the one after it must be the last resource alone."""
        request = list_request(self.resource_type, total, 2, self.filter_text)
        try:
            last = self._fetch(request, 2)
        except HttpError as exc:
            raise self._unconfirmed(exc) from exc
        ids = [str(resource.get("id")) for resource in last.resources]
        if len(ids) != 1 or ids[0] not in tally.seen or last.total != total:
            raise ProtocolError(
                f"{last.url}: totalResults says {total} but startIndex {total} with count 2"
                f" returned {len(ids)} resources (totalResults {last.total}); the end of the"
                " listing is not where the service says, refusing an incomplete estate"
            )

    def _unconfirmed(self, exc: HttpError) -> ProtocolError:
        return ProtocolError(
            f"{self.where}: the end of the listing could not be confirmed ({exc}); an error"
            " is not a confirmation, refusing an estate that may be incomplete"
        )

    # --- by cursor (RFC 9865) -------------------------------------------------------------

    def _by_cursor(
        self, tally: Tally, count: int, first: Page | None
    ) -> Iterator[Mapping[str, Any]]:
        """Follow ``nextCursor`` to the page without one (one page at a time: a cursor is
        only known once the page before it has come)."""
        cursors: set[str] = set()
        page = first or self._fetch(self._cursor("", count), count, cursor=True)
        while True:
            yield from tally.take(page)
            following = page.next_cursor
            if following is None:
                break
            if not page.resources:
                raise ProtocolError(
                    f"{page.url}: an empty page that points to a next one (nextCursor); the"
                    f" listing returned {tally.returned} resources and does not end, refusing"
                    " an incomplete estate"
                )
            if following in cursors:
                raise ProtocolError(
                    f"{page.url}: nextCursor repeats an earlier cursor; the listing loops,"
                    " refusing it"
                )
            cursors.add(following)
            page = self._fetch(self._cursor(following, count), count, cursor=True)
        tally.complete()

    def _cursor(self, cursor: str, count: int) -> Request:
        return cursor_request(self.resource_type, cursor, count, self.filter_text)
