"""The value options of an input (SPEC §3.1): how its raw values are read.

They sit beside ``map`` on a source, an ``include:`` entry or a target, and apply whatever
the connector. Word lists are compared trimmed and case-insensitively, so they are held
case-folded. A YAML boolean in a word list is refused: ``no`` and ``off`` unquoted are
``false`` to YAML, and the word the export holds cannot be told back.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from types import MappingProxyType
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from nhirecon.config.checks import Checks, describe, join
from nhirecon.connectors.context import ValueOptions
from nhirecon.connectors.dates import DATE_FORMS, pattern_problem
from nhirecon.core.model import DATE_FIELDS, Origin
from nhirecon.core.values import KINDS

VALUE_KEYS: Final = frozenset(
    {
        "null_values",
        "date_format",
        "date_formats",
        "timezone",
        "active_values",
        "kind_values",
        "where",
        "where_not",
        "repeated_rows",
    }
)
"""The keys of :func:`read`, allowed on every input."""
REPEATED_ROWS: Final = ("error", "merge")


def read(check: Checks, data: Mapping[str, Any], key: str) -> ValueOptions:
    """The value options of the input at ``key`` (defaults for the keys it lacks)."""
    date_format = _date_format(check, data.get("date_format", "iso"), join(key, "date_format"))
    repeated = data.get("repeated_rows", "error")
    if repeated not in REPEATED_ROWS:
        raise check.fail(
            join(key, "repeated_rows"), f"expected error or merge, got {describe(repeated)}"
        )
    return ValueOptions(
        null_values=frozenset(_words(check, data.get("null_values"), join(key, "null_values"))),
        date_format=date_format,
        date_formats=_date_formats(check, data.get("date_formats"), join(key, "date_formats")),
        timezone=_timezone(check, data.get("timezone", "UTC"), join(key, "timezone")),
        active_values=_closed(
            check,
            data.get("active_values"),
            join(key, "active_values"),
            {"active": True, "inactive": False},
        ),
        kind_values=_closed(
            check, data.get("kind_values"), join(key, "kind_values"), {k: k for k in KINDS}
        ),
        where=_filters(check, data.get("where"), join(key, "where")),
        where_not=_filters(check, data.get("where_not"), join(key, "where_not")),
        repeated_rows=repeated,
    )


def origin_values(check: Checks, value: Any, key: str) -> dict[str, Origin]:
    """``origin_values``: raw word (case-folded) → origin."""
    found = _closed(check, value, key, {origin.value: origin for origin in Origin}, strict=False)
    return dict(found or {})


def _words(check: Checks, value: Any, key: str, *, strict: bool = True) -> list[str]:
    """A list of raw values (or one value), trimmed and case-folded."""
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    words = []
    for index, item in enumerate(items):
        item_key = f"{key}[{index}]" if isinstance(value, list) else key
        if isinstance(item, bool) and strict:
            raise check.fail(
                item_key,
                f"got the YAML boolean {str(item).lower()}: quote the word as the export"
                " writes it ('no', 'off', 'true' ...)",
            )
        if isinstance(item, date):
            item = item.isoformat()
        if not isinstance(item, str | int | float):
            raise check.fail(item_key, f"expected a value, got {describe(item)}")
        word = str(item).strip().casefold()
        if word:
            words.append(word)
    return words


def _closed(
    check: Checks, value: Any, key: str, meanings: Mapping[str, Any], *, strict: bool = True
) -> Mapping[str, Any] | None:
    """A closed value map: ``{meaning: [raw word, ...]}`` → raw word → meaning."""
    if value is None:
        return None
    data = check.mapping(value, key, frozenset(meanings))
    found: dict[str, Any] = {}
    where: dict[str, str] = {}
    for name, words in data.items():
        entry = join(key, name)
        for word in _words(check, words, entry, strict=strict):
            if word in found and found[word] != meanings[name]:
                raise check.fail(entry, f"{word!r} is listed under both {where[word]} and {name}")
            found[word] = meanings[name]
            where[word] = name
    if not found and strict:
        raise check.fail(key, "lists no value")
    return MappingProxyType(found)


def _filters(check: Checks, value: Any, key: str) -> Mapping[str, frozenset[str]]:
    """``where`` / ``where_not``: field or raw name → the values it is compared with."""
    if value is None:
        return MappingProxyType({})
    data = check.mapping(value, key, None)
    result = {}
    for name, words in data.items():
        entry = join(key, name)
        listed = _words(check, words, entry)
        if not listed:
            raise check.fail(entry, "lists no value")
        result[check.string(name, key)] = frozenset(listed)
    return MappingProxyType(result)


def _date_format(check: Checks, value: Any, key: str) -> str:
    form = check.string(value, key)
    if form in DATE_FORMS:
        return form
    problem = pattern_problem(form)
    if problem:
        raise check.fail(
            key,
            f"expected {', '.join(DATE_FORMS)} or a strptime pattern such as '%d.%m.%Y',"
            f" got {form!r} ({problem})",
        )
    return form


def _date_formats(check: Checks, value: Any, key: str) -> Mapping[str, str]:
    if value is None:
        return MappingProxyType({})
    data = check.mapping(value, key, frozenset(DATE_FIELDS))
    return MappingProxyType(
        {name: _date_format(check, form, join(key, name)) for name, form in data.items()}
    )


def _timezone(check: Checks, value: Any, key: str) -> str:
    name = check.string(value, key)
    if name.upper() == "UTC":
        return "UTC"
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise check.fail(
            key, f"unknown time zone {name!r} (an IANA name such as Europe/Berlin, or UTC)"
        ) from None
    return name
