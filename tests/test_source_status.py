"""A source that says nothing of anyone's status (SPEC §3.2): every identity then counts as
active and no account is a leaver's, so every report says that leaver was not evaluated;
a status column empty in every row is warned of too."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import NOW, Run

Write = Callable[[str, str], Path]

CONFIG = """
version: 1
source:
  name: hr
  connector: csv
  path: hr.csv
  map: {id: id, email: email}   # status is read from a column of that name
targets:
  - name: app
    connector: csv
    path: app.csv
    map: {id: id, email: email, active: active}
"""
APP = """
id,email,active
u1,ana@corp.example,true
u2,bob@corp.example,true
"""


def _audit(run: Run, config: Path, engine: str) -> tuple[dict[str, object], str]:
    done = run(
        "audit", "-c", str(config), "-f", "json", "--now", NOW, "--no-history", "--engine", engine
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout), done.stderr


@pytest.mark.parametrize("engine", ["python", "columnar"])
def test_a_status_column_renamed_away_makes_leaver_not_evaluated(
    run: Run, write: Write, engine: str
) -> None:
    write("app.csv", APP)
    config = write("nhirecon.yaml", CONFIG)
    write("hr.csv", "id,email,status\nE1,ana@corp.example,active\nE2,bob@corp.example,left\n")
    report, stderr = _audit(run, config, engine)
    assert [item["kind"] for item in report["findings"]] == ["leaver"]  # type: ignore[index]
    assert "status" not in stderr

    write("hr.csv", "id,email,state\nE1,ana@corp.example,active\nE2,bob@corp.example,left\n")
    report, stderr = _audit(run, config, engine)
    assert report["findings"] == []
    source = report["source"]
    assert {"rule": "leaver", "reason": "the input provides no status"} in source["not_evaluated"]  # type: ignore[index]
    assert stderr == "", "a source may have no status: the reports say what it rules out"
    table = run("audit", "-c", str(config), "--now", NOW, "--no-history", "--engine", engine)
    said = " ".join(table.stdout.split())  # the table wraps long lines
    assert "not evaluated for want of data: " in said and "leaver (hr)" in said


@pytest.mark.parametrize("engine", ["python", "columnar"])
def test_a_status_column_empty_in_every_row_is_said(run: Run, write: Write, engine: str) -> None:
    write("app.csv", APP)
    config = write("nhirecon.yaml", CONFIG)
    write("hr.csv", "id,email,status\nE1,ana@corp.example,\nE2,bob@corp.example,\n")
    report, stderr = _audit(run, config, engine)
    assert report["findings"] == []
    assert report["source"]["coverage"]["status"] == 0  # type: ignore[index]
    assert "source hr: no identity has a status (the column is empty)" in stderr
