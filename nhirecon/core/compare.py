"""``compare``: which of a linked account's fields differ from its identity's (SPEC §5)."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from nhirecon.core.model import Record
from nhirecon.core.values import format_datetime


def _comparable(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, tuple):
        return ";".join(sorted(_comparable(item) or "" for item in value)) or None
    if isinstance(value, datetime):
        return format_datetime(value)
    text = str(value)
    if text.isascii():  # NFKC leaves ASCII as it is, and case-folds it as lower() does
        return " ".join(text.split()).lower() or None
    folded = " ".join(unicodedata.normalize("NFKC", text).split()).casefold()
    return folded or None


def _shown(value: object) -> Any:
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, datetime):
        return format_datetime(value)
    return value


def drift(fields: Iterable[str], identity: Record, account: Record) -> list[dict[str, Any]]:
    """Compared fields whose source value differs from the account's (source empty: skip)."""
    found: list[dict[str, Any]] = []
    for field in fields:
        wanted = identity.value(field)
        actual = account.value(field)
        if wanted is None or actual == wanted:
            continue
        if field in identity.multi_values or field in account.multi_values:
            found.extend(_multi_drift(field, identity, account))
            continue
        expected = _comparable(wanted)
        if expected is not None and _comparable(actual) != expected:
            found.append({"field": field, "source": _shown(wanted), "target": _shown(actual)})
    return found


def _multi_drift(field: str, identity: Record, account: Record) -> list[dict[str, Any]]:
    """A field with several values on either side drifts only when no value of the source's
    is among the account's: no value is preferred for its place in a list."""
    wanted = identity.values(field)
    actual = account.values(field)
    present = {_comparable(value) for value in actual}
    if any(_comparable(value) in present for value in wanted):
        return []
    shown_source = list(wanted) if field in identity.multi_values else wanted[0]
    shown_target = list(actual) if field in account.multi_values else account.value(field)
    return [{"field": field, "source": shown_source, "target": shown_target}]
