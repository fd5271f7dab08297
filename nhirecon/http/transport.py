"""HTTP for live connectors: bounded retries, a shared rate limit, and no secret in any message.

One :class:`Transport` serves one target. Every request it sends, first tries and retries
alike, passes through the same :class:`RateLimiter` and the same concurrency limit, so
``max_workers`` and ``rate_limit_per_minute`` hold for reads and writes together.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import random
import ssl
import threading
import time
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Final, Protocol, Self
from urllib.parse import urlsplit

import urllib3
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import MaxRetryError, SSLError
from urllib3.util.retry import Retry

from nhirecon.errors import ConnectorError

log = logging.getLogger(__name__)

RETRY_STATUSES: Final = frozenset({429, 500, 502, 503, 504})
"""Answers worth another try: too many requests, and the server errors that mean "later"."""
RETRY_METHODS: Final = frozenset({"GET", "HEAD", "PUT", "PATCH", "DELETE", "POST"})
"""Every method is retried: SCIM writes here are idempotent (replace ``active``, delete), and
they carry ``If-Match`` where the server supports it, so a repeat that finds the resource
already changed answers 412 and the caller re-reads it."""
EPOCH_THRESHOLD: Final = 1_000_000_000
"""An ``X-Rate-Limit-Reset`` above this is an epoch instant; below, a number of seconds."""
LOOPBACK_NAMES: Final = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})
DETAIL_LIMIT: Final = 300
"""How many characters of a server's error detail go into a message."""
REDACTED: Final = "[redacted]"


class HttpError(ConnectorError):
    """A request failed: the message names the method, the URL and the status (or cause)."""

    def __init__(self, method: str, url: str, status: int | None, detail: str) -> None:
        self.method = method
        self.url = url
        self.status = status
        self.detail = detail
        if status is None:
            super().__init__(f"{method} {url}: {detail}")
        else:
            super().__init__(f"{method} {url}: HTTP {status} {_phrase(status)}{_colon(detail)}")


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "(unknown status)"


def _colon(detail: str) -> str:
    return f": {detail}" if detail else ""


def is_loopback(url: str) -> bool:
    """Whether the URL's host is this machine (``localhost``, 127.0.0.0/8, ``::1``)."""
    host = (urlsplit(url).hostname or "").rstrip(".").casefold()
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def url_problem(url: str, *, allow_http: bool) -> str | None:
    """Why a service URL is not acceptable, or ``None``.

    ``https`` always; ``http`` only to this machine or when ``allow_http`` says so; no
    credentials, query or fragment in the URL (secrets come from the environment).
    """
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError as exc:
        return f"not a valid URL ({exc})"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"expected an http(s) URL with a host, got {url!r}"
    if parts.username or parts.password:
        return "must not hold credentials; use `auth` with environment variables"
    if parts.query or parts.fragment:
        return "must not hold a query or fragment"
    if parts.scheme == "http" and not allow_http and not is_loopback(url):
        return "plain http is refused except to this machine; use https or set allow_http: true"
    return None


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


class Policy(Retry):
    """urllib3's ``Retry``, with the rules of this tool.

    - 429 and 503 honour ``Retry-After`` (seconds or an HTTP date, via urllib3) and the
      ``X-Rate-Limit-Reset`` epoch some vendors send instead, capped at ``max_wait``;
    - other retries back off exponentially with full jitter, from the first retry on;
    - every retry waits for the shared rate limiter before it is sent.
    """

    def __init__(
        self,
        *args: Any,
        limiter: RateLimiter | None = None,
        max_wait: float = 120.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.limiter = limiter
        self.max_wait = max_wait

    def new(self, **kw: Any) -> Self:
        kw.setdefault("limiter", self.limiter)
        kw.setdefault("max_wait", self.max_wait)
        return super().new(**kw)

    def get_retry_after(self, response: urllib3.BaseHTTPResponse) -> float | None:
        if response.headers.get("Retry-After"):
            try:
                seconds = super().get_retry_after(response)
            except Urllib3Error:
                return None
            return None if seconds is None else min(float(seconds), self.max_wait)
        return reset_delay(response.headers.get("X-Rate-Limit-Reset"), time.time(), self.max_wait)

    def get_backoff_time(self) -> float:
        errors = len(self.history)
        if errors < 1 or self.backoff_factor <= 0:
            return 0.0
        ceiling = float(min(self.backoff_max, self.backoff_factor * (2 ** (errors - 1))))
        return ceiling / 2 + random.uniform(0, ceiling / 2)

    def sleep(self, response: urllib3.BaseHTTPResponse | None = None) -> None:
        super().sleep(response)
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


@dataclass(frozen=True)
class Response:
    """A finished HTTP exchange."""

    method: str
    url: str
    status: int
    headers: Mapping[str, str]
    body: bytes
    attempts: int = 1

    def json(self) -> Any:
        """The body as JSON; a body that is not JSON fails naming the URL."""
        if not self.body.strip():
            return None
        try:
            return json.loads(self.body)
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
            raise HttpError(
                self.method, self.url, self.status, f"the answer is not JSON ({exc})"
            ) from None

    def header(self, name: str) -> str | None:
        return self.headers.get(name)


class Credentials(Protocol):
    """Adds authentication to requests and names the secrets that must never be shown."""

    def headers(self, transport: Transport) -> Mapping[str, str]: ...

    def refresh(self, transport: Transport) -> bool:
        """Drop a cached credential after a 401; true when a new one may help."""
        ...

    def secrets(self) -> Iterable[str]: ...


class Anonymous:
    """No authentication."""

    def headers(self, transport: Transport) -> Mapping[str, str]:
        return {}

    def refresh(self, transport: Transport) -> bool:
        return False

    def secrets(self) -> Iterable[str]:
        return ()


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


@dataclass
class Transport:
    """A connection pool to one service, with retries, limits and redaction."""

    limits: Limits = field(default_factory=Limits)
    credentials: Credentials = field(default_factory=Anonymous)
    verify_tls: bool = True
    ca_bundle: str | None = None
    user_agent: str = "nhirecon"
    service: str = ""
    """The service's base URL: every transport to it in this process shares one limiter."""

    def __post_init__(self) -> None:
        limits = self.limits
        self.limiter = shared_limiter(self.service, limits.rate_limit_per_minute)
        self._slots = threading.BoundedSemaphore(max(1, limits.max_workers))
        self.pool = urllib3.PoolManager(
            num_pools=4,
            maxsize=max(1, limits.max_workers),
            block=True,
            cert_reqs="CERT_REQUIRED" if self.verify_tls else "CERT_NONE",
            ca_certs=self.ca_bundle,
        )
        self.extra_secrets: set[str] = set()

    def policy(self, methods: Collection[str] = RETRY_METHODS) -> Policy:
        limits = self.limits
        return Policy(
            total=limits.retries,
            connect=limits.retries,
            read=limits.retries,
            status=limits.retries,
            other=0,
            redirect=0,
            allowed_methods=frozenset(methods),
            status_forcelist=RETRY_STATUSES,
            backoff_factor=limits.backoff,
            backoff_max=limits.max_retry_wait,
            max_wait=limits.max_retry_wait,
            raise_on_status=False,
            raise_on_redirect=False,
            respect_retry_after_header=True,
            limiter=self.limiter,
        )

    def redact(self, text: str) -> str:
        """``text`` with every known secret replaced."""
        for secret in sorted({*self.credentials.secrets(), *self.extra_secrets}, key=len)[::-1]:
            if secret and len(secret) >= 4:
                text = text.replace(secret, REDACTED)
        return text

    def request(
        self,
        method: str,
        url: str,
        *,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        form: Mapping[str, str] | None = None,
        authenticate: bool = True,
    ) -> Response:
        """Send one request (retried as the policy says) and return the final answer.

        Connection failures that outlast the retries raise :class:`HttpError`; an HTTP
        status, whatever it is, is returned for the caller to judge.
        """
        response = self._send(method, url, body, headers, form, authenticate)
        if response.status == 401 and authenticate and self.credentials.refresh(self):
            response = self._send(method, url, body, headers, form, authenticate)
        return response

    def _send(
        self,
        method: str,
        url: str,
        body: Any,
        headers: Mapping[str, str] | None,
        form: Mapping[str, str] | None,
        authenticate: bool,
    ) -> Response:
        sent = {"User-Agent": self.user_agent, "Accept": "application/scim+json, application/json"}
        if authenticate:
            sent.update(self.credentials.headers(self))
        payload: bytes | None = None
        if form is not None:
            from urllib.parse import urlencode

            payload = urlencode(form).encode()
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        elif body is not None:
            payload = json.dumps(body).encode()
            sent["Content-Type"] = "application/scim+json"
        sent.update(headers or {})
        policy = self.policy()
        timeout = urllib3.Timeout(connect=self.limits.timeout, read=self.limits.timeout)
        with self._slots:
            self.limiter.acquire()
            try:
                raw = self.pool.request(
                    method,
                    url,
                    body=payload,
                    headers=sent,
                    retries=policy,
                    timeout=timeout,
                    redirect=False,
                    preload_content=True,
                )
            except MaxRetryError as exc:
                problem = _tls_problem(exc.reason) or f"failed after retries: {_cause(exc.reason)}"
                raise HttpError(method, url, None, self.redact(problem)) from None
            except Urllib3Error as exc:
                raise HttpError(method, url, None, self.redact(_cause(exc))) from None
            except (ValueError, UnicodeError) as exc:  # http.client refuses a header value
                raise HttpError(
                    method,
                    url,
                    None,
                    "not sent: a header value holds a line break, a control character or a"
                    f" character HTTP cannot carry ({type(exc).__name__}; the value is not"
                    " shown, it may be a secret)",
                ) from None
        attempts = 1 + len(raw.retries.history) if raw.retries is not None else 1
        return Response(
            method=method,
            url=url,
            status=raw.status,
            headers={key: value for key, value in raw.headers.items()},
            body=raw.data or b"",
            attempts=attempts,
        )

    def fail(self, response: Response, expected: str = "") -> HttpError:
        """The error for an unexpected answer: URL, status, and the server's detail."""
        detail = error_detail(response)
        if response.attempts > 1:
            detail = f"{detail} (after {response.attempts} attempts)".strip()
        if expected:
            detail = f"{detail}; expected {expected}".lstrip("; ")
        return HttpError(response.method, response.url, response.status, self.redact(detail))

    def close(self) -> None:
        self.pool.clear()


def _tls_problem(exc: BaseException | None) -> str | None:
    """What a TLS failure means to the user (it is never retried), or ``None``."""
    if not isinstance(exc, SSLError):
        return None
    cause = exc.args[0] if exc.args else None
    if isinstance(cause, ssl.SSLCertVerificationError):
        return (
            "the server's TLS certificate could not be verified"
            f" ({cause.verify_message or cause.reason}); if a private CA signed it, set"
            " ca_bundle to that CA's PEM file"
        )
    return f"TLS failed: {cause or exc}"


def _cause(exc: BaseException | None) -> str:
    if exc is None:
        return "connection failed"
    text = str(exc)
    # urllib3 wraps causes as "<connection object>: Failed to establish ..."; keep the reason.
    if ">: " in text:
        text = text.split(">: ", 1)[1]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def error_detail(response: Response) -> str:
    """The human part of an error answer: SCIM ``detail`` (RFC 7644 §3.12), or the text."""
    try:
        data = json.loads(response.body) if response.body.strip() else None
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        data = None
    if isinstance(data, dict):
        for key in ("detail", "error_description", "error", "message"):
            value = data.get(key)
            if isinstance(value, str) and value.strip():
                return _short(value)
        return ""
    text = response.body.decode("utf-8", "replace").strip()
    return _short(text) if text and "<" not in text[:1] else ""


def _short(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= DETAIL_LIMIT else flat[: DETAIL_LIMIT - 1] + "…"
