"""The readers of one input's fields, settled once when the mapping binds, and the
row-level reading they share: several columns, and the ``where`` filters."""

from __future__ import annotations

from typing import Any, Final

from nhirecon.connectors import dates, parsers
from nhirecon.connectors.context import ConnectorContext, Lookup, RawRow
from nhirecon.connectors.parsers import Reader, Several
from nhirecon.core.model import DATE_FIELDS
from nhirecon.core.values import ValueError_, text
from nhirecon.errors import DataError

USE_FIELDS: Final = frozenset({"last_login_at", "last_interactive_login_at"})
"""The dates of last use, where the Unix epoch means "never" (see ``dates.date_reader``)."""
SHARED_FIELDS: Final = frozenset({"status", "kind", "department", "title", "manager"})
"""Fields whose values recur from record to record; each distinct value is held once."""
SHARED_VALUES: Final = 65_536
"""How many distinct values of one field are shared; later ones are held as read."""


class Readers:
    """The reader of each single-valued field, by the input's value options; date readers
    are shared by the fields that use the same format."""

    def __init__(self, context: ConnectorContext) -> None:
        options = context.value_options
        self.options = options
        self.zone = dates.time_zone(options.timezone)
        nulls = options.null_values
        self.nulls = nulls
        self.dates: dict[tuple[str, bool], Reader] = {}
        self.fixed: dict[str, Reader] = {
            "active": parsers.without_nulls(parsers.active_reader(options.active_values), nulls),
            "kind": parsers.without_nulls(parsers.kind_reader(options.kind_values), nulls),
            "origin": parsers.without_nulls(parsers.origin_reader(context.origin_values), nulls),
            "groups": parsers.without_nulls(parsers.groups, nulls),
            "id": parsers.without_nulls(parsers.identifier, nulls),
            "password_enabled": parsers.without_nulls(parsers.yes_no, nulls),
        }
        self.text = parsers.without_nulls(parsers.single, nulls)

    def of(self, name: str) -> Reader:
        if name in DATE_FIELDS:
            form = self.options.date_formats.get(name, self.options.date_format)
            key = (form, name in USE_FIELDS)
            if key not in self.dates:
                self.dates[key] = dates.date_reader(form, self.zone, self.nulls, used=key[1])
            return self.dates[key]
        reader = self.fixed.get(name, self.text)
        return sharing(reader) if name in SHARED_FIELDS else reader


def sharing(reader: Reader) -> Reader:
    """``reader``, giving the same string object for each distinct value it reads, up to
    ``SHARED_VALUES`` of them: a million records that share a few hundred departments hold
    a few hundred strings, not a million."""
    seen: dict[str, str] = {}

    def read(raw: object) -> Any:
        value = reader(raw)
        if type(value) is str:
            found = seen.get(value)
            if found is not None:
                return found
            if len(seen) < SHARED_VALUES:
                seen[value] = value
        return value

    return read


def matches(lookup: Lookup, columns: tuple[str, ...], wanted: frozenset[str]) -> bool:
    """Whether any value of ``columns`` in a row is one of ``wanted`` (trimmed, any case)."""
    for column in columns:
        raw = lookup(column)
        items = raw if isinstance(raw, list | tuple) else (raw,)
        for item in items:
            if isinstance(item, dict):
                item = item.get("value")
            value = None if isinstance(item, dict | list | tuple) else text(item)
            if value is not None and value.casefold() in wanted:
                return True
    return False


EARLIEST_FIELDS: Final = frozenset({"created_at", "credential_rotated_at"})
"""Dates of which, read from several columns or merged rows, the earliest is the record's:
an account is as old as its first creation, and its credential as old as its oldest one
(one stale key among fresh ones is what ``stale-credential`` is for). Every other date
takes the latest: the last use, the last expiry."""


def chosen_date(name: str, one: Any, other: Any) -> Any:
    """Of two dates of field ``name``, the record's (see :data:`EARLIEST_FIELDS`)."""
    if name in EARLIEST_FIELDS:
        return min(one, other)
    return max(one, other)


def latest(row: RawRow, name: str, columns: tuple[str, ...], read: Reader) -> Any:
    """The date of several columns, whatever their order: the latest, or the earliest for
    :data:`EARLIEST_FIELDS`."""
    chosen = None
    for column in columns:
        try:
            value = read(row.lookup(column))
        except ValueError_ as exc:
            raise DataError(f"{row.location}: {name} (column {column!r}): {exc}") from None
        if value is not None:
            chosen = value if chosen is None else chosen_date(name, chosen, value)
    return chosen


def read_several(row: RawRow, name: str, columns: tuple[str, ...]) -> str | Several | None:
    """A field that may hold several values, from one column or several: every value of
    every column, the first column's first."""
    if len(columns) == 1:
        try:
            return parsers.one_or_several(row.lookup(columns[0]))
        except ValueError_ as exc:
            raise DataError(f"{row.location}: {name} (column {columns[0]!r}): {exc}") from None
    found: list[str] = []
    for column in columns:
        try:
            value = parsers.one_or_several(row.lookup(column))
        except ValueError_ as exc:
            raise DataError(f"{row.location}: {name} (column {column!r}): {exc}") from None
        if isinstance(value, Several):
            found.extend(value)
        elif value is not None:
            found.append(value)
    distinct = tuple(dict.fromkeys(found))
    if len(distinct) > 1:
        return Several(distinct)
    return distinct[0] if distinct else None
