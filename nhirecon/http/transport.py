"""HTTP for live connectors: bounded retries, a shared rate limit, bounded answers, and no
secret in any message.

One :class:`Transport` serves one target. Every request it sends, first tries and retries
alike, passes through the same :class:`~nhirecon.http.limits.RateLimiter` and the same
concurrency limit, so ``max_workers`` and ``rate_limit_per_minute`` hold for reads and
writes together. An answer is read in chunks and refused once it exceeds
``max_response_mb`` decompressed (a gzip bomb is never inflated whole), and it is scrubbed
of every secret before anything parses or shows it.
"""

from __future__ import annotations

import json
import logging
import ssl
import threading
import time
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Protocol
from urllib.parse import urlsplit

import urllib3
from urllib3 import HTTPHeaderDict
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import MaxRetryError, ProtocolError, ReadTimeoutError, SSLError

from nhirecon.http.answers import (
    DETAIL_LIMIT,
    HttpError,
    Response,
    TooLarge,
    error_detail,
    read_body,
    too_large_detail,
)
from nhirecon.http.limits import (
    RETRY_METHODS,
    RETRY_STATUSES,
    Limits,
    RetryPolicy,
    rate_limited,
    shared_limiter,
)
from nhirecon.http.proxies import proxy_for, proxy_headers, proxy_secrets, shown
from nhirecon.http.redact import MIN_DATA_SECRET, MIN_SECRET, REDACTED, Redactor

log = logging.getLogger(__name__)

RATE_LIMIT_FORBIDDEN: Final = 403
"""Some vendors answer 403, not 429, when a rate limit is reached (with rate-limit headers)."""
__all__ = ["DETAIL_LIMIT", "REDACTED", "HttpError", "Response", "Transport", "error_detail"]


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
class Transport:
    """A connection pool to one service, with retries, limits and redaction."""

    limits: Limits = field(default_factory=Limits)
    credentials: Credentials = field(default_factory=Anonymous)
    verify_tls: bool = True
    ca_bundle: str | None = None
    user_agent: str = "nhirecon"
    service: str = ""
    """The service's base URL: every transport to it in this process shares one limiter."""
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    """How a retry waits (``Retry-After``, a rate-limit reset, a back-off)."""

    def __post_init__(self) -> None:
        limits = self.limits
        self.limiter = shared_limiter(self.service, limits.rate_limit_per_minute)
        self._slots = threading.BoundedSemaphore(max(1, limits.max_workers))
        self._pools: dict[str | None, urllib3.PoolManager] = {}
        self._pools_lock = threading.Lock()
        self._proxies: dict[str, str | None] = {}
        """The proxy of each origin (``scheme://host:port``), read from the environment once."""
        self.extra_secrets: set[str] = set()

    def pool(self, url: str) -> urllib3.PoolManager:
        """The connection pool for ``url``: direct, or through the proxy the environment
        names for it (:mod:`nhirecon.http.proxies`). TLS to the service is verified the
        same way either way: an HTTPS request goes through the proxy in a CONNECT tunnel."""
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        with self._pools_lock:
            if origin not in self._proxies:
                self._proxies[origin] = proxy_for(url)
            proxy = self._proxies[origin]
            found = self._pools.get(proxy)
            if found is None:
                options: dict[str, Any] = {
                    "num_pools": 4,
                    "maxsize": max(1, self.limits.max_workers),
                    "block": True,
                    "cert_reqs": "CERT_REQUIRED" if self.verify_tls else "CERT_NONE",
                    "ca_certs": self.ca_bundle,
                }
                if proxy is None:
                    found = urllib3.PoolManager(**options)
                else:
                    self.extra_secrets.update(proxy_secrets(proxy))
                    found = urllib3.ProxyManager(
                        proxy, proxy_headers=proxy_headers(proxy), **options
                    )
                    log.info("requests to %s go through the proxy %s", url, shown(proxy))
                self._pools[proxy] = found
            return found

    def policy(self, methods: Collection[str] = RETRY_METHODS) -> RetryPolicy:
        limits = self.limits
        return RetryPolicy(
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
            sleeper=self.sleep,
        )

    def redactor(self, *, minimum: int = MIN_SECRET) -> Redactor:
        """Scrubs every secret known now (an OAuth token joins them once fetched)."""
        return Redactor({*self.credentials.secrets(), *self.extra_secrets}, minimum=minimum)

    def redact(self, text: str) -> str:
        """``text`` with every known secret replaced."""
        return self.redactor().scrub_message(text)

    def request(
        self,
        method: str,
        url: str,
        *,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        form: Mapping[str, str] | None = None,
        authenticate: bool = True,
        scrub: bool = True,
    ) -> Response:
        """Send one request (retried as the policy says) and return the final answer.

        Connection failures that outlast the retries, and an answer over
        ``max_response_mb``, raise :class:`HttpError`; an HTTP status, whatever it is, is
        returned for the caller to judge. The body comes back scrubbed of every secret,
        unless ``scrub`` is false (the answer of a token endpoint, which must hand over the
        token it issues).
        """
        response = self._send(method, url, body, headers, form, authenticate, scrub)
        if response.status == 401 and authenticate and self.credentials.refresh(self):
            response = self._send(method, url, body, headers, form, authenticate, scrub)
        return response

    def _send(
        self,
        method: str,
        url: str,
        body: Any,
        headers: Mapping[str, str] | None,
        form: Mapping[str, str] | None,
        authenticate: bool,
        scrub: bool,
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
        retries = self.policy()
        with self._slots:
            self.limiter.acquire()
            while True:
                raw = self._open(method, url, payload, sent, retries)
                try:
                    data = read_body(raw, self.limits.max_response_bytes)
                except TooLarge as exc:
                    raw.close()
                    detail = too_large_detail(exc, self.limits)
                    raise HttpError(method, url, raw.status, detail) from None
                except (ProtocolError, ReadTimeoutError) as exc:  # the body broke off: retry
                    raw.close()
                    again = self._again(method, url, raw.retries or retries, error=exc)
                    assert again is not None
                    retries = again
                    continue
                except Urllib3Error as exc:
                    raise HttpError(method, url, None, self.redact(_cause(exc))) from None
                finally:
                    raw.release_conn()
                if raw.status == RATE_LIMIT_FORBIDDEN and rate_limited(raw.headers):
                    following = self._again(method, url, raw.retries or retries, response=raw)
                    if following is not None:
                        retries = following
                        continue
                break
        attempts = 1 + len(raw.retries.history) if raw.retries is not None else 1
        redactor = self.redactor(minimum=MIN_DATA_SECRET) if scrub else None
        return Response(
            method=method,
            url=url,
            status=raw.status,
            headers=HTTPHeaderDict(raw.headers),
            body=redactor.scrub_bytes(data) if redactor else data,
            attempts=attempts,
            redactor=redactor,
        )

    def _open(
        self,
        method: str,
        url: str,
        payload: bytes | None,
        sent: Mapping[str, str],
        retries: RetryPolicy,
    ) -> urllib3.BaseHTTPResponse:
        """Send, with urllib3's retries up to the answer's headers; the body is left unread."""
        timeout = urllib3.Timeout(connect=self.limits.timeout, read=self.limits.timeout)
        try:
            if any(_uncarried(value) for value in sent.values()):
                raise ValueError("a header value holds a control character")
            return self.pool(url).request(
                method,
                url,
                body=payload,
                headers=sent,
                retries=retries,
                timeout=timeout,
                redirect=False,
                preload_content=False,
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

    def _again(
        self,
        method: str,
        url: str,
        retries: Any,
        *,
        error: Exception | None = None,
        response: urllib3.BaseHTTPResponse | None = None,
    ) -> RetryPolicy | None:
        """The policy for one more try, after waiting as it says; ``None`` when a rate-limited
        answer has used up the retries (it is then the answer). A broken-off body that has
        used them up is an :class:`HttpError`."""
        try:
            following: RetryPolicy = retries.increment(method, url, response=response, error=error)
        except MaxRetryError as exc:
            if response is not None:
                return None
            problem = f"failed after retries: {_cause(exc.reason)}"
            raise HttpError(method, url, None, self.redact(problem)) from None
        except Urllib3Error as exc:
            raise HttpError(method, url, None, self.redact(_cause(exc))) from None
        following.sleep(response)
        return following

    def fail(self, response: Response, expected: str = "") -> HttpError:
        """The error for an unexpected answer: URL, status, and the server's detail (scrubbed
        of every secret before it is cut short)."""
        redactor = self.redactor()
        detail = error_detail(response, redactor)
        if response.attempts > 1:
            detail = f"{detail} (after {response.attempts} attempts)".strip()
        if expected:
            detail = f"{detail}; expected {expected}".lstrip("; ")
        return HttpError(
            response.method, response.url, response.status, redactor.scrub_text(detail)
        )

    def close(self) -> None:
        with self._pools_lock:
            for pool in self._pools.values():
                pool.clear()


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


def _uncarried(value: str) -> bool:
    """Whether a header value holds a character HTTP must not carry: a control character
    other than a tab (RFC 9110 §5.5), NUL included, which http.client lets through."""
    return any((ord(char) < 0x20 and char != "\t") or ord(char) == 0x7F for char in value)
