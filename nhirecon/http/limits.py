"""How hard one service may be pushed: a shared rate limit, and bounded retries that honour it.

Every request to a service, first tries and retries alike, waits for the same
:class:`RateLimiter`; :class:`RetryPolicy` is urllib3's ``Retry`` with this tool's timing
(``Retry-After``, the ``X-RateLimit-Reset`` / ``X-Rate-Limit-Reset`` epochs vendors send
instead, jittered back-off); :func:`rate_limited` tells a 403 that means "slow down" from
one that means "no"; :class:`Limits` holds a target's settings.
"""

from __future__ import annotations

import email.utils
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Self

import urllib3
from urllib3.util.retry import Retry

RETRY_STATUSES: Final = frozenset({429, 500, 502, 503, 504})
"""Answers worth another try: too many requests, and the server errors that mean "later"."""
RETRY_METHODS: Final = frozenset({"GET", "HEAD", "PUT", "PATCH", "DELETE", "POST"})
"""Every method is retried: SCIM writes here are idempotent (replace ``active``, delete), and
they carry ``If-Match`` where the server supports it, so a repeat that finds the resource
already changed answers 412 and the caller re-reads it."""
EPOCH_THRESHOLD: Final = 1_000_000_000
"""An ``X-Rate-Limit-Reset`` above this is an epoch instant; below, a number of seconds."""
RESET_HEADERS: Final = ("X-RateLimit-Reset", "X-Rate-Limit-Reset")
"""When a rate limit lifts, in the dialects vendors use (epoch seconds, or seconds)."""
REMAINING_HEADERS: Final = ("X-RateLimit-Remaining", "X-Rate-Limit-Remaining")
"""Requests left in the current window; ``0`` means the limit is reached."""


def header(headers: Mapping[str, str], *names: str) -> str | None:
    """The first of ``names`` present in ``headers``, matched case-insensitively."""
    wanted = [name.casefold() for name in names]
    found = {key.casefold(): value for key, value in headers.items()}
    return next((found[name] for name in wanted if name in found), None)


def retry_after_delay(value: str | None, now: float, cap: float) -> float | None:
    """Seconds to wait for a ``Retry-After`` header (seconds or an HTTP date), capped."""
    if not value or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return min(float(text), cap)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, min(when.timestamp() - now, cap))


def rate_limit_wait(headers: Mapping[str, str], now: float, cap: float) -> float | None:
    """How long a rate-limited answer says to wait: ``Retry-After``, else a reset instant;
    ``None`` when it does not say."""
    told = retry_after_delay(header(headers, "Retry-After"), now, cap)
    if told is not None:
        return told
    return reset_delay(header(headers, *RESET_HEADERS), now, cap)


def rate_limited(headers: Mapping[str, str]) -> bool:
    """Whether a 403 is a rate limit rather than a refusal.

    ``Retry-After`` or a remaining count of 0 says so; a reset instant says so unless a
    remaining count above 0 comes with it (some vendors send both on every answer, so a
    plain refusal carries them too).
    """
    if header(headers, "Retry-After"):
        return True
    remaining = (header(headers, *REMAINING_HEADERS) or "").strip()
    if remaining:
        try:
            return float(remaining) <= 0
        except ValueError:
            return False
    return header(headers, *RESET_HEADERS) is not None


class RateLimiter:
    """Spaces requests evenly so that no 60-second window holds more than ``per_minute``.

    The n-th request may start no earlier than ``n * 60 / per_minute`` seconds after the
    first, whichever thread sends it; no burst is allowed. ``None`` or 0: no limit.
    """

    MARGIN: Final = 1.001
    """Slightly wider spacing, so that clock and network jitter cannot push a window over."""

    def __init__(
        self,
        per_minute: int | None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.per_minute = per_minute or None
        self.interval = 60.0 / per_minute * self.MARGIN if per_minute else 0.0
        self._clock = clock
        self._sleep = sleep
        self._next = 0.0
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Wait for this request's turn; returns the instant (``clock``) it may start."""
        if not self.interval:
            return self._clock()
        with self._lock:
            now = self._clock()
            turn = max(now, self._next)
            self._next = turn + self.interval
        if turn > now:
            self._sleep(turn - now)
        return turn


_LIMITERS: dict[tuple[str, int | None], RateLimiter] = {}
_LIMITERS_LOCK = threading.Lock()


def shared_limiter(service: str, per_minute: int | None) -> RateLimiter:
    """The one limiter of a service in this process (a new one when ``service`` is empty).

    A run opens a target more than once (the pull, then the writes); sharing the limiter
    keeps the rate over both, not over each.
    """
    if not service:
        return RateLimiter(per_minute)
    with _LIMITERS_LOCK:
        key = (service, per_minute or None)
        if key not in _LIMITERS:
            _LIMITERS[key] = RateLimiter(per_minute)
        return _LIMITERS[key]


class RetryPolicy(Retry):
    """urllib3's ``Retry``, with the rules of this tool.

    - 429 and 503 (and a 403 that :func:`rate_limited` calls a rate limit) honour
      ``Retry-After`` (seconds or an HTTP date) and the ``X-RateLimit-Reset`` /
      ``X-Rate-Limit-Reset`` epochs some vendors send instead, capped at ``max_wait``;
    - other retries back off exponentially with full jitter, from the first retry on;
    - every retry waits for the shared rate limiter before it is sent.
    """

    def __init__(
        self,
        *args: Any,
        limiter: RateLimiter | None = None,
        max_wait: float = 120.0,
        sleeper: Callable[[float], None] = time.sleep,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.limiter = limiter
        self.max_wait = max_wait
        self.sleeper = sleeper

    def new(self, **kw: Any) -> Self:
        kw.setdefault("limiter", self.limiter)
        kw.setdefault("max_wait", self.max_wait)
        kw.setdefault("sleeper", self.sleeper)
        return super().new(**kw)

    def get_retry_after(self, response: urllib3.BaseHTTPResponse) -> float | None:
        """``Retry-After`` always; a reset instant only on a 429 or an answer that says the
        limit is spent (Okta sends ``X-Rate-Limit-Reset`` on every answer, so a 503 with
        599 requests left is backed off from, not waited out to the window's end)."""
        if response.status != 429 and not rate_limited(response.headers):
            return retry_after_delay(
                header(response.headers, "Retry-After"), time.time(), self.max_wait
            )
        return rate_limit_wait(response.headers, time.time(), self.max_wait)

    def get_backoff_time(self) -> float:
        errors = len(self.history)
        if errors < 1 or self.backoff_factor <= 0:
            return 0.0
        ceiling = float(min(self.backoff_max, self.backoff_factor * (2 ** (errors - 1))))
        return ceiling / 2 + random.uniform(0, ceiling / 2)

    def sleep(self, response: urllib3.BaseHTTPResponse | None = None) -> None:
        """Wait as the answer says, else back off; then wait for the rate limiter."""
        wait = None
        if self.respect_retry_after_header and response is not None:
            wait = self.get_retry_after(response)
        if not wait:
            wait = self.get_backoff_time()
        if wait > 0:
            self.sleeper(wait)
        if self.limiter is not None:
            self.limiter.acquire()


def reset_delay(value: str | None, now: float, cap: float) -> float | None:
    """Seconds to wait for an ``X-Rate-Limit-Reset`` header (epoch, or seconds), capped."""
    if not value:
        return None
    try:
        number = float(value.strip())
    except ValueError:
        return None
    seconds = number - now if number >= EPOCH_THRESHOLD else number
    return max(0.0, min(seconds, cap))


@dataclass
class Limits:
    """How hard one target may be pushed, and how long to wait for it."""

    timeout: float = 30.0
    """Seconds to connect, and seconds to wait for each read."""
    retries: int = 5
    """Retries after the first try, for each request."""
    backoff: float = 0.5
    """Base of the exponential back-off, in seconds."""
    max_retry_wait: float = 120.0
    """The longest a ``Retry-After`` or back-off may make a request wait."""
    max_workers: int = 4
    """Requests in flight at once."""
    rate_limit_per_minute: int | None = None
    """Requests started in any 60 seconds; ``None``: no limit."""
    max_response_mb: float = 64.0
    """The largest answer read, in MiB once decompressed; a larger one is refused."""

    @property
    def max_response_bytes(self) -> int:
        return int(self.max_response_mb * 1024 * 1024)
