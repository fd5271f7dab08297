"""The pure halves of the SCIM client and the transport: requests, answers, retry timing,
the rate limiter, URLs and redaction. No network."""

from __future__ import annotations

import email.utils
import itertools
import threading
import time
from typing import Any

import pytest
from urllib3 import HTTPHeaderDict

from nhirecon.connectors import scim_protocol as scim
from nhirecon.http.auth import Bearer, problems
from nhirecon.http.limits import Limits, RateLimiter, RetryPolicy, reset_delay
from nhirecon.http.transport import Response, Transport, error_detail
from nhirecon.http.urls import is_loopback, url_problem

BASE = "https://scim.example.com/v2"


def test_listing_requests_are_built_with_the_filter_quoted() -> None:
    listing = scim.list_request("Users", 101, 50, 'userType eq "Bot"')
    assert listing.url(BASE) == (
        f"{BASE}/Users?startIndex=101&count=50&filter=userType+eq+%22Bot%22"
    )


def _page(**fields: Any) -> dict[str, Any]:
    data = {
        "schemas": [scim.LIST_RESPONSE],
        "totalResults": 3,
        "startIndex": 1,
        "itemsPerPage": 2,
        "Resources": [{"id": "1"}, {"id": "2"}],
    }
    data.update(fields)
    return data


def test_a_page_is_checked() -> None:
    page = scim.parse_page(_page(), "u")
    assert (page.total, page.start, page.items_per_page, len(page.resources)) == (3, 1, 2, 2)
    assert scim.parse_page(_page(totalResults=0, itemsPerPage=0, Resources=None), "u").total == 0


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"totalResults": None}, "without a valid totalResults"),
        ({"totalResults": -1}, "without a valid totalResults"),
        ({"totalResults": True}, "without a valid totalResults"),
        ({"itemsPerPage": 5}, "itemsPerPage says 5 but the page holds 2"),
        ({"Resources": {"id": "1"}}, "not a list of objects"),
        ({"Resources": ["x", "y"]}, "not a list of objects"),
        ({"startIndex": 0}, "invalid startIndex"),
        ({"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"]}, "not a ListResponse"),
    ],
)
def test_a_bad_page_is_a_protocol_error(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(scim.ProtocolError, match=message):
        scim.parse_page(_page(**fields), "https://x/Users")


def test_page_starts_follow_the_first_pages_size() -> None:
    assert list(scim.page_starts(2300, 1000)) == [1001, 2001]
    assert list(scim.page_starts(2000, 1000)) == [1001]
    assert list(scim.page_starts(7, 7)) == []
    assert list(scim.page_starts(0, 0)) == []
    assert len(scim.page_starts(10**12, 1)) == 10**12 - 1, "lazy: nothing is built"
    with pytest.raises(scim.ProtocolError, match="first page is empty"):
        scim.page_starts(5, 0)


def test_a_listing_must_be_complete_and_distinct() -> None:
    scim.check_complete(10, 10, 10, "u")
    with pytest.raises(scim.ProtocolError, match="returned 9 resources but totalResults says 10"):
        scim.check_complete(9, 9, 10, "u")
    with pytest.raises(scim.ProtocolError, match="returned 1 resources twice"):
        scim.check_complete(10, 9, 10, "u")


def test_features_from_the_service_provider_config() -> None:
    features = scim.parse_features(
        {
            "patch": {"supported": False},
            "etag": {"supported": True},
            "bulk": {"supported": True, "maxOperations": 100},
        }
    )
    assert (features.patch, features.etag, features.bulk, features.bulk_max_operations) == (
        False,
        True,
        True,
        100,
    )
    assert scim.parse_features({}).patch is None
    assert scim.parse_features("nonsense") == scim.Features()


# --- retry timing ---------------------------------------------------------------------------


class _Answer:
    """A rate-limited answer (429) with these headers."""

    def __init__(self, **headers: str) -> None:
        self.headers = HTTPHeaderDict(headers)
        self.status = 429


def policy(**options: Any) -> RetryPolicy:
    return RetryPolicy(total=3, backoff_factor=0.5, backoff_max=10, max_wait=60, **options)


def test_retry_after_seconds_and_http_date() -> None:
    assert policy().get_retry_after(_Answer(**{"Retry-After": "7"})) == 7
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    waited = policy().get_retry_after(_Answer(**{"Retry-After": when}))
    assert waited is not None and 28 <= waited <= 30
    assert policy().get_retry_after(_Answer(**{"Retry-After": "3600"})) == 60
    assert policy().get_retry_after(_Answer(**{"Retry-After": "soon"})) is None


def test_x_rate_limit_reset_epoch_or_seconds() -> None:
    now = 1_800_000_000.0
    assert reset_delay(str(int(now) + 12), now, 60) == 12
    assert reset_delay(str(int(now) - 5), now, 60) == 0
    assert reset_delay("4", now, 60) == 4
    assert reset_delay(str(int(now) + 9999), now, 60) == 60
    assert reset_delay("later", now, 60) is None
    assert reset_delay(None, now, 60) is None
    answer = _Answer(**{"X-Rate-Limit-Reset": str(int(time.time()) + 20)})
    waited = policy().get_retry_after(answer)
    assert waited is not None and 18 <= waited <= 20


def test_backoff_grows_with_jitter_and_is_capped() -> None:
    retry = RetryPolicy(total=10, backoff_factor=0.5, backoff_max=10)
    assert retry.get_backoff_time() == 0
    for attempt in range(1, 8):
        retry = retry.increment(method="GET", url="/x", error=ConnectionError("boom"))
        ceiling = min(10, 0.5 * 2 ** (attempt - 1))
        waits = {retry.get_backoff_time() for _ in range(50)}
        assert all(ceiling / 2 <= wait <= ceiling for wait in waits)
        assert len(waits) > 1, "jittered"


def test_retries_carry_the_limiter_and_wait_for_it() -> None:
    limiter = RateLimiter(600, clock=lambda: 0.0, sleep=lambda seconds: None)
    calls: list[int] = []
    limiter.acquire = lambda: calls.append(1) or 0.0
    retry = RetryPolicy(total=2, backoff_factor=0, limiter=limiter)
    retried = retry.increment(method="GET", url="/x", error=ConnectionError("x"))
    assert retried.limiter is limiter
    retried.sleep()
    assert calls == [1]


# --- the rate limiter -----------------------------------------------------------------------


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.lock = threading.Lock()

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self.lock:
            self.now = max(self.now, self.now + seconds)


def test_rate_limiter_never_lets_a_minute_hold_more_than_the_limit() -> None:
    fake = FakeTime()
    limiter = RateLimiter(120, clock=fake.clock, sleep=fake.sleep)
    starts = [limiter.acquire() for _ in range(1000)]
    assert starts == sorted(starts)
    for index in range(len(starts) - 120):
        assert starts[index + 120] - starts[index] >= 60, "121 requests within a minute"
    assert starts[-1] - starts[0] < 999 * 0.5 * 1.01, "and it does not go slower than needed"


def test_rate_limiter_is_shared_between_threads() -> None:
    fake = FakeTime()
    limiter = RateLimiter(60, clock=fake.clock, sleep=fake.sleep)
    starts: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(25):
            turn = limiter.acquire()
            with lock:
                starts.append(turn)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    starts.sort()
    assert len(starts) == 200
    assert all(later - earlier >= 1.0 for earlier, later in itertools.pairwise(starts))


def test_no_rate_limit_means_no_wait() -> None:
    slept: list[float] = []
    limiter = RateLimiter(None, clock=lambda: 5.0, sleep=slept.append)
    assert [limiter.acquire() for _ in range(3)] == [5.0, 5.0, 5.0]
    assert slept == []


# --- URLs, auth settings, redaction ---------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "allow_http", "problem"),
    [
        ("https://scim.example.com/v2", False, None),
        ("http://127.0.0.1:8080/v2", False, None),
        ("http://localhost/v2", False, None),
        ("http://[::1]:9000/v2", False, None),
        ("http://scim.example.com/v2", False, "plain http is refused"),
        ("http://scim.example.com/v2", True, None),
        ("ftp://scim.example.com", False, "expected an http(s) URL"),
        ("https://scim.example.com/v2?token=x", False, "query or fragment"),
        ("https://u:p@scim.example.com/v2", False, "must not hold credentials"),
        ("https://scim.example.com:99999/v2", False, "not a valid URL"),
    ],
)
def test_url_rules(url: str, allow_http: bool, problem: str | None) -> None:
    found = url_problem(url, allow_http=allow_http)
    assert (found is None) if problem is None else (problem in (found or ""))


def test_loopback_names() -> None:
    assert is_loopback("http://127.8.9.10/")
    assert not is_loopback("http://10.0.0.1/")
    assert not is_loopback("http://localhost.example.com/")


def test_auth_settings_are_checked_by_key() -> None:
    assert problems({"type": "bearer", "token_env": "T"}, allow_http=False) == []
    assert problems({"type": "bearer"}, allow_http=False) == [
        ("token_env", "required by bearer auth")
    ]
    found = dict(
        problems(
            {
                "type": "oauth2",
                "token_url": "http://idp.example.com/token",
                "client_id": "a",
                "client_secret_env": "S",
            },
            allow_http=False,
        )
    )
    assert "plain http is refused" in found["token_url"]


def test_redaction_hides_every_secret() -> None:
    transport = Transport(limits=Limits(), credentials=Bearer("sekrit-token-value"))
    transport.extra_secrets.add("other-secret-1")
    text = "Authorization: Bearer sekrit-token-value; other-secret-1 leaked"
    assert transport.redact(text) == "Authorization: Bearer [redacted]; [redacted] leaked"
    assert "sekrit" not in repr(Bearer("sekrit-token-value"))


def test_error_detail_prefers_scim_detail_and_stays_short() -> None:
    scim_error = Response("GET", "u", 400, {}, b'{"status": "400", "detail": "bad filter"}')
    assert error_detail(scim_error) == "bad filter"
    html = Response("GET", "u", 502, {}, b"<html><body>Bad gateway</body></html>")
    assert error_detail(html) == ""
    long = Response("GET", "u", 500, {}, b"x" * 1000)
    assert len(error_detail(long)) == 300


def test_transports_to_one_service_share_its_limiter() -> None:
    first = Transport(limits=Limits(rate_limit_per_minute=60), service="https://a.example/v2")
    second = Transport(limits=Limits(rate_limit_per_minute=60), service="https://a.example/v2")
    other = Transport(limits=Limits(rate_limit_per_minute=60), service="https://b.example/v2")
    assert first.limiter is second.limiter
    assert other.limiter is not first.limiter
