"""What comes back from a service: the answer, its error detail, and the errors of a request.

An answer's body is read in chunks (:func:`read_body`) and refused once it exceeds the size
limit, counted after decompression, so that a compressed bomb is never inflated whole.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Final

import urllib3

from nhirecon.core import strict_json
from nhirecon.core.nesting import TOO_DEEP, too_deep
from nhirecon.errors import ConnectorError
from nhirecon.http.limits import Limits
from nhirecon.http.redact import Redactor

DETAIL_LIMIT: Final = 300
"""How many characters of a server's error detail go into a message."""
CHUNK: Final = 64 * 1024
"""Bytes read (decompressed) at a time, so that the size limit is checked as they come."""


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


class TooLarge(Exception):
    """An answer over the size limit (never raised past :class:`Transport`)."""

    def __init__(self, size: int, declared: bool) -> None:
        super().__init__(size)
        self.size = size
        self.declared = declared


@dataclass(frozen=True)
class Response:
    """A finished HTTP exchange; ``body`` is already scrubbed of the transport's secrets."""

    method: str
    url: str
    status: int
    headers: Mapping[str, str]
    body: bytes
    attempts: int = 1
    redactor: Redactor | None = field(default=None, repr=False, compare=False)
    """Scrubs parsed strings too: a JSON escape (``\\u0074ok…``) can hide a secret from
    the scrubbing of the raw bytes."""

    def json(self) -> Any:
        """The body as JSON; a body that is not JSON fails naming the URL."""
        if not self.body.strip():
            return None
        try:
            data = strict_json.loads(self.body)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise HttpError(
                self.method, self.url, self.status, f"the answer is not JSON ({exc})"
            ) from None
        except ValueError as exc:  # an integer of more digits than Python converts
            raise HttpError(
                self.method, self.url, self.status, f"the answer is not usable JSON ({exc})"
            ) from None
        except RecursionError:
            raise HttpError(
                self.method, self.url, self.status, f"the answer is {TOO_DEEP}"
            ) from None
        if too_deep(data):  # before anything walks it (scrub_json recurses)
            raise HttpError(self.method, self.url, self.status, f"the answer is {TOO_DEEP}")
        if self.redactor is not None and b"\\" in self.body:
            return self.redactor.scrub_json(data)
        return data

    def header(self, name: str) -> str | None:
        value = self.headers.get(name)
        if value is None:
            folded = name.casefold()
            value = next((v for k, v in self.headers.items() if k.casefold() == folded), None)
        return value


def read_body(raw: urllib3.BaseHTTPResponse, limit: int) -> bytes:
    """The body, decompressed chunk by chunk (urllib3 bounds each chunk's inflation) and
    refused with :class:`TooLarge` as soon as it exceeds ``limit`` bytes."""
    declared = (raw.headers.get("Content-Length") or "").strip()
    if declared.isdigit() and int(declared) > limit:
        raise TooLarge(int(declared), declared=True)
    parts: list[bytes] = []
    size = 0
    while chunk := raw.read(CHUNK):
        size += len(chunk)
        if size > limit:
            raise TooLarge(size, declared=False)
        parts.append(chunk)
    return b"".join(parts)


def error_detail(response: Response, redactor: Redactor | None = None) -> str:
    """The human part of an error answer: SCIM ``detail`` (RFC 7644 §3.12), or the text;
    scrubbed by ``redactor`` (else the response's own) before it is cut short."""
    scrub = redactor or response.redactor or Redactor(())
    try:
        data = json.loads(response.body) if response.body.strip() else None
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        data = None
    if isinstance(data, dict):
        for key in ("detail", "error_description", "error", "message"):
            value = data.get(key)
            if isinstance(value, str) and value.strip():
                return _short(scrub.scrub_text(value))
        return ""
    text = scrub.scrub_text(response.body.decode("utf-8", "replace")).strip()
    return _short(text) if text and "<" not in text[:1] else ""


def too_large_detail(exc: TooLarge, limits: Limits) -> str:
    """Why an answer over ``max_response_mb`` was refused."""
    measured = (
        f"Content-Length says {exc.size} bytes"
        if exc.declared
        else f"more than {limits.max_response_bytes} bytes once decompressed"
    )
    return (
        f"the answer is larger than max_response_mb ({limits.max_response_mb:g} MiB):"
        f" {measured}; refused unread"
    )


def _short(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= DETAIL_LIMIT else flat[: DETAIL_LIMIT - 1] + "…"
