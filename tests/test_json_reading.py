"""A JSON export read by the ``json`` connector: records located at the line they start on
(blank lines before the document counted), a member named twice read as JSON reads it,
and input JSON does not allow refused with its place, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from nhirecon.connectors.base import ConnectorContext
from nhirecon.connectors.json import JsonConnector
from nhirecon.errors import DataError
from tests.conftest import NOW, Run

ROW = '{"id": "A1", "email": "a@example.com"}'


def locations(path: Path, **options: str) -> list[str]:
    context = ConnectorContext("app", path.parent)
    connector = JsonConnector(context=context, path=path.name, **options)
    return [raw.location.rpartition("/")[2] for raw in connector.rows()]


def refusal(path: Path, **options: str) -> str:
    with pytest.raises(DataError) as caught:
        locations(path, **options)
    return str(caught.value).rpartition("/")[2]


@pytest.mark.parametrize("blank", ["\n\n", "\r\n\r\n", " \t\n \n"])
def test_blank_lines_before_the_document_count(tmp_path: Path, blank: str) -> None:
    path = tmp_path / "app.json"
    path.write_text(blank + f"[\n{ROW},\n\n{ROW}\n]\n", encoding="utf-8", newline="")
    assert locations(path) == ["app.json:4", "app.json:6"]
    path.write_text(blank + f'{{"value": [\n{ROW}]}}\n', encoding="utf-8", newline="")
    assert locations(path, key="value") == ["app.json:4"]
    path.write_text(blank + f"{ROW}\n\n{ROW}\n", encoding="utf-8", newline="")
    assert locations(path) == ["app.json:3", "app.json:5"]  # JSON Lines
    path.write_text(blank + "[\n" + ROW + ",\n{]\n", encoding="utf-8", newline="")
    assert refusal(path).startswith("app.json:5: invalid JSON")
    path.write_text(blank + " \t[}", encoding="utf-8", newline="")  # the column too
    assert refusal(path) == "app.json:3: invalid JSON: Expecting value (column 4)"


def test_a_member_named_twice_is_read_and_located_as_json_reads_it(tmp_path: Path) -> None:
    path = tmp_path / "app.json"
    path.write_text(f'{{"value": [\n{ROW}\n],\n"value": [\n{ROW},\n5\n]}}', encoding="utf-8")
    assert refusal(path, key="value") == "app.json:6: expected an object, got int"
    path.write_text(f'{{"value": [\n{ROW}, {ROW}],\n"value": [\n{ROW}]}}', encoding="utf-8")
    assert locations(path, key="value") == ["app.json:4"]


def test_what_json_does_not_allow_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "app.json"
    path.write_text("\u00a0[" + ROW + "]", encoding="utf-8")  # a space JSON does not allow
    assert refusal(path).startswith("app.json:1: invalid JSON")
    path.write_text('[{"id": "A1", "n": ' + "1" * 5000 + "}]", encoding="utf-8")
    assert refusal(path).startswith("app.json: unreadable JSON: Exceeds the limit")
    path.write_text(ROW + '\n{"id": "A2", "n": ' + "1" * 5000 + "}\n", encoding="utf-8")
    assert refusal(path).startswith("app.json:2: unreadable JSON: Exceeds the limit")


def deep(levels: int) -> str:
    return '{"a": ' * levels + "1" + "}" * levels


def test_a_deep_record_hidden_behind_a_member_named_twice_is_refused(
    run: Run, tmp_path: Path
) -> None:
    """The first ``Resources`` holds one record, the last a deep one and a number: the
    deep record is checked as itself and refused, never read (its SCIM attributes are
    read recursively)."""
    (tmp_path / "hr.csv").write_text("employee_id,email\nE1,a@example.com\n", encoding="utf-8")
    (tmp_path / "nhirecon.yaml").write_text(
        "version: 1\n"
        "source: {name: hr, connector: csv, path: hr.csv,"
        " map: {id: employee_id, email: email}}\n"
        "targets:\n  - {name: app, connector: json, path: app.json}\n",
        encoding="utf-8",
    )
    (tmp_path / "app.json").write_text(
        f'{{"Resources": [{{"id": "X1"}}],\n"Resources": [{{"id": "A1", "x": {deep(600)}}}, 0]}}',
        encoding="utf-8",
    )
    done = run("audit", "--now", NOW, "--no-history", "-f", "json")
    assert done.returncode == 3, done.stderr
    assert done.stderr.endswith("app.json:2: JSON nested too deeply (more than 100 levels)\n")
    assert done.stdout == ""
