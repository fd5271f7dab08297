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

REDACTED: Final = "[redacted]"
MIN_SECRET: Final = 4
"""Shorter values are not treated as secrets (they would blank out ordinary text)."""
MIN_DATA_SECRET: Final = 8
"""Shorter secrets are scrubbed from messages only, never from the data a service sends:
a four-letter password would otherwise rewrite every attribute that happens to hold those
letters, and a PUT sends attributes back as read."""


class Redactor:
    """Replaces each of a set of secrets, longest first, in text, bytes and parsed JSON."""

    def __init__(self, secrets: Iterable[str], *, minimum: int = MIN_SECRET) -> None:
        self.secrets = sorted(
            {secret for secret in secrets if secret and len(secret) >= minimum},
            key=len,
            reverse=True,
        )
        self._encoded = [secret.encode("utf-8") for secret in self.secrets]

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
