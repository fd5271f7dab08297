"""How long a retry waits: what the answer says, and only when it is about a rate limit."""

from __future__ import annotations

import time

import urllib3

from nhirecon.http.limits import RetryPolicy


def _answer(status: int, **headers: str) -> urllib3.HTTPResponse:
    return urllib3.HTTPResponse(body=b"", status=status, headers=headers)


def _policy() -> RetryPolicy:
    return RetryPolicy(total=3, backoff_factor=0.5, backoff_max=2.0, max_wait=120.0)


def test_a_429_waits_for_the_reset_instant() -> None:
    reset = str(int(time.time()) + 30)
    wait = _policy().get_retry_after(_answer(429, **{"X-Rate-Limit-Reset": reset}))
    assert wait is not None and 25 <= wait <= 30


def test_a_503_with_requests_left_backs_off_instead_of_waiting_for_the_window() -> None:
    """Okta sends its rate-limit headers on every answer, a 503 included."""
    reset = str(int(time.time()) + 55)
    headers = {"X-Rate-Limit-Reset": reset, "X-Rate-Limit-Remaining": "599"}
    assert _policy().get_retry_after(_answer(503, **headers)) is None


def test_a_503_whose_limit_is_spent_waits_for_the_reset() -> None:
    reset = str(int(time.time()) + 20)
    headers = {"X-Rate-Limit-Reset": reset, "X-Rate-Limit-Remaining": "0"}
    wait = _policy().get_retry_after(_answer(503, **headers))
    assert wait is not None and 15 <= wait <= 20


def test_retry_after_is_honoured_on_any_status() -> None:
    assert _policy().get_retry_after(_answer(503, **{"Retry-After": "7"})) == 7
