"""HTTP for live connectors: bounded retries, a shared rate limit, and no secret in any message.

One :class:`Transport` serves one target. Every request it sends, first tries and retries
alike, passes through the same :class:`~nhirecon.http.limits.RateLimiter` and the same
concurrency limit, so ``max_workers`` and ``rate_limit_per_minute`` hold for reads and
writes together.
"""

from __future__ import annotations

import json
import logging
import ssl
import threading
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Final, Protocol

import urllib3
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import MaxRetryError, SSLError

from nhirecon.errors import ConnectorError
from nhirecon.http.limits import RETRY_METHODS, RETRY_STATUSES, Limits, RetryPolicy, shared_limiter

log = logging.getLogger(__name__)

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
