"""A SCIM 2.0 client (RFC 7644): a thin layer that sends requests over a transport.

The protocol itself (the ``*_request`` builders, ``parse_*`` and ``check_*`` functions) lives
in :mod:`nhirecon.connectors.scim_protocol` and knows nothing of the network;
:class:`ScimClient` sends what they build through a
:class:`~nhirecon.http.transport.Transport` and hands the answers back to them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from nhirecon.connectors.scim_filter import FilterError, compile_filter
from nhirecon.connectors.scim_listing import MAX_RECORDS, Listing
from nhirecon.connectors.scim_protocol import (
    Features,
    ProtocolError,
    Request,
    config_request,
    parse_features,
)
from nhirecon.errors import ConfigError, ConnectorError
from nhirecon.http.transport import Response, Transport

log = logging.getLogger(__name__)


@dataclass
class ScimClient:
    """Talks SCIM to one service provider."""

    base_url: str
    transport: Transport
    resource_type: str = "Users"
    _features: Features | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def send(self, request: Request) -> Response:
        return self.transport.request(
            request.method,
            request.url(self.base_url),
            body=request.body,
            headers=request.headers,
        )

    def features(self) -> Features:
        """Discovered once from ``/ServiceProviderConfig``; a service without one gets defaults."""
        with self._lock:
            if self._features is None:
                response = self.send(config_request())
                if response.status == 200:
                    self._features = parse_features(response.json())
                elif response.status in (401, 403):
                    raise self.transport.fail(response, "200 (check the credentials)")
                else:
                    log.warning(
                        "%s: no service provider config (HTTP %s); assuming defaults",
                        response.url,
                        response.status,
                    )
                    self._features = Features()
            return self._features

    def listing_features(self) -> Features:
        """The features a listing pages by; a service whose ``/ServiceProviderConfig``
        cannot be read is paged by index (its own answers then say what went wrong)."""
        try:
            return self.features()
        except ConnectorError as exc:
            log.debug("%s: paging by index (%s)", self.base_url, exc)
            return Features()

    def list_all(
        self,
        resource_type: str,
        *,
        page_size: int,
        scim_filter: str | None = None,
        max_workers: int = 1,
        max_records: int = MAX_RECORDS,
    ) -> Iterator[Mapping[str, Any]]:
        """Every resource of a type, in order, from a listing that is complete or refused
        (see :mod:`nhirecon.connectors.scim_listing`): by cursor (RFC 9865) where the
        service offers it, else by ``startIndex`` with the pages after the first fetched
        ``max_workers`` at a time. Each resource is checked against ``scim_filter``."""
        try:
            checked = compile_filter(scim_filter) if scim_filter else None
        except FilterError as exc:
            raise ConfigError(f"filter {scim_filter!r} cannot be checked here: {exc}") from None
        yield from Listing(
            send=self.send,
            transport=self.transport,
            features=self.listing_features,
            base_url=self.base_url,
            resource_type=resource_type,
            page_size=page_size,
            scim_filter=checked,
            max_workers=max_workers,
            max_records=max_records,
        )

    def read_alone(
        self, resource_type: str, resource_id: str, query: str, *, missing: tuple[int, ...] = (404,)
    ) -> Mapping[str, Any] | None:
        """One resource read on its own (``GET /{type}/{id}?{query}``, RFC 7644 §3.4.1);
        ``None`` when the answer's status is one of ``missing`` (it is gone).

        Raises :class:`~nhirecon.errors.ConnectorError` for any other answer than 200, or a
        200 that is not the resource asked for (another ``id``), or an id no URL can carry."""
        try:
            url = f"{self.base_url}/{resource_type}/{quote(resource_id, safe='')}?{query}"
        except UnicodeEncodeError:
            raise ProtocolError(
                f"{self.base_url}/{resource_type}: unreadable id {resource_id!r}"
            ) from None
        response = self.transport.request("GET", url)
        if response.status in missing:
            return None
        if response.status != 200:
            expected = " or ".join(["200", *(str(status) for status in missing)])
            raise self.transport.fail(response, expected)
        resource = response.json()
        if not isinstance(resource, Mapping) or str(resource.get("id")) != resource_id:
            raise ProtocolError(f"GET {response.url}: expected the resource {resource_id!r}")
        return resource
