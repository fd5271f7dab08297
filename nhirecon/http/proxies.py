"""Proxies from the environment, read as requests and curl read them: ``HTTPS_PROXY``,
``HTTP_PROXY``, ``ALL_PROXY`` (either case) choose the proxy for a URL's scheme and
``NO_PROXY`` lists the hosts, domains and networks reached directly
(:func:`requests.utils.get_environ_proxies`).

A proxy URL may carry a user and password (``http://user:secret@proxy:3128``): they are
sent as ``Proxy-Authorization`` and count as secrets, never shown.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

import requests.utils
import urllib3


def proxy_for(url: str) -> str | None:
    """The proxy URL the environment names for ``url``, or ``None`` to go direct."""
    proxies = requests.utils.get_environ_proxies(url)
    return requests.utils.select_proxy(url, proxies) if proxies else None


def proxy_headers(proxy: str) -> dict[str, str]:
    """``Proxy-Authorization`` for a proxy URL that carries a user and password."""
    parts = urlsplit(proxy)
    if parts.username is None:
        return {}
    login = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
    return dict(urllib3.make_headers(proxy_basic_auth=login))


def proxy_secrets(proxy: str) -> tuple[str, ...]:
    """The parts of a proxy URL that must never be shown: its password."""
    password = urlsplit(proxy).password
    return (unquote(password),) if password else ()


def shown(proxy: str) -> str:
    """A proxy URL for messages: scheme, host and port, without user or password."""
    parts = urlsplit(proxy)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}"
