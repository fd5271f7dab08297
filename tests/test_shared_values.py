"""Values that recur from record to record are held once, and read exactly as before."""

from __future__ import annotations

from pathlib import Path

import pytest

from nhirecon.connectors import readers
from nhirecon.connectors.context import ConnectorContext
from nhirecon.connectors.csv import CsvConnector
from nhirecon.connectors.readers import sharing
from nhirecon.core.values import key_for


def test_records_that_share_a_department_share_one_string(tmp_path: Path) -> None:
    export = tmp_path / "hr.csv"
    export.write_text(
        "id,email,department,title\n"
        + "".join(f"E{n},p{n}@example.com,{'Sales' * 2},Engineer {n % 2}\n" for n in range(50))
    )
    connector = CsvConnector(context=ConnectorContext("hr", tmp_path, {}, {}), path="hr.csv")
    records = list(connector.records())
    departments = {id(record.department) for record in records}
    assert [record.department for record in records[:2]] == ["SalesSales", "SalesSales"]
    assert len(departments) == 1
    assert len({id(record.title) for record in records}) == 2
    assert len({id(record.email) for record in records}) == 50


def test_past_the_limit_values_are_read_as_they_are(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(readers, "SHARED_VALUES", 2)
    read = sharing(lambda raw: None if raw is None else str(raw).strip() or None)
    assert [read(value) for value in (" a", "b ", "c", "c", None, "")] == [
        "a",
        "b",
        "c",
        "c",
        None,
        None,
    ]


def test_a_lowercase_key_is_the_value_itself_not_a_copy() -> None:
    value = "p1@example.com"
    assert key_for(value, "casefold") is value
    assert key_for("P1@Example.com", "casefold") == "p1@example.com"
    assert key_for("12345", "casefold") == "12345"
