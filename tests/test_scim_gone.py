"""When a SCIM account reads as gone (RFC 7644): a 404 is taken at its word only as §3.12's
"not found" for an id every server reads back from a path as sent; any other is confirmed
by listing the id, so that a write is never skipped as done for an account that is there.
Against the real scim2-server, with faults where a service or what stands in front of it
answers otherwise."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from scim2_server.memory import InMemoryStorage

from nhirecon.connectors.scim_client import ScimClient
from nhirecon.connectors.scim_protocol import ProtocolError
from nhirecon.connectors.scim_writer import ScimWriter
from nhirecon.connectors.scim_writes import AccountState
from nhirecon.http.auth import Bearer
from nhirecon.http.transport import Transport

from . import scim_server
from .scim_server import TOKEN, ScimServer, answer, running

ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


def writer(server: ScimServer) -> ScimWriter:
    return ScimWriter(ScimClient(server.url, Transport(credentials=Bearer(TOKEN))), lambda _: None)


class SlashIds(InMemoryStorage):  # type: ignore[misc]
    """Ids with a slash: a WSGI server decodes `%2F` in the path, so `GET /Users/a%2Fb`
    reaches an endpoint that does not exist and is answered with SCIM's own 404."""

    made = 0

    def generate_id(self, resource_type: Any, resource: Any) -> str:
        SlashIds.made += 1
        return f"tenant/svc-{SlashIds.made}"


@pytest.fixture
def slashed(monkeypatch: pytest.MonkeyPatch) -> Iterator[ScimServer]:
    monkeypatch.setattr(scim_server, "InMemoryStorage", SlashIds)
    with running() as started:
        yield started


def test_a_404_for_an_endpoint_is_not_the_account_gone(slashed: ScimServer) -> None:
    there = slashed.add_user("svc-backup")["id"]
    gone = slashed.add_user("svc-old")["id"]
    slashed.delete_user(gone)
    with pytest.raises(ProtocolError, match="HTTP 404 without a SCIM error, and the listing"):
        writer(slashed).read(there)
    assert writer(slashed).read(gone).state is AccountState.GONE, "the listing holds nothing"


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"schemas": [ERROR], "status": "500"}, id="a server fault relayed"),
        pytest.param(
            {"schemas": [ERROR], "status": "404", "scimType": "invalidPath"}, id="invalidPath"
        ),
        pytest.param({"schemas": [ERROR.upper()], "Status": 404}, id="names in any case"),
    ],
)
def test_a_404_that_does_not_say_not_found_is_confirmed(
    server: ScimServer, body: dict[str, Any]
) -> None:
    there = server.add_user("svc-backup")["id"]
    server.faults.add(answer(404, body=body), method="GET", path=rf"/Users/{there}\?")
    if "scimType" in body or body.get("status") == "500":
        with pytest.raises(ProtocolError, match="the listing holds it"):
            writer(server).read(there)
    else:  # SCIM's not found, its names in another case (RFC 7643 §2.1): believed
        assert writer(server).read(there).state is AccountState.GONE
        assert not [seen for seen in server.faults.seen if "filter" in seen.query]


def test_a_listing_that_holds_the_id_under_any_name_is_not_gone(server: ScimServer) -> None:
    there = server.add_user("svc-backup")["id"]
    server.faults.add(
        answer(404, body={"detail": "gateway"}), method="GET", path=rf"/Users/{there}\?"
    )
    contradicting = {"totalResults": 0, "resources": [{"id": there}]}
    server.faults.add(answer(200, body=contradicting), method="GET", path=r"/Users\?filter")
    with pytest.raises(ProtocolError, match="the listing holds it"):
        writer(server).read(there)
