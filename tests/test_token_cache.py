"""One token cache and one reader of token answers (RFC 6749 §5.1) for every OAuth
sign-in: client credentials, Entra's and Google's service accounts."""

from __future__ import annotations

import pytest

from nhirecon.errors import ConnectorError
from nhirecon.http.auth import EXPIRY_MARGIN, TokenCache, issued_token

URL = "https://login.example.com/token"


def test_a_token_answer_gives_the_token_and_its_lifetime() -> None:
    assert issued_token({"access_token": "abc", "expires_in": 600}, URL) == ("abc", 600.0)
    assert issued_token({"access_token": "abc", "expires_in": " 900"}, URL) == ("abc", 900.0)
    assert issued_token({"access_token": "abc"}, URL) == ("abc", 3600.0)
    assert issued_token({"access_token": "abc", "expires_in": "soon"}, URL, 60.0) == ("abc", 60.0)


@pytest.mark.parametrize(
    "answer", [{}, [], {"access_token": ""}, {"access_token": 7}, {"error": "invalid_client"}]
)
def test_an_answer_without_a_token_names_the_url(answer: object) -> None:
    with pytest.raises(ConnectorError, match=f"POST {URL}: the answer holds no access_token"):
        issued_token(answer, URL)


def test_a_token_is_fetched_once_until_it_is_dropped() -> None:
    cache = TokenCache()
    fetched: list[int] = []

    def fetch() -> tuple[str, float]:
        fetched.append(1)
        return f"t{len(fetched)}", 3600.0

    assert cache.headers(fetch) == {"Authorization": "Bearer t1"}
    assert cache.headers(fetch) == {"Authorization": "Bearer t1"}
    assert cache.drop() is True
    assert cache.drop() is False
    assert cache.headers(fetch) == {"Authorization": "Bearer t2"}
    assert len(fetched) == 2


def test_a_token_about_to_expire_is_fetched_again() -> None:
    cache = TokenCache()
    lifetimes = iter([EXPIRY_MARGIN, 3600.0])
    tokens = iter(["short", "long"])
    fetch = lambda: (next(tokens), next(lifetimes))  # noqa: E731
    assert cache.headers(fetch) == {"Authorization": "Bearer short"}
    assert cache.headers(fetch) == {"Authorization": "Bearer long"}
    assert cache.token == "long"
