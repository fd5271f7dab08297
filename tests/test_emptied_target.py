"""A target that had accounts at its last recorded run and returns none now (an export cut
down to its header) refuses the run (exit 4) before any report is written or any run
recorded: its findings would otherwise pass for resolved and the gate for passed."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from .conftest import Run

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
  - name: wiki
    connector: csv
    path: wiki.csv
    map: {id: uid, email: email, active: enabled}
history: history.db
"""
HR = "employee_id,work_email,status\nE1,ana@example.com,active\nE2,bob@example.com,left\n"
APP = (
    "uid,email,enabled\nA1,ana@example.com,true\nA2,bob@example.com,true\nA3,eve@example.com,true\n"
)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "nhirecon.yaml").write_text(CONFIG, encoding="utf-8")
    (tmp_path / "hr.csv").write_text(HR, encoding="utf-8")
    (tmp_path / "app.csv").write_text(APP, encoding="utf-8")
    (tmp_path / "wiki.csv").write_text(APP, encoding="utf-8")
    return tmp_path


def recorded(folder: Path, place: str) -> list[int]:
    with sqlite3.connect(folder / "history.db") as db:
        rows = db.execute(
            "SELECT p.records FROM runs r JOIN run_places p ON p.run_id = r.id"
            " WHERE p.place = ? ORDER BY r.at, r.id",
            (place,),
        ).fetchall()
    return [int(count) for (count,) in rows]


def day(number: int) -> str:
    return f"2026-11-{number:02d}T00:00:00Z"


def test_a_target_cut_to_its_header_refuses_the_run_until_accepted(folder: Path, run: Run) -> None:
    gate = ("--fail-on", "any>0")
    assert run("audit", "--now", day(20), "-q", *gate, cwd=folder).returncode == 1
    (folder / "wiki.csv").write_text("uid,email,enabled\n", encoding="utf-8")
    refused = run("audit", "--now", day(21), *gate, "-f", "json", "-o", "r.json", cwd=folder)
    assert refused.returncode == 4, refused.stderr
    assert "target wiki returned no accounts, where the last recorded run read 3" in (
        refused.stderr
    )
    assert "--accept-empty-target" in refused.stderr
    assert not (folder / "r.json").exists()
    assert recorded(folder, "wiki") == [3], "a refused run is recorded nowhere"
    assert run("audit", "--now", day(22), "-q", cwd=folder).returncode == 4

    accepted = run("audit", "--now", day(22), "--accept-empty-target", "-f", "json", cwd=folder)
    assert accepted.returncode == 0, accepted.stderr
    assert "target wiki returned no accounts (is the export empty or truncated?)" in (
        accepted.stderr
    )
    assert recorded(folder, "wiki") == [3, 0]
    assert run("audit", "--now", day(23), "-q", cwd=folder).returncode == 0, "0 is believed now"


def test_a_target_that_only_shrank_is_believed(folder: Path, run: Run) -> None:
    """Cleaning up is what the findings are for: a target with fewer accounts passes."""
    assert run("audit", "--now", day(20), "-q", cwd=folder).returncode == 0
    (folder / "app.csv").write_text(APP.rsplit("A2", 1)[0], encoding="utf-8")  # 1 of 3 left
    done = run("audit", "--now", day(21), "-q", cwd=folder)
    assert done.returncode == 0, done.stderr
    assert recorded(folder, "app") == [3, 1]


def test_without_the_history_an_empty_target_is_warned_of(folder: Path, run: Run) -> None:
    assert run("audit", "--now", day(20), "-q", cwd=folder).returncode == 0
    (folder / "app.csv").write_text("uid,email,enabled\n", encoding="utf-8")
    done = run("audit", "--now", day(21), "-f", "json", "--no-history", cwd=folder)
    assert done.returncode == 0, done.stderr
    assert "target app returned no accounts" in done.stderr
    # a run of the other target alone is not held to this one's count
    other = run("audit", "--now", day(21), "-q", "--target", "wiki", cwd=folder)
    assert other.returncode == 0, other.stderr
