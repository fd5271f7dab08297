"""Which account ids a write may name (SPEC §8, "Where writes go")."""

from __future__ import annotations

import unicodedata


def id_problem(resource_id: str) -> str | None:
    """Why ``resource_id`` must never be written to, or ``None`` when it may.

    ``.`` and ``..`` are path segments a URL resolver removes (RFC 3986 §5.2.4), so
    ``/Users/..`` would address the collection or the service root.
    """
    if not resource_id.strip():
        return "the account id is empty"
    if resource_id[0].isspace() or resource_id[-1].isspace():
        return "the account id begins or ends with whitespace"
    if resource_id in (".", ".."):
        return f"the account id {resource_id!r} is a relative path segment"
    if any(unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp") for char in resource_id):
        return "the account id holds a control character"
    if any(unicodedata.category(char) == "Cs" for char in resource_id):
        return "the account id holds a lone surrogate, which no URL can carry"
    return None
