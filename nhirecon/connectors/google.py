"""Google Workspace users, read live from the Admin SDK Directory API (read-only).

``GET {api_url}/admin/directory/v1/users?customer=…&maxResults=…&projection=full``, then
each ``nextPageToken`` until a page has none: a listing is complete or the pull fails. A
service account authenticates with a signed assertion (see
:mod:`nhirecon.http.google_auth`), acting as ``subject`` under domain-wide delegation.

Each user is read as Google sends it, with three names added that the default mapping
uses, and the "never" of ``lastLoginTime`` read as no value (see
:mod:`nhirecon.connectors.google_users`).

Google limits requests per user and per project: a 429, or a 403 whose ``errors[].reason``
is ``rateLimitExceeded``, ``userRateLimitExceeded`` or ``quotaExceeded`` (Google's error
body carries no rate-limit header), is a wait with exponential back-off, up to
``retries`` times; any other answer but 200 fails the pull naming the URL and status.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar, Final
from urllib.parse import urlencode

from nhirecon.connectors.base import Connector, ConnectorContext, RawRow
from nhirecon.connectors.context import range_problems
from nhirecon.connectors.google_users import (
    DEFAULT_MAP,
    MAX_PAGE,
    SCOPE,
    USERS_PATH,
    page_users,
    user_view,
)
from nhirecon.connectors.json import row
from nhirecon.connectors.scim_listing import MAX_RECORDS
from nhirecon.errors import ConnectorError
from nhirecon.http import google_auth
from nhirecon.http.google_errors import GoogleGet, empty_run, next_token
from nhirecon.http.limits import Limits
from nhirecon.http.tls import warn_unverified
from nhirecon.http.urls import url_problem

log = logging.getLogger(__name__)

API_URL: Final = "https://admin.googleapis.com"
POSITIVE: Final = ("timeout", "max_response_mb", "max_records")
HINTS: Final[Mapping[int, str]] = {
    400: "check `customer` (my_customer, or the account's customer ID such as C01234567)",
    401: "the access token was refused, also once renewed",
    403: (
        "the account acted as (`subject`, or the service account itself without it) may not"
        " read users: it needs an administrator role with the Users > Read privilege"
    ),
    404: "check `customer` and `api_url`",
}


class GoogleConnector(Connector):
    name = "google"
    requires = (("google.auth", "google-auth", "google"),)
    description = (
        "Users of a Google Workspace account, read live from the Admin SDK Directory API"
        " with a service account (domain-wide delegation)."
    )
    default_map: ClassVar[Mapping[str, str]] = DEFAULT_MAP

    def __init__(
        self,
        *,
        context: ConnectorContext,
        credentials_env: str,
        customer: str = "my_customer",
        subject: str | None = None,
        api_url: str = API_URL,
        token_url: str | None = None,
        page_size: int = MAX_PAGE,
        timeout: float = 30.0,
        rate_limit_per_minute: int | None = None,
        verify_tls: bool = True,
        ca_bundle: str | None = None,
        allow_http: bool = False,
        retries: int = 5,
        backoff: float = 0.5,
        max_retry_wait: float = 120.0,
        max_response_mb: float = 64.0,
        max_records: int = MAX_RECORDS,
    ) -> None:
        """Options (the keys of a ``connector: google`` source or target):

        - ``credentials_env``: the environment variable holding the service account's JSON
          key (the whole file);
        - ``customer``: ``my_customer`` (the account of the user acted as), or a customer ID;
        - ``subject``: the administrator to act as (domain-wide delegation); without it, the
          service account acts as itself and needs an administrator role of its own;
        - ``api_url``: the Admin SDK's base URL;
        - ``token_url``: the token endpoint; default: the key's ``token_uri``, else Google's;
        - ``page_size``: ``maxResults``, 1 to 500;
        - ``timeout``, ``rate_limit_per_minute``, ``verify_tls``, ``ca_bundle``,
          ``allow_http``, ``retries``, ``backoff``, ``max_retry_wait``,
          ``max_response_mb``, ``max_records``: as for ``scim``.
        """
        super().__init__(context=context)
        prefix = f"{context.key}." if context.key else ""
        self.api_url = api_url.rstrip("/")
        self.customer = customer
        self.page_size = page_size
        self.retries = retries
        self.backoff = float(backoff)
        self.max_retry_wait = float(max_retry_wait)
        self.max_records = max_records
        bundle = context.ca_bundle(ca_bundle)
        if not verify_tls:
            warn_unverified(context.key, self.api_url)
        self.transport = google_auth.service_account_transport(
            credentials_env=credentials_env,
            token_url=token_url,
            scope=SCOPE,
            subject=subject,
            service=self.api_url,
            limits=Limits(
                timeout=float(timeout),
                retries=retries,
                backoff=self.backoff,
                max_retry_wait=self.max_retry_wait,
                max_workers=1,
                rate_limit_per_minute=rate_limit_per_minute,
                max_response_mb=float(max_response_mb),
            ),
            allow_http=allow_http,
            verify_tls=verify_tls,
            ca_bundle=str(bundle) if bundle else None,
            prefix=prefix,
        )

    @classmethod
    def check_options(cls, options: Mapping[str, Any]) -> list[tuple[str, str]]:
        problems = super().check_options(options)
        if problems:
            return problems
        allow_http = bool(options.get("allow_http", False))
        for name in ("api_url", "token_url"):
            if options.get(name) is not None:
                problem = url_problem(str(options[name]), allow_http=allow_http)
                if problem:
                    problems.append((name, problem))
        for name in ("credentials_env", "customer", "subject"):
            value = options.get(name)
            if value is not None and not (value.strip() and value.isprintable()):
                problems.append((name, f"expected a non-empty line of text, got {value!r}"))
        page_size = options.get("page_size", MAX_PAGE)
        if not 1 <= page_size <= MAX_PAGE:
            problems.append(("page_size", f"must be 1 to {MAX_PAGE} (maxResults), got {page_size}"))
        problems += range_problems(options, positive=POSITIVE)
        return problems

    def rows(self) -> Iterator[RawRow]:
        for user in self.users():
            location = f"{self.api_url}{USERS_PATH}/{user['id']}"
            yield row(location, user_view(user, location))

    def users(self) -> Iterator[Mapping[str, Any]]:
        """Every user of the account, page after page until one has no ``nextPageToken``;
        a token seen before, a page with more users than asked for, or more users than
        ``max_records`` fails the pull."""
        token: str | None = None
        seen: set[str] = set()
        count = empty = 0
        while True:
            url = self.page_url(token)
            data = self.get(url)
            users = page_users(data, url, self.page_size)
            count += len(users)
            if count > self.max_records:
                raise ConnectorError(
                    f"GET {url}: more than max_records ({self.max_records}) users; refused"
                )
            log.debug("%s: %d users (%d so far)", url, len(users), count)
            yield from users
            token = next_token(data, url)
            empty = empty_run(empty, len(users), token, url)
            if token is None:
                return
            if token in seen:
                raise ConnectorError(
                    f"GET {url}: `nextPageToken` repeats an earlier page's: the listing would"
                    " never end; refused"
                )
            seen.add(token)

    def page_url(self, token: str | None) -> str:
        query: dict[str, str | int] = {
            "customer": self.customer,
            "maxResults": self.page_size,
            "projection": "full",
        }
        if token is not None:
            query["pageToken"] = token
        return f"{self.api_url}{USERS_PATH}?{urlencode(query)}"

    def get(self, url: str) -> Any:
        """The JSON of a 200 answer; a rate-limited 403 is waited out and tried again."""
        reader = GoogleGet(self.transport, self.retries, self.backoff, self.max_retry_wait, HINTS)
        return reader.json(url)

    def close(self) -> None:
        self.transport.close()
