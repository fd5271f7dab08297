"""A secret never shows, whole or in part, however a service echoes it back."""

from __future__ import annotations

import pytest

from nhirecon.http.redact import REDACTED, Redactor

TOKEN = "Zm9v+YmFy/c2VjcmV0=="
HEX = "9f86d081884c7d659a2feaa0c55ad015"


@pytest.mark.parametrize(
    "echo",
    [
        TOKEN,
        "Zm9v%2BYmFy%2Fc2VjcmV0%3D%3D",  # percent-encoded, as in a URL or a form
        "Zm9v%2BYmFy%2Fc2VjcmV0%3D%3D".lower(),
        HEX.upper(),
        TOKEN[:12],  # a prefix
        TOKEN[5:15],  # a piece
    ],
)
def test_messages_never_carry_a_secret_or_eight_characters_of_one(echo: str) -> None:
    redactor = Redactor([TOKEN, HEX])
    message = redactor.scrub_message(f"HTTP 401: invalid credentials {echo!r} (padding)")
    assert REDACTED in message
    for secret in (TOKEN, HEX):
        for start in range(len(secret) - 7):
            assert secret[start : start + 8] not in message
            assert secret[start : start + 8].upper() not in message


def test_ordinary_text_is_left_alone() -> None:
    redactor = Redactor([TOKEN])
    text = "GET https://scim.example.com/v2/Users: HTTP 503 Service Unavailable"
    assert redactor.scrub_message(text) == text


def test_data_is_scrubbed_of_whole_secrets_in_every_spelling() -> None:
    redactor = Redactor([HEX])
    assert redactor.scrub_json({"displayName": f"x {HEX.upper()} y"}) == {
        "displayName": f"x {REDACTED} y"
    }
    assert redactor.scrub_bytes(HEX.encode()) == REDACTED.encode()
