"""Mapping rows a column at a time (`CellMapper.map_cells`) against mapping them one by one
(`FieldMapper.map`): the same records, coverage and error, whatever the batches."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nhirecon.connectors.by_column import RECORD_FIELDS, Batch, CellMapper, records_by_column
from nhirecon.connectors.context import ConnectorContext, RawRow, ValueOptions
from nhirecon.connectors.mapping import FieldMapper
from nhirecon.core.model import EMPTY_ATTRIBUTES, Origin, Record
from nhirecon.errors import NhireconError

NAMES = ("uid", "mail", "login", "on", "made", "seen", "sort", "via", "team", "cost", "ext")
CELLS = {
    "uid": ["u1", "u2", "u3", "u1", " u4 ", "", "n/a", "Ｕ5"],
    "mail": ["a@x.io", "A@X.IO", " b@x.io", "", "none", "ｃ@x.io"],
    "login": ["al", "", "bo", "N/A"],
    "on": ["true", "false", "", "yes", "maybe", "TRUE", "n/a"],
    "made": ["2024-01-02", "2024-01-02T03:04:05Z", "", "not a date", "0001-01-01", "-"],
    "seen": ["2026-11-01T00:00:00+02:00", "", "never", "2026-13-01", "2025-02-03 04:05:06"],
    "sort": ["user", "svc", "", "robot", "USER"],
    "via": ["sso", "admin", "", "scim-sync", "n/a"],
    "team": ["Ops", "ops ", "", "Ｏps", "none"],
    "cost": ["", "42", "n/a", " 7 "],
    "ext": ["", "e-1", "e-2"],
}
FIELD_MAP: dict[str, str | tuple[str, ...]] = {
    "id": "uid",
    "email": "mail",
    "username": "login",
    "active": "on",
    "created_at": "made",
    "last_login_at": "seen",
    "kind": "sort",
    "origin": "via",
    "department": "team",
    "cost_centre": "cost",
    "external_id": "ext",
}


class Export:
    """What the mapping needs of a connector whose header is ``NAMES``; without a mapped
    ``origin``, an account with an ``external_id`` was provisioned by SCIM."""

    def __init__(self, context: ConnectorContext) -> None:
        self.context = context

    def defaults(self) -> Mapping[str, str]:
        return {}

    def columns(self) -> frozenset[str]:
        return frozenset(NAMES)

    def default_origin(self, external_id: str | None) -> Origin:
        return Origin.SCIM if external_id else Origin.UNKNOWN


def context(
    mapped: Sequence[str],
    nulls: bool,
    field_map: Mapping[str, str | tuple[str, ...]] | None = None,
    **options: Any,
) -> ConnectorContext:
    return ConnectorContext(
        "app",
        Path(),
        {**{name: FIELD_MAP[name] for name in mapped}, **(field_map or {})},
        {"sso": Origin.JIT, "admin": Origin.MANUAL},
        key="targets[0]",
        value_options=ValueOptions(
            null_values=frozenset({"n/a", "none", "-"}) if nulls else frozenset(),
            kind_values=MappingProxyType({"user": "human", "svc": "service_account"}),
            **options,
        ),
    )


def rows_of(draw: Any) -> list[list[str]]:
    count = draw(st.integers(min_value=0, max_value=12))
    return [[draw(st.sampled_from(CELLS[name])) for name in NAMES] for _ in range(count)]


def raw_rows(locations: Sequence[str], rows: Sequence[Sequence[str]]) -> Iterator[RawRow]:
    """The rows as the CSV connector gives them to :meth:`FieldMapper.map`."""
    for location, cells in zip(locations, rows, strict=True):
        yield RawRow(location, dict(zip(NAMES, cells, strict=True)).get)


def outcome(records: Iterator[Record], mapper: FieldMapper) -> tuple[Any, ...]:
    try:
        made = list(records)
    except NhireconError as exc:
        return ("error", type(exc), str(exc))
    return ("records", made, mapper.coverage)


def batches(locations: list[str], rows: list[list[str]], sizes: list[int]) -> Iterator[Batch]:
    start = 0
    for size in sizes:
        if start >= len(rows):
            break
        yield locations[start : start + size], rows[start : start + size]
        start += size
    if start < len(rows):
        yield locations[start:], rows[start:]


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_by_column_and_by_row_agree(data: st.DataObject) -> None:
    optional = [name for name in FIELD_MAP if name != "id"]
    mapped = ["id", *data.draw(st.lists(st.sampled_from(optional), unique=True))]
    nulls = data.draw(st.booleans())
    options: dict[str, Any] = data.draw(
        st.sampled_from(
            [
                {},
                {"where": {"sort": frozenset({"user"})}},
                {"repeated_rows": "merge"},
                {"date_formats": {"created_at": "%Y-%m-%d"}},
            ]
        )
    )
    rows = rows_of(data.draw)
    locations = [f"app.csv:{n}" for n in range(2, len(rows) + 2)]
    sizes = data.draw(st.lists(st.integers(min_value=1, max_value=5), max_size=6))

    by_row = FieldMapper(Export(context(mapped, nulls, **options)))
    expected = outcome(by_row.map(raw_rows(locations, rows)), by_row)
    by_column = CellMapper(Export(context(mapped, nulls, **options)))
    got = outcome(by_column.map_cells(NAMES, batches(locations, rows, sizes)), by_column)
    assert got == expected


def test_a_clean_batch_is_read_by_column(monkeypatch: pytest.MonkeyPatch) -> None:
    """Clean rows never reach the row reader; a batch with a bad value does, and its error
    names the first faulty row."""
    mapper = CellMapper(Export(context(list(FIELD_MAP), nulls=True)))
    by_row: list[int] = []
    original = CellMapper._by_row

    def counted(self: CellMapper, *args: Any) -> Iterator[Record]:
        by_row.append(len(args[1]))
        return original(self, *args)

    monkeypatch.setattr(CellMapper, "_by_row", counted)
    clean = [["u1", "a@x.io", "al", "true", "2024-01-02", "", "user", "sso", "Ops", "7", ""]]
    clean.append(["u2", "b@x.io", "bo", "false", "", "", "svc", "", "", "", "e-1"])
    records = list(mapper.map_cells(NAMES, [(["a.csv:2", "a.csv:3"], clean)]))
    assert by_row == []
    assert [(r.id, r.active, r.kind, r.origin, r.attributes) for r in records] == [
        ("u1", True, "human", Origin.JIT, {"cost_centre": "7"}),
        ("u2", False, "service_account", Origin.UNKNOWN, {}),
    ]
    faulty = [list(clean[0]), list(clean[1]), list(clean[0])]
    faulty[0][0], faulty[1][4], faulty[2][0] = "u9", "not a date", "u9"
    mapper = CellMapper(Export(context(list(FIELD_MAP), nulls=True)))
    with pytest.raises(NhireconError, match=r"^a\.csv:3: created_at \(column 'made'\)"):
        list(mapper.map_cells(NAMES, [(["a.csv:2", "a.csv:3", "a.csv:4"], faulty)]))
    assert by_row == [3]


def test_a_reader_that_fails_unexpectedly_lets_the_first_faulty_row_speak(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Whatever a reader raises on a later row, an earlier row's error is the one given:
    the batch is read row by row."""
    from nhirecon.connectors import dates

    iso = dates._CONVERTERS["iso"]

    def fragile(value: str) -> Any:
        if value == "boom":
            raise RuntimeError("a reader's own fault")
        return iso(value)

    monkeypatch.setitem(dates._CONVERTERS, "iso", fragile)
    rows = [["u1", "a@x.io", "al", "maybe", "", "", "user", "", "", "", ""]]
    rows.append(["u2", "b@x.io", "bo", "true", "", "boom", "user", "", "", "", ""])
    locations = ["a.csv:2", "a.csv:3"]
    mapped = ["id", "last_login_at", "active"]  # the dates column is read first
    by_row = FieldMapper(Export(context(mapped, nulls=False)))
    with pytest.raises(NhireconError) as expected:
        list(by_row.map(raw_rows(locations, rows)))
    by_column = CellMapper(Export(context(mapped, nulls=False)))
    with pytest.raises(NhireconError) as got:
        list(by_column.map_cells(NAMES, [(locations, rows)]))
    assert str(got.value) == str(expected.value)
    assert str(got.value).startswith("a.csv:2: active (column 'on')")


def test_a_field_read_from_several_columns_is_read_row_by_row() -> None:
    several = {"email": ("mail", "login")}
    rows = [["u1", "a@x.io", "b@x.io", *[""] * 8], ["u2", "", "c@x.io", *[""] * 8]]
    locations = ["a.csv:2", "a.csv:3"]
    by_row = FieldMapper(Export(context(["id"], nulls=False, field_map=several)))
    expected = outcome(by_row.map(raw_rows(locations, rows)), by_row)
    by_column = CellMapper(Export(context(["id"], nulls=False, field_map=several)))
    got = outcome(by_column.map_cells(NAMES, [(locations, rows)]), by_column)
    assert got == expected
    assert got[1][0].multi_values == {"email": ("a@x.io", "b@x.io")}


def test_records_made_a_field_at_a_time_are_those_the_constructor_makes() -> None:
    made = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    values: dict[str, list[Any]] = {
        "id": ["u1", "u2", "u3"],
        "location": ["a.csv:2", "a.csv:3", "a.csv:4"],
        "email": ["a@x.io", None, "c@x.io"],
        "active": [True, False, True],
        "created_at": [made, None, made],
        "origin": [Origin.JIT, Origin.UNKNOWN, Origin.SCIM],
        "attributes": [MappingProxyType({"cost": "7"}), EMPTY_ATTRIBUTES, EMPTY_ATTRIBUTES],
    }
    defaults = {name: getattr(Record("x", "y"), name) for name in RECORD_FIELDS}
    columns: list[Any] = [
        values[name] if name in values else itertools.repeat(defaults[name])
        for name in RECORD_FIELDS
    ]
    expected = [Record(**{name: values[name][row] for name in values}) for row in range(3)]
    records = records_by_column(columns, 3)
    assert records == expected
    for record, like in zip(records, expected, strict=True):
        for name in RECORD_FIELDS:  # every slot set, to the constructor's value
            assert getattr(record, name) == getattr(like, name)
    with pytest.raises(dataclasses.FrozenInstanceError):
        records[0].email = "changed"  # type: ignore[misc]


def test_records_by_column_refuses_a_missing_field_or_a_short_column() -> None:
    columns: list[Any] = [itertools.repeat(None)] * len(RECORD_FIELDS)
    with pytest.raises(ValueError, match="columns for"):
        records_by_column(columns[1:], 2)
    short = list(columns)
    short[RECORD_FIELDS.index("email")] = ["a@x.io"]
    with pytest.raises(ValueError, match="1 values of email for 2 records"):
        records_by_column(short, 2)
