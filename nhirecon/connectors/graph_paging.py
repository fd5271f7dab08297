"""Complete listings from Microsoft Graph, or none at all.

Graph pages a collection by ``@odata.nextLink``: each page names the next, and the last page
names none. Graph offers no count that could check a listing of directory objects
(``$count`` needs ``ConsistencyLevel: eventual``, an index that lags, and does not combine
with ``$expand``), so a listing is trusted only when it is followed to its end and every
page passes these checks; anything else fails the pull (exit 3), never a partial estate:

- an answer other than ``200`` after the transport's bounded retries (429 and 503 honour
  ``Retry-After``), named with Graph's own ``error.code`` and ``error.message``;
- a page that is not an object with a ``value`` list, or that holds more items than
  ``$top`` asked for;
- an item without an ``id``, or an ``id`` seen twice in the listing;
- a next link to another scheme, host, port or path than the listing's own (the bearer
  token goes only to the configured Graph), or one seen before;
- more than :data:`MAX_EMPTY_PAGES` empty pages in a row that still point further;
- more items than ``max_records``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import quote, urlencode, urlsplit

from nhirecon.errors import ConnectorError
from nhirecon.http.answers import DETAIL_LIMIT, error_detail
from nhirecon.http.redact import Redactor
from nhirecon.http.transport import HttpError, Response, Transport

API_VERSION: Final = "v1.0"
NEXT_LINK: Final = "@odata.nextLink"
MAX_RECORDS: Final = 10_000_000
"""The default ``max_records``: the most objects one listing may return."""
MAX_EMPTY_PAGES: Final = 10
"""Empty pages in a row that may still point further (Graph serves a few with some
filters) before the listing is refused as one that never ends."""
JSON: Final = {"Accept": "application/json"}


class GraphError(ConnectorError):
    """A Graph answer that cannot be trusted as part of a complete listing."""


@dataclass(frozen=True)
class Hint:
    """What to tell the user about a refused request, by status (and Graph's error code)."""

    by_status: Mapping[int, str] = field(default_factory=dict)
    by_code: Mapping[str, str] = field(default_factory=dict)

    def __call__(self, status: int, code: str) -> str:
        return self.by_code.get(code) or self.by_status.get(status, "")


def graph_detail(response: Response, redactor: Redactor) -> tuple[str, str]:
    """The error code and a message of an error answer, scrubbed of every secret before it
    is cut short: Graph's ``{"error": {"code": ..., "message": ...}}``, the token endpoint's
    ``{"error": ..., "error_description": ...}``, or what another body says."""
    try:
        data = json.loads(response.body) if response.body.strip() else None
    except (ValueError, RecursionError):
        data = None
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict):
        code = error.get("code")
        code = redactor.scrub_text(code) if isinstance(code, str) else ""
        message = error.get("message")
        message = redactor.scrub_text(message) if isinstance(message, str) else ""
        text = ": ".join(part for part in (code, message) if part.strip())
        return code, _short(text)
    if isinstance(error, str) and isinstance(data, dict):  # OAuth 2.0 (RFC 6749 §5.2)
        code = redactor.scrub_text(error)
        described = data.get("error_description")
        message = redactor.scrub_text(described) if isinstance(described, str) else ""
        return code, _short(": ".join(part for part in (code, message) if part.strip()))
    return "", error_detail(response, redactor)


def _short(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= DETAIL_LIMIT else flat[: DETAIL_LIMIT - 1] + "…"


@dataclass
class GraphClient:
    """Reads one Graph service (``base`` is ``graph_url``) through a transport."""

    base: str
    transport: Transport
    hint: Hint = field(default_factory=Hint)

    @property
    def root(self) -> str:
        return f"{self.base}/{API_VERSION}"

    def collection_url(
        self, path: str, *, select: list[str], expand: list[str], top: int | None
    ) -> str:
        query: list[tuple[str, str]] = []
        if select:
            query.append(("$select", ",".join(select)))
        if expand:
            query.append(("$expand", ",".join(expand)))
        if top is not None:
            query.append(("$top", str(top)))
        suffix = f"?{urlencode(query, safe='$,')}" if query else ""
        return f"{self.root}/{path}{suffix}"

    def related_url(self, path: str, object_id: str, relation: str) -> str:
        return f"{self.root}/{path}/{quote(object_id, safe='')}/{relation}"

    def get(self, url: str) -> Any:
        """The JSON of a ``200`` answer to ``GET url``; any other answer fails, naming the
        URL, the status and Graph's error."""
        response = self.transport.request("GET", url, headers=JSON)
        if response.status != 200:
            raise self.fail(response)
        return response.json()

    def fail(self, response: Response, expected: str = "200") -> HttpError:
        """The error for an unexpected answer, with Graph's code and message and a hint."""
        redactor = self.transport.redactor()
        code, detail = graph_detail(response, redactor)
        if response.attempts > 1:
            detail = f"{detail} (after {response.attempts} attempts)".strip()
        hint = self.hint(response.status, code)
        parts = [detail, f"expected {expected}", hint]
        text = "; ".join(part for part in parts if part)
        return HttpError(
            response.method, response.url, response.status, redactor.scrub_message(text)
        )

    def list_all(
        self, url: str, *, top: int | None, max_records: int = MAX_RECORDS
    ) -> Iterator[dict[str, Any]]:
        """Every item of the listing that starts at ``url``, following ``@odata.nextLink``
        to the last page, each page checked (see the module's docstring)."""
        seen_links = {url}
        seen_ids: set[str] = set()
        empty_run = 0
        following: str | None = url
        while following is not None:
            page_url = following
            page = self.get(page_url)
            items = _items(page, page_url)
            if top is not None and len(items) > top:
                raise GraphError(
                    f"GET {page_url}: the page holds {len(items)} objects but $top asked for"
                    f" {top}; refusing a listing that does not page as asked"
                )
            following = self._next(page, page_url, url, seen_links)
            empty_run = empty_run + 1 if not items and following else 0
            if empty_run > MAX_EMPTY_PAGES:
                raise GraphError(
                    f"GET {page_url}: {empty_run} empty pages in a row, each pointing to"
                    " another; refusing a listing that does not end"
                )
            for index, item in enumerate(items):
                object_id = item.get("id") if isinstance(item, dict) else None
                if not isinstance(object_id, str) or not object_id:
                    raise GraphError(f"GET {page_url}: value[{index}] is not an object with an id")
                if object_id in seen_ids:
                    raise GraphError(
                        f"GET {page_url}: object {object_id!r} came twice in the listing (did"
                        " it change during the pull?); refusing an inconsistent estate"
                    )
                seen_ids.add(object_id)
                if len(seen_ids) > max_records:
                    raise GraphError(
                        f"GET {page_url}: the listing goes past max_records ({max_records});"
                        " refusing it (raise max_records if the tenant really holds more)"
                    )
                yield item

    def _next(self, page: dict[str, Any], page_url: str, first: str, seen: set[str]) -> str | None:
        """The page's next link, checked: it stays on the listing's scheme, host, port and
        path (the token goes nowhere else), and never points back to a page already read."""
        link = page.get(NEXT_LINK)
        if link is None:
            return None
        if not isinstance(link, str) or not link:
            raise GraphError(f"GET {page_url}: {NEXT_LINK} is not a URL: {link!r}")
        wanted, found = urlsplit(first), urlsplit(link)
        try:
            same = (
                found.scheme.casefold() == wanted.scheme.casefold()
                and (found.hostname or "").casefold() == (wanted.hostname or "").casefold()
                and found.port == wanted.port
                and found.path == wanted.path
                and not (found.username or found.password)
            )
        except ValueError:  # a port that is not a number
            same = False
        if not same:
            raise GraphError(
                f"GET {page_url}: {NEXT_LINK} leads elsewhere"
                f" ({found.scheme}://{found.netloc}{found.path}, not"
                f" {wanted.scheme}://{wanted.netloc}{wanted.path}); the token is never sent"
                " there, so the listing cannot be completed: refusing it"
            )
        if link in seen:
            raise GraphError(
                f"GET {page_url}: {NEXT_LINK} points back to a page already read; refusing a"
                " listing that loops"
            )
        seen.add(link)
        return link


def _items(page: Any, url: str) -> list[Any]:
    value = page.get("value") if isinstance(page, dict) else None
    if not isinstance(value, list):
        raise GraphError(f"GET {url}: the answer is not a Graph collection (no `value` list)")
    return value
