"""Which service URLs are acceptable: ``https``, or plain ``http`` only to this machine.

A URL never carries credentials, a query or a fragment; secrets come from the environment.
"""

from __future__ import annotations

import ipaddress
from typing import Final
from urllib.parse import urlsplit

LOOPBACK_NAMES: Final = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


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
