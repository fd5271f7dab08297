"""The source-drop guard holds for every command that reads the source, not only --apply:
a source that shrank too much since the last recorded run refuses the run (exit 4) before
any report is written or any run recorded, until the drop is accepted for one run."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from .conftest import Run

NOW = "2026-11-28T00:00:00Z"
CONFIG = """\
version: 1
source:
  name: hr
  connector: csv
  path: hr.csv
  map: {id: employee_id, email: work_email, status: status}
targets:
  - name: app
    connector: csv
    path: app.csv
    map: {id: uid, email: email, active: enabled}
policy: {max_source_drop_percent: 20}
history: history.db
"""


def people(count: int) -> str:
    rows = [f"E{n},user{n}@example.com,active" for n in range(count)]
    return "employee_id,work_email,status\n" + "\n".join(rows) + "\n"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "nhirecon.yaml").write_text(CONFIG, encoding="utf-8")
    (tmp_path / "hr.csv").write_text(people(10), encoding="utf-8")
    (tmp_path / "app.csv").write_text("uid,email,enabled\nA0,user0@example.com,true\n")
    return tmp_path


def recorded(folder: Path) -> list[int]:
    with sqlite3.connect(folder / "history.db") as db:
        rows = db.execute(
            "SELECT p.records FROM runs r JOIN run_places p ON p.run_id = r.id"
            " WHERE p.role = 'source' ORDER BY r.at, r.id"
        ).fetchall()
    return [int(count) for (count,) in rows]


def test_a_plain_audit_refuses_a_shrunken_source_and_records_nothing(
    folder: Path, run: Run
) -> None:
    assert run("audit", "--now", NOW, "-q", cwd=folder).returncode == 0
    (folder / "hr.csv").write_text(people(7), encoding="utf-8")  # 30% fewer
    refused = run(
        "audit", "--now", "2026-11-29T00:00:00Z", "-f", "json", "-o", "r.json", cwd=folder
    )
    assert refused.returncode == 4
    assert "7 identities, 30.0% fewer than the 10 of the last recorded run" in refused.stderr
    assert "--accept-source-drop" in refused.stderr
    assert not (folder / "r.json").exists()
    assert recorded(folder) == [10], "a refused run never becomes the new baseline"
    again = run("audit", "--now", "2026-11-30T00:00:00Z", "-q", cwd=folder)
    assert again.returncode == 4, "still measured against the last run that passed"
    accepted = run(
        "audit", "--now", "2026-11-30T00:00:00Z", "-q", "--accept-source-drop", cwd=folder
    )
    assert accepted.returncode == 0, accepted.stderr
    assert recorded(folder) == [10, 7]
    assert run("audit", "--now", "2026-12-01T00:00:00Z", "-q", cwd=folder).returncode == 0


def test_a_drop_within_the_limit_passes(folder: Path, run: Run) -> None:
    assert run("audit", "--now", NOW, "-q", cwd=folder).returncode == 0
    (folder / "hr.csv").write_text(people(8), encoding="utf-8")  # exactly 20%: allowed
    assert run("audit", "--now", "2026-11-29T00:00:00Z", "-q", cwd=folder).returncode == 0


def test_plan_refuses_a_shrunken_source_too(folder: Path, run: Run) -> None:
    assert run("audit", "--now", NOW, "-q", cwd=folder).returncode == 0
    (folder / "hr.csv").write_text(people(5), encoding="utf-8")
    refused = run("plan", "--now", NOW, "-o", "plan.json", cwd=folder)
    assert refused.returncode == 4
    assert "50.0% fewer" in refused.stderr
    assert not (folder / "plan.json").exists()
    made = run("plan", "--now", NOW, "-o", "plan.json", "--accept-source-drop", cwd=folder)
    assert made.returncode == 0, made.stderr


def test_baseline_refuses_a_shrunken_source_too(folder: Path, run: Run) -> None:
    """A baseline written from a truncated HR export would accept, as known, the orphans of
    every person cut out: the gate then passes when one of them really leaves."""
    assert run("audit", "--now", NOW, "-q", cwd=folder).returncode == 0
    (folder / "hr.csv").write_text(people(1), encoding="utf-8")
    (folder / "app.csv").write_text(
        "uid,email,enabled\n" + "".join(f"A{n},user{n}@example.com,true\n" for n in range(10))
    )
    refused = run("baseline", "--now", NOW, "-o", "base.json", cwd=folder)
    assert refused.returncode == 4, refused.stderr
    assert "90.0% fewer" in refused.stderr and "--accept-source-drop" in refused.stderr
    assert not (folder / "base.json").exists()
    made = run("baseline", "--now", NOW, "-o", "base.json", "--accept-source-drop", cwd=folder)
    assert made.returncode == 0, made.stderr
    assert "wrote base.json: 9 accepted findings" in made.stdout
    assert recorded(folder) == [10], "a baseline records no run"


def test_validate_connect_refuses_an_empty_source_input_as_audit_does(
    folder: Path, run: Run
) -> None:
    (folder / "hr.csv").write_text("employee_id,work_email,status\n", encoding="utf-8")
    result = run("validate", "--connect", cwd=folder)
    assert result.returncode == 4
    assert "returned no identities" in result.stderr
