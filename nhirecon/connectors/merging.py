"""Rows that share an id, read as one record (``repeated_rows: merge``).

Exports that list one row per group, or per alias, repeat the rest of the record on each
row. Merged, the record holds every group and every value of the fields that may hold
several (``external_id``, ``username``, ``email``, ``display_name``, custom attributes);
a date takes the latest of its rows. Any other field that differs between the rows (a
status, ``active``, ``kind``, an owner ...) is an error naming both rows: which of them
is right is not for the tool to guess.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from nhirecon.connectors.readers import chosen_date
from nhirecon.core.model import DATE_FIELDS, MULTI_VALUED_FIELDS
from nhirecon.errors import DataError

Values = dict[str, Any]
"""A record's fields as the mapping reads them: canonical fields by name, plus
``multi_values`` and ``attributes`` (plain dictionaries) when there are any."""

MULTI = "multi_values"
ATTRIBUTES = "attributes"


class Merged:
    """The records of one input by id, in the order each id was first read."""

    def __init__(self) -> None:
        self._pending: dict[str, tuple[Values, str]] = {}

    def add(self, values: Values, location: str) -> None:
        found = self._pending.get(values["id"])
        if found is None:
            self._pending[values["id"]] = (values, location)
        else:
            merge(found[0], values, found[1], location)

    def __iter__(self) -> Iterator[tuple[Values, str]]:
        return iter(self._pending.values())

    def __len__(self) -> int:
        return len(self._pending)


def merge(into: Values, row: Values, first: str, location: str) -> None:
    """Fold the values of a later row into those read first (at ``first``)."""
    for name, value in row.items():
        if name in (MULTI, ATTRIBUTES):
            continue
        current = into.get(name)
        if current is None:
            into[name] = value
            _copy_several(into, row, name, MULTI)
        elif name in MULTI_VALUED_FIELDS:
            _unite(into, row, name, MULTI, into)
        elif current == value:
            continue
        elif name in DATE_FIELDS:
            into[name] = chosen_date(name, current, value)
        elif name == "groups":
            into[name] = tuple(sorted({*current, *value}))
        else:
            raise DataError(
                f"{location}: {name} {_shown(value)} differs from {_shown(current)} in the"
                f" row for the same id {into['id']!r} at {first} (with `repeated_rows: merge`"
                " only groups, dates and fields that may hold several values may differ)"
            )
    attributes: dict[str, str] = row.get(ATTRIBUTES) or {}
    if attributes:
        held = into.setdefault(ATTRIBUTES, {})
        for name, value in attributes.items():
            if name not in held:
                held[name] = value
                _copy_several(into, row, name, MULTI)
            else:
                _unite(into, row, name, MULTI, held)


def _values(values: Values, name: str, holder: dict[str, Any]) -> tuple[str, ...]:
    several = (values.get(MULTI) or {}).get(name)
    return several if several is not None else (holder[name],)


def _unite(into: Values, row: Values, name: str, key: str, holder: dict[str, Any]) -> None:
    """Every value of field ``name`` in either row, those read first first."""
    theirs_holder = row if holder is into else row[ATTRIBUTES]
    combined = tuple(dict.fromkeys(_values(into, name, holder) + _values(row, name, theirs_holder)))
    if len(combined) > 1:
        into.setdefault(key, {})[name] = combined


def _copy_several(into: Values, row: Values, name: str, key: str) -> None:
    several = (row.get(key) or {}).get(name)
    if several is not None:
        into.setdefault(key, {})[name] = several


def _shown(value: Any) -> str:
    return repr(value.value if hasattr(value, "value") else value)
