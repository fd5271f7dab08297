"""Every user of an Okta org from the Users API (``GET /api/v1/users``), or none at all.

Okta's plain listing leaves out users whose status is ``DEPROVISIONED``; a ``filter`` or
``search`` query is needed to see them. So a pull is two listings, each paged by the
``Link: <…>; rel="next"`` header to its end:

1. ``filter=status eq "DEPROVISIONED"`` (``filter`` reads current data; ``search`` is
   eventually consistent), every user of which must be deprovisioned;
2. the plain listing, which holds every other status (new statuses Okta may add
   included).

The deprovisioned users are read first: a user deactivated between the two listings is
then missed only while it is inactive, never while it holds access, and a user reactivated
between them comes twice and fails the pull.

A pull is refused (exit 3) rather than handed on partial or padded when: a page fails
after its retries; a page is not a JSON array of users with ids, or holds more users than
its ``limit``; a ``next`` link points to another host, port, scheme or path (the
credentials would follow it), comes back to a page already read, or follows an empty
page; the ``Link`` header cannot be read; a user comes twice; the deprovisioned listing
holds a user of another status (the filter was ignored); or more users than
``max_records`` come.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import urlencode, urlsplit

from nhirecon.errors import ConnectorError
from nhirecon.http import links
from nhirecon.http.answers import DETAIL_LIMIT, HttpError, error_detail
from nhirecon.http.transport import Response, Transport

USERS: Final = "/api/v1/users"
MAX_LIMIT: Final = 200
"""The most users Okta returns per page (``limit``), and its default."""
DEPROVISIONED: Final = "DEPROVISIONED"
ACCEPT: Final = {"Accept": "application/json"}
"""Okta answers JSON; it asks clients to say so."""
SHOWN: Final = 200
"""How much of a URL from an answer (a ``next`` link) a message repeats."""
HINTS: Final[Mapping[int, str]] = {
    401: (
        "the token is invalid, expired or revoked: check the SSWS API token that token_env"
        " names, or the access token of auth"
    ),
    403: (
        "the token may not list users: an API token takes its administrator's role, an"
        " access token needs the okta.users.read scope"
    ),
}


@dataclass(frozen=True)
class Listing:
    """One of the two listings of a pull."""

    label: str
    """What it holds, for messages."""
    query: Mapping[str, str]
    check: Callable[[Mapping[str, Any]], str | None] = field(default=lambda user: None)
    """Why a user returned does not belong in it, or ``None``."""


def _deprovisioned_only(user: Mapping[str, Any]) -> str | None:
    status = user.get("status")
    if isinstance(status, str) and status.upper() == DEPROVISIONED:
        return None
    return (
        f'its status is {status!r} though the listing asked for status eq "{DEPROVISIONED}":'
        " Okta ignored or misapplied the filter"
    )


def listings(limit: int) -> tuple[Listing, Listing]:
    """The listings of a pull, in the order they are read."""
    size = str(limit)
    return (
        Listing(
            "deprovisioned users",
            {"limit": size, "filter": f'status eq "{DEPROVISIONED}"'},
            _deprovisioned_only,
        ),
        Listing("users that are not deprovisioned", {"limit": size}),
    )


@dataclass
class OktaUsers:
    """Iterate it for every user of the org, each a JSON object as Okta sends it."""

    base_url: str
    """The org URL (``https://acme.okta.com``), without a trailing slash."""
    transport: Transport
    limit: int = MAX_LIMIT
    max_records: int = 10_000_000

    @property
    def users_url(self) -> str:
        return f"{self.base_url}{USERS}"

    def __iter__(self) -> Iterator[dict[str, Any]]:
        seen: dict[str, str] = {}
        for listing in listings(self.limit):
            url: str | None = f"{self.users_url}?{urlencode(listing.query)}"
            visited: set[str] = set()
            while url is not None:
                visited.add(url)
                users, following = self._page(url)
                for index, user in enumerate(users):
                    user_id = self._checked(user, url, index, listing)
                    if user_id in seen:
                        where = (
                            f"in the {listing.label}"
                            if seen[user_id] == listing.label
                            else f"in the {seen[user_id]} and the {listing.label}"
                        )
                        raise ConnectorError(
                            f"GET {url}: user {user_id!r} came twice ({where}): did it change"
                            " during the pull? Refusing an inconsistent estate; try again"
                        )
                    seen[user_id] = listing.label
                    if len(seen) > self.max_records:
                        raise ConnectorError(
                            f"GET {url}: the listing goes past max_records"
                            f" ({self.max_records}); refusing it (raise max_records if the"
                            " org really holds more users)"
                        )
                    yield user
                if following is not None:
                    self._check_next(url, following, visited, empty=not users)
                url = following

    def _page(self, url: str) -> tuple[list[Any], str | None]:
        """The users of one page and the URL of the next one (``None`` at the end)."""
        response = self.transport.request("GET", url, headers=ACCEPT)
        if response.status != 200:
            raise self.fail(response)
        try:
            following = links.next_url(response.headers, url)
        except links.LinkError as exc:
            raise ConnectorError(
                f"GET {url}: its Link header cannot be read ({exc}), so whether more pages"
                " follow is unknown; refusing a listing that may be partial"
            ) from None
        data = response.json()
        if not isinstance(data, list):
            raise ConnectorError(
                f"GET {url}: the answer is not a JSON array of users (got {_kind(data)})"
            )
        if len(data) > self.limit:
            raise ConnectorError(
                f"GET {url}: the page holds {len(data)} users, more than the {self.limit}"
                " asked for; refusing a listing that does not page as documented"
            )
        return data, following

    def _checked(self, user: object, url: str, index: int, listing: Listing) -> str:
        """The id of one user of a page, once it passed the listing's checks."""
        user_id = user.get("id") if isinstance(user, dict) else None
        if not isinstance(user_id, str) or not user_id.strip():
            raise ConnectorError(f"GET {url}: item {index} is not a user with an id")
        assert isinstance(user, dict)
        problem = listing.check(user)
        if problem:
            raise ConnectorError(f"GET {url}: user {user_id!r}: {problem}")
        return user_id

    def _check_next(self, url: str, following: str, visited: set[str], *, empty: bool) -> None:
        """Refuse a ``next`` link that leaves the org's user listing, loops, or follows an
        empty page (which could go on forever)."""
        shown = following if len(following) <= SHOWN else following[: SHOWN - 1] + "…"
        if not _same_listing(following, self.users_url):
            raise ConnectorError(
                f'GET {url}: its rel="next" link points elsewhere ({shown}), not to'
                f" {self.users_url}; refusing to send the credentials there"
            )
        if following in visited:
            raise ConnectorError(
                f'GET {url}: its rel="next" link leads back to a page already read'
                f" ({shown}); refusing a listing that loops"
            )
        if empty:
            raise ConnectorError(
                f"GET {url}: an empty page still points to a next one ({shown}); refusing"
                " a listing whose end cannot be found"
            )

    def fail(self, response: Response) -> HttpError:
        """The error for an answer other than 200: the URL, the status, Okta's
        ``errorCode`` and ``errorSummary`` with a hint, scrubbed of every secret before
        anything is cut short."""
        redactor = self.transport.redactor()
        detail = okta_detail(response) or error_detail(response, redactor)
        hint = HINTS.get(response.status, "")
        parts = [part for part in (detail, hint) if part]
        text = redactor.scrub_message("; ".join(parts))
        if len(text) > DETAIL_LIMIT * 2:
            text = text[: DETAIL_LIMIT * 2 - 1] + "…"
        if response.attempts > 1:
            text = f"{text} (after {response.attempts} attempts)"
        return HttpError(response.method, response.url, response.status, text)


def okta_detail(response: Response) -> str:
    """``Okta E0000011: Invalid token provided`` (with the ``errorCauses``) from an Okta
    error object; empty when the body is not one."""
    try:
        data = json.loads(response.body) if response.body.strip() else None
    except (ValueError, RecursionError):
        return ""
    if not isinstance(data, dict):
        return ""
    code, summary = data.get("errorCode"), data.get("errorSummary")
    if not isinstance(code, str) and not isinstance(summary, str):
        return ""
    causes = data.get("errorCauses")
    extra = [
        cause["errorSummary"]
        for cause in (causes if isinstance(causes, list) else [])
        if isinstance(cause, dict) and isinstance(cause.get("errorSummary"), str)
    ]
    text = " ".join(str(part) for part in (code, summary) if isinstance(part, str))
    return f"Okta {text}" + (f" ({'; '.join(extra)})" if extra else "")


def _same_listing(candidate: str, users_url: str) -> bool:
    """Whether ``candidate`` is the org's user listing: same scheme, host, port and path."""
    try:
        found, wanted = urlsplit(candidate), urlsplit(users_url)
        ports = (_port(found), _port(wanted))
    except ValueError:
        return False
    return (
        found.scheme.casefold() == wanted.scheme.casefold()
        and (found.hostname or "").rstrip(".").casefold() == (wanted.hostname or "").casefold()
        and ports[0] == ports[1]
        and found.path.rstrip("/") == wanted.path.rstrip("/")
        and not found.username
        and not found.password
        and not found.fragment
    )


def _port(parts: Any) -> int | None:
    port: int | None = parts.port
    if port is None:
        return {"https": 443, "http": 80}.get(parts.scheme.casefold())
    return port


def _kind(value: object) -> str:
    return {dict: "an object", type(None): "an empty answer"}.get(type(value), type(value).__name__)
