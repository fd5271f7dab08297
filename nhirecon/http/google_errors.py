"""Google APIs' answers: the JSON error body they share (in a 200 answer too, refused), their
rate limits as waits, a failure that names the URL, the status, Google's reason and what it
usually means, and the page tokens of their list methods (:func:`next_token`, with a
listing of endless empty pages refused by :func:`empty_run`).

Every Google API answers an error with the same body, "Errors" of Google's API design
guide (cloud.google.com/apis/design/errors): ``{"error": {"code", "message", "status",
"errors": [{"reason", "domain", "message"}], "details": [{"@type", "reason", ...}]}}``;
older APIs fill ``errors[]``, newer ones (IAM) a ``google.rpc.ErrorInfo`` in ``details[]``.

A 429 is retried by the transport (``Retry-After`` honoured). Google also says "slow down"
with a 403 whose reason is ``rateLimitExceeded``, ``userRateLimitExceeded`` or
``quotaExceeded`` and which carries no rate-limit header: :class:`GoogleGet` waits that out
with exponential back-off, up to ``retries`` times. Any other answer but 200 fails.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from nhirecon.errors import ConnectorError
from nhirecon.http.answers import DETAIL_LIMIT, HttpError, Response, error_detail
from nhirecon.http.limits import rate_limit_wait, rate_limited
from nhirecon.http.transport import Transport

log = logging.getLogger(__name__)

RATE_REASONS: Final = frozenset({"rateLimitExceeded", "userRateLimitExceeded", "quotaExceeded"})
"""``errors[].reason`` values of a 403 that means "slow down", not "no"."""


def google_error(response: Response) -> tuple[frozenset[str], str]:
    """The reasons (``errors[].reason`` and ``details[].reason``) and the ``message`` of
    Google's error body; nothing when the body is not one."""
    try:
        data = json.loads(response.body) if response.body.strip() else None
    except (ValueError, RecursionError):
        return frozenset(), ""
    error = data.get("error") if isinstance(data, dict) else None
    if not isinstance(error, dict):
        return frozenset(), ""
    items = [
        item
        for name in ("errors", "details")
        if isinstance(error.get(name), list)
        for item in error[name]
    ]
    reasons = frozenset(
        item["reason"]
        for item in items
        if isinstance(item, dict) and isinstance(item.get("reason"), str)
    )
    message = error.get("message")
    return reasons, message if isinstance(message, str) else ""


@dataclass
class GoogleGet:
    """GETs the JSON of a Google API through ``transport``, rate limits waited out."""

    transport: Transport
    retries: int
    """How many times a rate-limited 403 is tried again (a 429 is the transport's)."""
    backoff: float
    """Base of the exponential back-off, in seconds."""
    max_retry_wait: float
    hints: Mapping[int, str] = field(default_factory=dict)
    """Status → what it usually means for this API, added to the failure."""

    def json(self, url: str) -> Any:
        """The JSON of a 200 answer; a rate-limited 403 is waited out and tried again."""
        attempts = retry = 0
        while True:
            response = self.transport.request("GET", url)
            attempts += response.attempts
            if response.status == 200:
                data = response.json()
                if not (isinstance(data, dict) and isinstance(data.get("error"), dict)):
                    return data
                # A 200 that holds Google's error body (a proxy's, or a backend's failure
                # passed on) is no page: read as one, it would end the listing early.
                reasons, message = google_error(response)
                raise self.failure(
                    response, reasons, message or "a 200 answer holding an error", attempts
                )
            reasons, message = google_error(response)
            if (
                response.status == 403
                and reasons & RATE_REASONS
                and not rate_limited(response.headers)  # the transport retried those
                and retry < self.retries
            ):
                retry += 1
                self.wait(response, retry)
                continue
            raise self.failure(response, reasons, message, attempts)

    def wait(self, response: Response, retry: int) -> None:
        """Wait as the answer says, else back off (jittered), then for the rate limiter."""
        told = rate_limit_wait(response.headers, time.time(), self.max_retry_wait)
        if told is None:
            ceiling = min(self.max_retry_wait, self.backoff * 2 ** (retry - 1))
            told = ceiling / 2 + random.uniform(0, ceiling / 2)
        log.info("%s: rate limited by Google; waiting %.1f s", response.url, told)
        if told > 0:
            self.transport.sleep(told)
        self.transport.limiter.acquire()

    def failure(
        self, response: Response, reasons: frozenset[str], message: str, attempts: int
    ) -> HttpError:
        """The error for an answer that is not 200: the URL and status, Google's message
        and reasons (scrubbed of every secret before it is cut short), and a hint."""
        redactor = self.transport.redactor()
        said = error_detail(response, redactor)
        if message:  # scrubbed, then cut short: no part of a secret survives the cut
            flat = " ".join(redactor.scrub_text(message).split())
            cut = flat if len(flat) <= DETAIL_LIMIT else flat[: DETAIL_LIMIT - 1] + "…"
            said = f"Google says: {cut}"
        if reasons:
            said = f"{said} ({', '.join(sorted(reasons))})".strip()
        limited = bool(reasons & RATE_REASONS) or response.status == 429
        hint = self.hints.get(response.status)
        if limited:
            hint = "still rate limited after the retries"
        detail = "; ".join(part for part in (said, hint) if part)
        if attempts > 1:
            detail = f"{detail} (after {attempts} attempts)"
        return HttpError(
            response.method, response.url, response.status, redactor.scrub_message(detail)
        )


MAX_EMPTY_PAGES: Final = 10
"""Empty pages in a row that still carry a ``nextPageToken``: a listing past this many is
refused as one that does not end (each token new, so no token repeats)."""


def next_token(data: Mapping[str, Any], url: str) -> str | None:
    """The page token to ask for next (``nextPageToken``, Google's list methods), or
    ``None`` at the end of the listing; raises :class:`ConnectorError` when it is not
    text."""
    token = data.get("nextPageToken")
    if token is None or token == "":
        return None
    if not isinstance(token, str):
        raise ConnectorError(f"GET {url}: `nextPageToken` is not a string: {token!r}")
    return token


def empty_run(run: int, listed: int, token: str | None, url: str) -> int:
    """How many empty pages in a row have pointed further, with this one (``listed``
    items, ``token`` next); raises :class:`ConnectorError` past :data:`MAX_EMPTY_PAGES`."""
    run = run + 1 if not listed and token is not None else 0
    if run > MAX_EMPTY_PAGES:
        raise ConnectorError(
            f"GET {url}: {run} empty pages in a row, each pointing to another; refusing a"
            " listing that does not end"
        )
    return run
