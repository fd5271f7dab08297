"""Writes to one SCIM 2.0 service (RFC 7644): read an account, disable it, delete it.

The requests come from :mod:`nhirecon.connectors.scim_writes` (pure); this module sends
them and learns, once per run, what the service accepts: whether it takes PATCH at all,
which PATCH form, and which attributes a PUT may carry.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Final
from urllib.parse import quote, urlencode

from nhirecon.connectors.scim_client import ScimClient
from nhirecon.connectors.scim_protocol import ProtocolError
from nhirecon.connectors.scim_schema import ERROR, attribute
from nhirecon.connectors.scim_writes import (
    READ_ONLY,
    AccountState,
    LiveAccount,
    PatchForm,
    Write,
    WriteResult,
    account_state,
    delete_request,
    disable_patch,
    disable_put,
    read_only_from_schemas,
    resource_path,
    resource_version,
    says_path_problem,
)
from nhirecon.core.model import Record
from nhirecon.errors import ConnectorError
from nhirecon.http.transport import HttpError, Response

log = logging.getLogger(__name__)

GET_OK: Final = frozenset({HTTPStatus.OK})
"""§3.4.1: retrieving a known resource answers 200 OK."""
NOT_FOUND: Final = HTTPStatus.NOT_FOUND
"""§3.12: the resource does not exist (for a delete: it is already gone)."""
PATCH_OK: Final = frozenset({HTTPStatus.OK, HTTPStatus.NO_CONTENT})
"""§3.5.2: 200 OK with the resource, or 204 No Content when no attributes are asked for."""
PUT_OK: Final = frozenset({HTTPStatus.OK, HTTPStatus.NO_CONTENT})
"""§3.5.1: 200 OK with the resource (204 accepted from servers that send no body)."""
DELETE_OK: Final = frozenset({HTTPStatus.NO_CONTENT, HTTPStatus.OK})
"""§3.6: 204 No Content (200 accepted from servers that answer with a body)."""
NOT_SUPPORTED: Final = frozenset({HTTPStatus.NOT_IMPLEMENTED, HTTPStatus.METHOD_NOT_ALLOWED})
"""§3.12: 501 Not Implemented (the operation, e.g. PATCH, is not supported); some servers
answer 405."""


@dataclass
class ScimWriter:
    """Reads and writes single accounts of one service, through its :class:`ScimClient`."""

    client: ScimClient
    record_of: Callable[[Mapping[str, Any]], Record | None]
    """A resource read on its own, mapped as the target's pull maps it (``None`` when the
    target's ``filter`` or ``where`` no longer takes it): the re-check of an account that
    has no version compares it with the account as pulled. Raises
    :class:`~nhirecon.errors.DataError` for a value the mapping refuses."""
    _patch_form: PatchForm | None = None
    """The PATCH form the service took; ``None`` until a PATCH went through."""
    _no_patch: bool = False
    """The service answered PATCH with 501 or 405: PUT from then on."""
    _read_only: Mapping[str, frozenset[str]] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def resource_type(self) -> str:
        return self.client.resource_type

    def _send(self, write: Write) -> Response:
        return self.client.transport.request(
            write.method,
            f"{self.client.base_url}{write.path}",
            body=write.body,
            headers=write.headers,
        )

    def read(self, resource_id: str) -> LiveAccount:
        """The account as it is now (§3.4.1). A 404 means it is gone when the service says
        so: §3.12's error response with ``status`` 404 and no ``scimType``, for an id of
        plain characters (letters, digits, ``-._~``). Any other 404 is confirmed by listing
        the id (``filter=id eq "…"``, §3.4.2.2), for it may not be the service's word on
        the account: a page or a gateway's answer in front of the service, or a 404 for an
        endpoint (§3.12: "resource or endpoint") when a server decodes a ``%2F`` in the id,
        or reads a non-ASCII one otherwise, and the path misses the resource. Gone only
        when the listing holds no such resource; :class:`ProtocolError` otherwise, so
        that an action is failed rather than done on a guess."""
        url = f"{self.client.base_url}{resource_path(self.resource_type, resource_id)}"
        response = self.client.transport.request("GET", url)
        if response.status == NOT_FOUND:
            if not (_PLAIN_ID.fullmatch(resource_id) and says_not_found(_body(response))):
                self._confirm_gone(resource_id, response)
            return LiveAccount(AccountState.GONE)
        if response.status not in GET_OK:
            raise self.client.transport.fail(response, "200 or 404")
        resource = response.json()
        if not isinstance(resource, Mapping):
            raise ProtocolError(f"GET {response.url}: expected a resource object")
        if str(resource.get("id")) != resource_id:
            raise ProtocolError(
                f"GET {response.url}: the answer is another resource (id {resource.get('id')!r});"
                " nothing is judged or written on its word"
            )
        return LiveAccount(
            account_state(resource), resource_version(resource, response.header("ETag")), resource
        )

    def _confirm_gone(self, resource_id: str, answer: Response) -> None:
        """Return when a listing by id holds no resource ``resource_id``; raise
        :class:`ProtocolError` naming ``answer`` (the 404 not in SCIM's words) otherwise."""
        query = urlencode({"filter": f"id eq {json.dumps(resource_id)}"}, quote_via=quote)
        listing = self.client.transport.request(
            "GET", f"{self.client.base_url}/{self.resource_type}?{query}"
        )
        body = _body(listing) if listing.status == HTTPStatus.OK else None
        found = attribute(body, "Resources")
        total = attribute(body, "totalResults")
        if type(total) is int and total == 0 and not found:
            return
        said = (
            "the listing holds it"
            if isinstance(found, list) and any(_is(item, resource_id) for item in found)
            else f"a listing by id could not confirm it (HTTP {listing.status})"
        )
        raise ProtocolError(
            f"GET {answer.url}: HTTP 404 without a SCIM error, and {said}: not taken as the"
            " account being gone (is something in front of the service answering for it?)"
        )

    def _version(self, live: LiveAccount) -> str | None:
        return live.version if self.client.features().etag else None

    def disable(self, resource_id: str, live: LiveAccount) -> WriteResult:
        """Set ``active`` to false: PATCH where the service takes it (in the form it takes),
        else PUT of the resource's writable attributes."""
        features = self.client.features()
        version = self._version(live)
        if features.patch is not False and not self._no_patch:
            result = self._patch(resource_id, version)
            if result is not None:
                return result
        if live.resource is None:
            return WriteResult(0, False, "no resource read to PUT back")
        write = disable_put(self.resource_type, resource_id, live.resource, version, self.schemas())
        return self._result(self._send(write), PUT_OK)

    def _patch(self, resource_id: str, version: str | None) -> WriteResult | None:
        """PATCH in the form the service took before (the path form first); on a 400 that
        blames the path, once more in the other form. ``None``: the service has no PATCH."""
        learned = self._patch_form
        form = learned or PatchForm.PATH
        response = self._send(disable_patch(self.resource_type, resource_id, version, form))
        if response.status in NOT_SUPPORTED:
            log.info(
                "%s: PATCH not supported (HTTP %s); using PUT",
                self.client.base_url,
                response.status,
            )
            with self._lock:
                self._no_patch = True
            return None
        if learned is None and says_path_problem(
            response.status, _body(response), self.client.transport.fail(response).detail
        ):
            log.info(
                "%s: PATCH refused in the %s form; trying the %s form",
                self.client.base_url,
                form.value,
                form.other.value,
            )
            form = form.other
            response = self._send(disable_patch(self.resource_type, resource_id, version, form))
        if response.status in PATCH_OK:
            with self._lock:
                self._patch_form = form
        return self._result(response, PATCH_OK)

    def schemas(self) -> Mapping[str, frozenset[str]]:
        """Read-only attributes by schema, from ``/Schemas`` (RFC 7644 §4) once per run; the
        ones RFC 7643 defines when the service does not publish it."""
        with self._lock:
            if self._read_only is None:
                found = None
                try:
                    response = self.client.transport.request(
                        "GET", f"{self.client.base_url}/Schemas"
                    )
                    if response.status == HTTPStatus.OK:
                        found = read_only_from_schemas(response.json())
                except ConnectorError as exc:
                    log.debug("%s: no /Schemas (%s)", self.client.base_url, exc)
                self._read_only = found or READ_ONLY
            return self._read_only

    def delete(self, resource_id: str, live: LiveAccount) -> WriteResult:
        response = self._send(delete_request(self.resource_type, resource_id, self._version(live)))
        return self._result(response, DELETE_OK)

    def _result(self, response: Response, expected: frozenset[HTTPStatus]) -> WriteResult:
        """A write's answer: an expected status whose body, if any, is a SCIM resource."""
        if response.status in expected:
            if response.body.strip() and not isinstance(_body(response), Mapping):
                kind = response.header("Content-Type") or "no content type"
                return WriteResult(
                    response.status,
                    False,
                    f"answered {response.status} with a body that is not SCIM ({kind})",
                )
            return WriteResult(response.status, True)
        error = self.client.transport.fail(response)
        return WriteResult(response.status, False, error.detail)


_PLAIN_ID: Final = re.compile(r"[A-Za-z0-9._~-]+")
"""An id that every server reads back from a path as it was sent (RFC 3986 unreserved)."""


def says_not_found(body: Any) -> bool:
    """Whether ``body`` is SCIM's error response saying the resource is not found
    (§3.12): the error schema, ``status`` 404, and no ``scimType`` (which names another
    fault, such as ``invalidPath``). Attribute names are compared ignoring case (RFC 7643
    §2.1)."""
    schemas = attribute(body, "schemas")
    if not isinstance(schemas, list):
        return False
    if ERROR.casefold() not in {str(item).casefold() for item in schemas}:
        return False
    return str(attribute(body, "status")) == "404" and attribute(body, "scimType") is None


def _is(item: Any, resource_id: str) -> bool:
    return isinstance(item, Mapping) and str(attribute(item, "id")) == resource_id


def _body(response: Response) -> Any:
    try:
        return response.json()
    except HttpError:
        return None
