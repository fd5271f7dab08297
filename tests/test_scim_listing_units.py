"""The pure pieces behind trustworthy listings: RFC 9865 in the service provider config and
in pages, which 403s are rate limits and how long they say to wait, and the scrubbing of
secrets out of answers. No network."""

from __future__ import annotations

import email.utils
from typing import Any

import pytest

from nhirecon.connectors import scim_protocol as scim
from nhirecon.http.auth import Bearer
from nhirecon.http.limits import Limits, rate_limit_wait, rate_limited
from nhirecon.http.redact import REDACTED, Redactor
from nhirecon.http.transport import Response, Transport

NOW = 1_800_000_000.0


def test_pagination_from_the_service_provider_config() -> None:
    features = scim.parse_features(
        {
            "patch": {"supported": True},
            "pagination": {
                "cursor": True,
                "index": False,
                "defaultPaginationMethod": "cursor",
                "maxPageSize": 100,
                "cursorTimeout": 60,
            },
        }
    )
    assert (features.cursor, features.max_page_size, features.cursor_timeout) == (True, 100, 60)
    assert features.patch is True
    odd = scim.parse_features({"pagination": {"cursor": "yes", "maxPageSize": 0}})
    assert (odd.cursor, odd.max_page_size) == (False, None)
    assert scim.parse_features({"pagination": []}) == scim.Features()


def _page(**fields: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"schemas": [scim.LIST_RESPONSE], "itemsPerPage": 1}
    data["Resources"] = [{"id": "1"}]
    data.update(fields)
    return data


def test_a_cursor_page_may_leave_out_total_results() -> None:
    page = scim.parse_page(_page(nextCursor="abc"), "u")
    assert (page.total, page.next_cursor, page.url) == (None, "abc", "u")
    assert scim.parse_page(_page(), "u", cursor=True).total is None
    with pytest.raises(scim.ProtocolError, match="without a valid totalResults"):
        scim.parse_page(_page(), "u")
    with pytest.raises(scim.ProtocolError, match="invalid nextCursor"):
        scim.parse_page(_page(totalResults=1, nextCursor=""), "u")
    with pytest.raises(scim.ProtocolError, match="invalid nextCursor"):
        scim.parse_page(_page(totalResults=1, nextCursor=7), "u")


def test_cursor_requests() -> None:
    first = scim.cursor_request("Users", "", 100, 'userName sw "a"')
    assert first.url("https://x/v2") == (
        "https://x/v2/Users?cursor=&count=100&filter=userName+sw+%22a%22"
    )
    assert scim.cursor_request("Users", "A-b_c.9~", 5).query == (
        ("cursor", "A-b_c.9~"),
        ("count", "5"),
    )


@pytest.mark.parametrize(
    ("headers", "limited"),
    [
        ({}, False),
        ({"Retry-After": "3"}, True),
        ({"X-RateLimit-Remaining": "0"}, True),
        ({"x-rate-limit-remaining": "0"}, True),
        ({"X-RateLimit-Reset": "1800000030"}, True),
        ({"X-Rate-Limit-Reset": "1800000030"}, True),
        ({"X-RateLimit-Reset": "1800000030", "X-RateLimit-Remaining": "0"}, True),
        ({"X-RateLimit-Reset": "1800000030", "X-RateLimit-Remaining": "4999"}, False),
        ({"X-RateLimit-Remaining": "12"}, False),
        ({"X-RateLimit-Remaining": "soon"}, False),
    ],
)
def test_which_403s_are_rate_limits(headers: dict[str, str], limited: bool) -> None:
    assert rate_limited(headers) is limited


def test_how_long_a_rate_limit_says_to_wait() -> None:
    assert rate_limit_wait({"Retry-After": "7"}, NOW, 60) == 7
    assert rate_limit_wait({"retry-after": "600"}, NOW, 60) == 60
    date = email.utils.formatdate(NOW + 30, usegmt=True)
    assert rate_limit_wait({"Retry-After": date}, NOW, 60) == 30
    assert rate_limit_wait({"X-RateLimit-Reset": str(int(NOW) + 12)}, NOW, 60) == 12
    assert rate_limit_wait({"x-rate-limit-reset": str(int(NOW) + 12)}, NOW, 60) == 12
    assert rate_limit_wait({"X-RateLimit-Reset": "5"}, NOW, 60) == 5  # seconds, not epoch
    assert rate_limit_wait({"X-RateLimit-Reset": str(int(NOW) - 5)}, NOW, 60) == 0
    assert rate_limit_wait({"X-RateLimit-Remaining": "0"}, NOW, 60) is None  # back off
    assert rate_limit_wait({"Retry-After": "soon"}, NOW, 60) is None


def test_secrets_are_scrubbed_from_text_bytes_and_parsed_json() -> None:
    redactor = Redactor(["s3cret-token-value", "abcd"])
    assert redactor.scrub_text("x abcd s3cret-token-value") == f"x {REDACTED} {REDACTED}"
    data = Redactor(["s3cret-token-value", "abcd"], minimum=8)
    assert data.scrub_bytes(b'{"n": "abcd s3cret-token-value"}') == (
        b'{"n": "abcd ' + REDACTED.encode() + b'"}'
    ), "a secret too short to tell from data is left in the data"
    parsed = {"s3cret-token-value": ["ok", {"deep": "Bearer s3cret-token-value"}], "n": 1}
    assert data.scrub_json(parsed) == {REDACTED: ["ok", {"deep": f"Bearer {REDACTED}"}], "n": 1}


def test_an_answer_is_scrubbed_before_parsing_and_before_any_cut() -> None:
    token = "canary-token-0123456789abcdef"
    transport = Transport(limits=Limits(), credentials=Bearer(token))
    escaped = "".join(f"\\u{ord(character):04x}" for character in token)
    body = ('{"detail": "' + "p" * 280 + " Bearer " + escaped + '"}').encode()
    answer = Response("GET", "https://x/v2/Users", 400, {}, body, redactor=transport.redactor())
    error = transport.fail(answer)
    assert error.status == 400 and str(error).endswith(" Bearer [redacted]")
    assert "canary" not in str(error)
    assert answer.json() == {"detail": "p" * 280 + f" Bearer {REDACTED}"}
