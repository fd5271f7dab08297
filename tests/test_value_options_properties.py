"""Properties of the value options (SPEC §3.1) over generated rows.

- The word lists of ``active_values``, ``kind_values`` and ``origin_values`` are closed: a
  raw value they do not list (and, for kinds and origins, that is no canonical word) is
  always an error naming the row and the value; a listed one always reads as its meaning.
- ``where`` and ``where_not`` never keep a row that their rule drops, and keep every row
  it does not.
- Several date columns give the latest of their dates (the earliest for `created_at` and
  `credential_rotated_at`), whatever the order of the columns.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nhirecon.connectors.base import Connector, ConnectorContext, RawRow
from nhirecon.connectors.context import ValueOptions
from nhirecon.core.model import Origin, Record
from nhirecon.core.values import KINDS
from nhirecon.errors import DataError

WORDS = ("active", "Locked", "SUSPENDED", "svc", "employee", "sso", "jit", "bot", "x", "on")
SPELLINGS = st.sampled_from(WORDS).flatmap(
    lambda word: st.sampled_from((word, word.upper(), word.lower(), f" {word} "))
)


class Rows(Connector):
    """Rows held in memory, as a plugin would yield them."""

    name = "rows"
    description = "rows held in memory"

    def __init__(self, *, context: ConnectorContext, items: list[dict[str, Any]]) -> None:
        super().__init__(context=context)
        self.items = items

    def rows(self) -> Iterator[RawRow]:
        for number, item in enumerate(self.items, start=1):
            yield RawRow(f"mem:{number}", item.get, item.__contains__)


def read(items: list[dict[str, Any]], field_map: dict[str, Any], **options: Any) -> list[Record]:
    origins = options.pop("origins", {})
    context = ConnectorContext(
        "app",
        Path("."),
        field_map,
        origins,
        key="targets[0]",
        value_options=ValueOptions(**options),
    )
    return list(Rows(context=context, items=items).records())


MEANINGS: dict[str, tuple[Any, ...]] = {
    "active": (True, False),
    "kind": KINDS,
    "origin": tuple(Origin),
}
CANONICAL: dict[str, frozenset[str]] = {
    "active": frozenset(),
    "kind": frozenset(KINDS),
    "origin": frozenset(origin.value for origin in Origin),
}


@pytest.mark.parametrize("field", sorted(MEANINGS))
def test_word_lists_are_closed(field: str) -> None:
    @settings(max_examples=150, deadline=None)
    @given(
        listed=st.dictionaries(
            st.sampled_from(WORDS).map(str.casefold), st.sampled_from(MEANINGS[field]), min_size=1
        ),
        raw=SPELLINGS,
    )
    def check(listed: dict[str, Any], raw: str) -> None:
        option = {"active": "active_values", "kind": "kind_values", "origin": "origins"}[field]
        items = [{"id": "A1", "value": raw}]
        word = raw.strip().casefold()
        if word not in listed and word not in CANONICAL[field]:
            with pytest.raises(DataError) as caught:
                read(items, {"id": "id", field: "value"}, **{option: listed})
            message = str(caught.value)
            assert message.startswith(f"mem:1: {field} (column 'value'): {raw.strip()!r} ")
            return
        [record] = read(items, {"id": "id", field: "value"}, **{option: listed})
        assert getattr(record, field) == listed.get(word, word)

    check()


def test_without_a_list_active_takes_exactly_the_words_of_the_spec() -> None:
    usual = {"true", "false", "yes", "no", "1", "0", "enabled", "disabled", "active", "inactive"}

    @settings(max_examples=200, deadline=None)
    @given(raw=st.one_of(SPELLINGS, st.sampled_from(sorted(usual)), st.text(max_size=8)))
    def check(raw: str) -> None:
        word = raw.strip().casefold()
        if not word:
            assert read([{"id": "A1", "on": raw}], {"id": "id", "active": "on"})[0].active
        elif word in usual:
            [record] = read([{"id": "A1", "on": raw}], {"id": "id", "active": "on"})
            assert record.active is (word in {"true", "yes", "1", "enabled", "active"})
        else:
            with pytest.raises(DataError, match="is not a yes/no value"):
                read([{"id": "A1", "on": raw}], {"id": "id", "active": "on"})

    check()


VALUES = st.one_of(st.none(), SPELLINGS, st.lists(SPELLINGS, max_size=3))


def normalised(value: Any) -> set[str]:
    items = value if isinstance(value, list) else [value]
    return {item.strip().casefold() for item in items if item is not None and item.strip()}


@settings(max_examples=300, deadline=None)
@given(
    values=st.lists(VALUES, min_size=1, max_size=12),
    kept=st.one_of(st.none(), st.frozensets(st.sampled_from(WORDS).map(str.casefold), min_size=1)),
    dropped=st.one_of(
        st.none(), st.frozensets(st.sampled_from(WORDS).map(str.casefold), min_size=1)
    ),
    mapped=st.booleans(),
)
def test_where_never_keeps_a_row_its_rule_drops(
    values: list[Any], kept: frozenset[str] | None, dropped: frozenset[str] | None, mapped: bool
) -> None:
    items = [{"id": f"A{n}", "userType": value} for n, value in enumerate(values)]
    name = "user_type" if mapped else "userType"
    field_map = {"id": "id", "user_type": "userType"} if mapped else {"id": "id"}
    options: dict[str, Any] = {}
    if kept is not None:
        options["where"] = {name: kept}
    if dropped is not None:
        options["where_not"] = {name: dropped}
    records = read(items, field_map, **options)
    expected = [
        item["id"]
        for item in items
        if (kept is None or normalised(item["userType"]) & kept)
        and not (dropped is not None and normalised(item["userType"]) & dropped)
    ]
    assert [record.id for record in records] == expected
    for record, item in zip(records, (i for i in items if i["id"] in expected), strict=True):
        found = normalised(item["userType"])
        assert kept is None or found & kept, f"{record.id} kept though `where` drops it"
        assert dropped is None or not found & dropped, f"{record.id} kept though dropped"


START = datetime(2020, 1, 1, tzinfo=UTC)
DATES = st.one_of(
    st.integers(0, 3000).map(lambda days: ("date", START + timedelta(days=days, seconds=days))),
    st.sampled_from(("", "N/A", "0001-01-01T00:00:00Z", "1601-01-01T00:00:00Z")).map(
        lambda text: ("never", text)
    ),
)


def spelled(kind: str, value: Any, style: int) -> str:
    if kind == "never":
        return str(value)
    local = value.astimezone(UTC)
    return (
        local.isoformat(),
        local.strftime("%Y-%m-%dT%H:%M:%SZ"),
        local.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" "),
    )[style % 3]


@settings(max_examples=200, deadline=None)
@given(data=st.data(), cells=st.lists(DATES, min_size=2, max_size=4))
def test_several_date_columns_give_the_latest_whatever_their_order(
    data: st.DataObject, cells: list[tuple[str, Any]]
) -> None:
    """The latest date: the earliest for a creation and a credential's rotation, where
    one old key among new ones is what the finding is for."""
    field = data.draw(st.sampled_from(["last_login_at", "credential_rotated_at", "created_at"]))
    columns = [f"c{n}" for n in range(len(cells))]
    item: dict[str, Any] = {"id": "A1"}
    for n, (kind, value) in enumerate(cells):
        item[columns[n]] = spelled(kind, value, data.draw(st.integers(0, 2), label="style"))
    order = data.draw(st.permutations(columns), label="order")
    [record] = read([item], {"id": "id", field: list(order)}, null_values=frozenset({"n/a"}))
    dates = [value for kind, value in cells if kind == "date"]
    chosen = min if field != "last_login_at" else max
    assert getattr(record, field) == (chosen(dates) if dates else None)
    [again] = read([item], {"id": "id", field: columns}, null_values=frozenset({"n/a"}))
    assert getattr(again, field) == getattr(record, field)
