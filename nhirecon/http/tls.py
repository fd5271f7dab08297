"""TLS settings of live connectors that are worth a warning."""

from __future__ import annotations

import logging

import urllib3
from urllib3.exceptions import InsecureRequestWarning

log = logging.getLogger(__name__)

_WARNED: set[str] = set()


def warn_unverified(
    key: str, url: str, *, service: str = "the service", receives: str = "its credentials"
) -> None:
    """Say, once per HTTPS service and process, that ``verify_tls: false`` lets anyone on
    the way pose as ``service`` and receive ``receives``; urllib3's own warning, which
    would come on every request, is silenced."""
    urllib3.disable_warnings(InsecureRequestWarning)
    if url in _WARNED or not url.casefold().startswith("https:"):
        return
    _WARNED.add(url)
    log.warning(
        "%s%s: TLS certificate verification is off (verify_tls: false): anyone on the way"
        " can pose as %s and receive %s; set ca_bundle to trust a private CA instead",
        f"{key} " if key else "",
        url,
        service,
        receives,
    )
