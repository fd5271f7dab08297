"""Secrets out of everything a service sends back.

A careless or hostile service may put the credentials it was sent into what it answers: a
user's ``displayName`` in a listing, the ``detail`` of an error after a few hundred
characters of padding. Every answer is scrubbed as it is read, before it is parsed and
long before any message is cut short, so that no secret, whole or in part, reaches a
report, a log line or an error message.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final
from urllib.parse import quote, quote_plus

REDACTED: Final = "[redacted]"
MIN_SECRET: Final = 4
"""Shorter values are not treated as secrets (they would blank out ordinary text)."""
MIN_DATA_SECRET: Final = 8
"""Shorter secrets are scrubbed from messages only, never from the data a service sends:
a four-letter password would otherwise rewrite every attribute that happens to hold those
letters, and a PUT sends attributes back as read."""


FRAGMENT: Final = 8
"""A message never shows this many characters in a row of any secret."""


def _variants(secret: str) -> set[str]:
    """A secret as a service may echo it: as sent, percent-encoded (in a URL or a form), or
    upper- or lower-cased (hex tokens)."""
    return {secret, quote(secret, safe=""), quote_plus(secret), secret.upper(), secret.lower()}


class Redactor:
    """Replaces each of a set of secrets, longest first, in text, bytes and parsed JSON."""

    def __init__(self, secrets: Iterable[str], *, minimum: int = MIN_SECRET) -> None:
        given = {secret for secret in secrets if secret and len(secret) >= minimum}
        self.secrets = sorted(
            {variant for secret in given for variant in _variants(secret)},
            key=len,
            reverse=True,
        )
        self._encoded = [secret.encode("utf-8") for secret in self.secrets]
        self._fragments = {
            secret[start : start + FRAGMENT]
            for secret in self.secrets
            for start in range(len(secret) - FRAGMENT + 1)
        }

    def scrub_message(self, text: str) -> str:
        """A message with every secret replaced, and every run of :data:`FRAGMENT` or more
        characters of one (a prefix, a piece) too: messages are short, data is not."""
        text = self.scrub_text(text)
        if not self._fragments or len(text) < FRAGMENT:
            return text
        hidden = [False] * len(text)
        for start in range(len(text) - FRAGMENT + 1):
            if text[start : start + FRAGMENT] in self._fragments:
                hidden[start : start + FRAGMENT] = [True] * FRAGMENT
        if not any(hidden):
            return text
        out: list[str] = []
        for index, char in enumerate(text):
            if not hidden[index]:
                out.append(char)
            elif index == 0 or not hidden[index - 1]:
                out.append(REDACTED)
        return "".join(out)

    def scrub_text(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text

    def scrub_bytes(self, data: bytes) -> bytes:
        """Raw bytes as received (a JSON escape can still hide a secret: see :meth:`scrub_json`)."""
        for secret in self._encoded:
            if secret in data:
                data = data.replace(secret, REDACTED.encode())
        return data

    def scrub_json(self, value: Any) -> Any:
        """A parsed JSON value with every string (keys too) scrubbed."""
        if isinstance(value, str):
            return self.scrub_text(value)
        if isinstance(value, list):
            return [self.scrub_json(item) for item in value]
        if isinstance(value, dict):
            return {self.scrub_json(key): self.scrub_json(item) for key, item in value.items()}
        return value
