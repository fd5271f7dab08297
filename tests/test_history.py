"""The history store across simulated nights, through the installed command and a real file."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import stat
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from nhirecon import config, pipeline
from nhirecon.core.guards import SourceCount
from nhirecon.core.values import parse_datetime
from nhirecon.reporters import FORMATS, serialize
from nhirecon.state import history, history_db, tracking

from .conftest import Run
from .nightly import NIGHTS, copy_estate, set_crm, third_night

LATER = datetime(2100, 1, 1, tzinfo=UTC)
"""An instant after every run these tests record."""


@pytest.fixture
def estate(tmp_path: Path) -> Path:
    return copy_estate(tmp_path / "estate")


def audit(run: Run, estate: Path, now: str, *extra: str) -> dict[str, Any]:
    out = estate / f"report-{now[:10]}.json"
    result = run(
        "audit",
        "-c",
        str(estate / "nhirecon.yaml"),
        "--now",
        now,
        "-f",
        "json",
        "-o",
        str(out),
        *extra,
    )
    assert result.returncode == 1, result.stderr  # the estate's gate fails on orphans
    report: dict[str, Any] = json.loads(out.read_text())
    return report


def record(estate: Path, now: str, *only: str) -> dict[str, Any]:
    """The same as ``audit`` with history, in process (quicker than the command)."""
    loaded = config.load(estate / "nhirecon.yaml")
    instant = parse_datetime(now)
    assert instant is not None
    report = pipeline.audit(loaded, now=instant, only=only)
    return serialize.report(tracking.track(report, loaded, accepted=None, keep_history=True))


def trend(estate: Path) -> list[tuple[str, int, int]]:
    return [
        (p.at.strftime("%Y-%m-%dT%H:%M:%SZ"), p.new, p.resolved)
        for p in history.trend(estate / "history.db")
    ]


def by_subject(report: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    found = {}
    for item in report["findings"]:
        subject = item["account"] or item["identity"]
        found[(item["kind"], subject["id"])] = item
    return found


def test_findings_appear_persist_resolve_and_come_back(run: Run, estate: Path) -> None:
    first = audit(run, estate, NIGHTS[0])
    assert first["history"]["previous_run"] is None
    assert first["resolved"] == []
    assert {(f["new"], f["age_days"], f["first_seen"]) for f in first["findings"]} == {
        (True, 0, NIGHTS[0])
    }
    assert all(item["new"] and item["age_days"] == 0 for item in first["excepted"])
    assert first["summary"]["new"] == 9 and first["summary"]["resolved"] == 0

    # Night 2: old-admin is removed from the CRM, eve signs in (a new JIT orphan).
    set_crm(estate, old_admin=False, eve=True)
    second = audit(run, estate, NIGHTS[1])
    found = by_subject(second)
    assert second["history"]["previous_run"] == NIGHTS[0]
    assert found[("jit-orphan", "c7")]["new"] is True
    assert found[("jit-orphan", "c7")]["age_days"] == 0
    assert found[("jit-orphan", "c7")]["first_seen"] == NIGHTS[1]
    leaver = found[("leaver", "c2")]
    assert (leaver["new"], leaver["age_days"], leaver["first_seen"]) == (False, 1, NIGHTS[0])
    assert ("orphan", "c5") not in found
    resolved = {(item["kind"], item["account_id"]) for item in second["resolved"]}
    assert resolved == {("orphan", "c5"), ("dormant", "c5")}
    orphan = next(item for item in second["resolved"] if item["kind"] == "orphan")
    assert orphan["target"] == "crm"
    assert orphan["label"] == "old-admin"
    assert (orphan["first_seen"], orphan["last_seen"]) == (NIGHTS[0], NIGHTS[0])
    assert second["summary"]["new"] == 1 and second["summary"]["resolved"] == 2

    # Night 3, three days later: old-admin is back (a new streak), eve is gone.
    set_crm(estate, old_admin=True, eve=False)
    third = audit(run, estate, NIGHTS[2])
    found = by_subject(third)
    assert third["history"]["previous_run"] == NIGHTS[1]
    back = found[("orphan", "c5")]
    assert (back["new"], back["age_days"], back["first_seen"]) == (True, 0, NIGHTS[2])
    leaver = found[("leaver", "c2")]
    assert (leaver["new"], leaver["age_days"], leaver["first_seen"]) == (False, 4, NIGHTS[0])
    source_finding = found[("ownerless", "s1")]
    assert source_finding["target"] == "hr" and source_finding["age_days"] == 4
    assert [(item["kind"], item["account_id"]) for item in third["resolved"]] == [
        ("jit-orphan", "c7")
    ]
    trend = [(p["at"], p["total"], p["new"], p["resolved"]) for p in third["history"]["trend"]]
    assert trend == [(NIGHTS[0], 9, 9, 0), (NIGHTS[1], 8, 1, 2), (NIGHTS[2], 9, 2, 1)]

    shown = run("history", "-c", str(estate / "nhirecon.yaml"), "-f", "json")
    assert shown.returncode == 0, shown.stderr
    runs = json.loads(shown.stdout)["runs"]
    assert [(p["at"], p["new"], p["resolved"]) for p in runs] == [
        (NIGHTS[0], 9, 0),
        (NIGHTS[1], 1, 2),
        (NIGHTS[2], 2, 1),
    ]
    assert runs[1]["by_kind"]["jit-orphan"] == 2 and "orphan" not in runs[1]["by_kind"]
    table = run("history", "-c", str(estate / "nhirecon.yaml"))
    assert table.returncode == 0
    assert table.stdout.startswith(f"3 runs recorded in {estate / 'history.db'}\n\n")
    assert NIGHTS[1] in table.stdout and "jit-orphan:2" in table.stdout
    assert not [line for line in table.stdout.splitlines() if line != line.rstrip()]
    assert NIGHTS[1] in table.stdout and "jit-orphan:2" in table.stdout


def test_the_file_is_private_and_versioned(estate: Path) -> None:
    record(estate, NIGHTS[0])
    path = estate / "history.db"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == history_db.SCHEMA_VERSION
        assert db.execute("PRAGMA application_id").fetchone()[0] == history_db.APPLICATION_ID
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        places = db.execute(
            "SELECT place, role, records, linked, unmatched FROM run_places ORDER BY place"
        ).fetchall()
    assert places == [
        ("crm", "target", 6, 3, 3),
        ("hr", "source", 5, None, None),
        ("wiki", "target", 3, 2, 1),
    ]


def test_default_location_is_the_state_folder(
    run: Run, estate: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = estate / "nhirecon.yaml"
    config.write_text(config.read_text().replace("history: history.db\n", ""))
    state = tmp_path / "xdg-state"
    result = run(
        "audit", "-c", str(config), "--now", NIGHTS[0], "-q", env={"XDG_STATE_HOME": str(state)}
    )
    assert result.returncode == 1, result.stderr
    path = state / "nhirecon" / "history.db"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert not (estate / "history.db").exists()
    monkeypatch.setenv("XDG_STATE_HOME", str(state))
    assert history_db.default_path() == path
    assert history.last_source_count(path, "hr", LATER) == SourceCount(5)


def test_a_rerun_at_the_same_instant_replaces_the_run(estate: Path) -> None:
    record(estate, NIGHTS[0])
    set_crm(estate, old_admin=False, eve=False)
    assert len(record(estate, NIGHTS[1])["resolved"]) == 2
    set_crm(estate, old_admin=True, eve=False)
    again = record(estate, NIGHTS[1])
    assert again["resolved"] == []
    assert not any(item["new"] for item in again["findings"])
    assert trend(estate) == [(NIGHTS[0], 9, 0), (NIGHTS[1], 0, 0)]


def test_runs_recorded_out_of_order_are_ordered_by_now(estate: Path) -> None:
    set_crm(estate, old_admin=False, eve=False)
    record(estate, NIGHTS[2])
    record(estate, NIGHTS[1])
    set_crm(estate, old_admin=True, eve=False)
    earliest = record(estate, NIGHTS[0])
    assert earliest["history"]["previous_run"] is None
    assert all(item["new"] for item in earliest["findings"])
    assert trend(estate) == [(NIGHTS[0], 9, 0), (NIGHTS[1], 0, 2), (NIGHTS[2], 0, 0)]
    # The last night, recorded again, now dates its findings from the earliest night.
    set_crm(estate, old_admin=False, eve=False)
    latest = record(estate, NIGHTS[2])
    leaver = by_subject(latest)[("leaver", "c2")]
    assert (leaver["first_seen"], leaver["age_days"], leaver["new"]) == (NIGHTS[0], 4, False)


def test_a_run_limited_to_one_target_resolves_nothing_elsewhere(estate: Path) -> None:
    record(estate, NIGHTS[0])
    only_wiki = record(estate, NIGHTS[1], "wiki")
    assert only_wiki["resolved"] == []
    assert {item["target"] for item in only_wiki["findings"]} == {"hr", "wiki"}
    assert not any(item["new"] for item in only_wiki["findings"])
    full = record(estate, NIGHTS[2])
    crm = [item for item in full["findings"] if item["target"] == "crm"]
    assert crm and all(not item["new"] and item["age_days"] == 4 for item in crm)


def test_no_history_reads_and_writes_nothing(run: Run, estate: Path) -> None:
    report = audit(run, estate, NIGHTS[0], "--no-history")
    assert not (estate / "history.db").exists()
    assert "resolved" not in report and "history" not in report
    assert "first_seen" not in report["findings"][0]
    assert "new" not in report["summary"]


def test_history_without_runs_says_so(run: Run, estate: Path) -> None:
    result = run("history", "-c", str(estate / "nhirecon.yaml"))
    assert result.returncode == 0, result.stderr
    assert "no runs recorded yet" in result.stdout
    assert not (estate / "history.db").exists()


SQLITE_HEADER = b"SQLite format 3\x00"


def _foreign_sqlite(path: Path) -> None:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, amount REAL)")
        db.execute("INSERT INTO invoices (amount) VALUES (12.5)")
    db.close()


def _newer_schema(path: Path) -> None:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE runs (id INTEGER PRIMARY KEY)")
        db.execute(f"PRAGMA application_id = {history_db.APPLICATION_ID}")
        db.execute(f"PRAGMA user_version = {history_db.SCHEMA_VERSION + 1}")
    db.close()


@pytest.mark.parametrize(
    ("maker", "words"),
    [
        (lambda path: path.write_text("runs: 3\nthis is a YAML file, not a database\n"), "not a"),
        (lambda path: path.write_bytes(SQLITE_HEADER + bytes(range(256)) * 64), "not a"),
        (_foreign_sqlite, "not an nhirecon history file"),
        (_newer_schema, "newer nhirecon"),
    ],
    ids=["text", "garbage-after-header", "foreign-sqlite", "newer-schema"],
)
def test_an_unusable_history_file_is_refused_and_left_untouched(
    estate: Path, maker: Any, words: str
) -> None:
    path = estate / "history.db"
    maker(path)
    before = path.read_bytes()
    for attempt in (
        lambda: record(estate, NIGHTS[0]),
        lambda: history.trend(path),
        lambda: history.last_source_count(path, "hr", LATER),
    ):
        with pytest.raises(history_db.HistoryError) as caught:
            attempt()
        assert str(path) in str(caught.value)
        assert words in str(caught.value)
        assert caught.value.exit_code == 2
        assert path.read_bytes() == before
        assert not Path(f"{path}-journal").exists()


def test_the_command_refuses_an_unusable_history_file_with_exit_2(run: Run, estate: Path) -> None:
    path = estate / "history.db"
    path.write_text("runs: 3\n")
    result = run("audit", "-c", str(estate / "nhirecon.yaml"), "--now", NIGHTS[0], "-q")
    assert result.returncode == 2, result.stderr
    assert f"history file {path}: not a usable nhirecon history file" in result.stderr
    assert result.stdout == ""
    assert path.read_text() == "runs: 3\n"
    shown = run("history", "-c", str(estate / "nhirecon.yaml"))
    assert shown.returncode == 2 and str(path) in shown.stderr


def test_a_damaged_history_file_is_refused_and_left_untouched(estate: Path) -> None:
    record(estate, NIGHTS[0])
    path = estate / "history.db"
    damaged = bytearray(path.read_bytes())
    damaged[100:4096] = b"\xa5" * (4096 - 100)  # the schema page, past the file header
    path.write_bytes(bytes(damaged))
    with pytest.raises(history_db.HistoryError, match="not a usable nhirecon history file"):
        record(estate, NIGHTS[1])
    assert path.read_bytes() == bytes(damaged)


@pytest.mark.parametrize(
    ("edit", "words", "reading"),
    [
        (
            "UPDATE runs SET at = 'abc' WHERE id = 1",
            "an instant holds 'abc', not an integer",
            "trend",
        ),
        (
            "UPDATE runs SET at = 1.5 WHERE id = 1",
            "an instant holds 1.5, not an integer",
            "trend",
        ),
        (
            "UPDATE runs SET at = 10000000000000000 WHERE id = 1",
            "the instant 10000000000000000 is out of range",
            "trend",
        ),
        ("UPDATE run_counts SET counted = 'x'", "a run's count holds 'x', not an integer", "trend"),
        (
            "UPDATE run_counts SET kind = 'bogus' WHERE kind = 'orphan'",
            "'bogus' is not a finding kind",
            "trend",
        ),
        (
            "UPDATE runs SET resolved = 1.5",
            "a run's resolved count holds 1.5, not an integer",
            "trend",
        ),
        (
            "UPDATE run_places SET records = 'many'",
            "a run's record count holds 'many', not an integer",
            "count",
        ),
        (
            "UPDATE run_places SET records = 0 WHERE role = 'source'",
            "a run's record count holds 0, where a recorded source has at least 1",
            "count",
        ),
        (
            "UPDATE sightings SET streak_start = 'x'",
            "an instant holds 'x', not an integer",
            "record",
        ),
        ("UPDATE findings SET kind = 'gone'", "'gone' is not a finding kind", "record"),
    ],
)
def test_a_value_edited_by_hand_is_refused_naming_the_file(
    estate: Path, edit: str, words: str, reading: str
) -> None:
    """SQLite keeps any type in any column of these tables: a value nhirecon never writes
    there is a damaged file (exit 2, the file left as it is), never a crash (exit 70)."""
    record(estate, NIGHTS[0])
    record(estate, NIGHTS[1])
    path = estate / "history.db"
    with sqlite3.connect(path) as db:
        db.execute(edit)
    db.close()
    before = path.read_bytes()
    attempt = {
        "trend": lambda: history.trend(path),
        "count": lambda: history.last_source_count(path, "hr", LATER),
        "record": lambda: record(estate, NIGHTS[2]),
    }[reading]
    with pytest.raises(history_db.HistoryError) as caught:
        attempt()
    assert str(caught.value) == (
        f"history file {path}: not a usable nhirecon history file ({words}); it was left"
        " untouched: move it aside, point `history:` elsewhere, or use --no-history"
    )
    assert caught.value.exit_code == 2
    assert path.read_bytes() == before


def test_the_history_command_refuses_a_value_edited_by_hand(run: Run, estate: Path) -> None:
    record(estate, NIGHTS[0])
    with sqlite3.connect(estate / "history.db") as db:
        db.execute("UPDATE runs SET at = 'abc'")
    db.close()
    shown = run("history", "-c", str(estate / "nhirecon.yaml"))
    assert shown.returncode == 2, shown.stderr
    assert "not a usable nhirecon history file (an instant holds 'abc'" in shown.stderr


def test_an_empty_file_becomes_a_history(estate: Path) -> None:
    path = estate / "history.db"
    path.touch()
    record(estate, NIGHTS[0])
    assert history.last_source_count(path, "hr", LATER) == SourceCount(5)


def test_table_markdown_and_csv_show_the_history(tmp_path: Path) -> None:
    report = third_night(copy_estate(tmp_path / "estate"), baseline_from_second=True)
    table = FORMATS["table"]().render(report)
    assert "since 2026-11-27T02:00:00Z: 2 new, 1 resolved" in table.splitlines()[1]
    assert "baseline baseline.json: 7 findings accepted" in table
    old_admin = [line for line in table.splitlines() if "old-admin" in line]
    assert old_admin and all(" new " in line for line in old_admin)
    markdown = FORMATS["markdown"]().render(report)
    assert "- since 2026-11-27T02:00:00Z: 2 new, 1 resolved" in markdown
    resolved = markdown.split("## Resolved since the last run\n", 1)[1]
    assert "| jit-orphan | crm      | eve       | c7           |" in resolved
    rows = list(csv.DictReader(io.StringIO(FORMATS["csv"]().render(report))))
    assert {(r["account_id"], r["new"], r["age_days"]) for r in rows if r["new"] == "true"} == {
        ("c5", "true", "0")
    }
    leaver = next(row for row in rows if row["kind"] == "leaver")
    assert (leaver["first_seen"], leaver["age_days"], leaver["baselined"]) == (
        NIGHTS[0],
        "4",
        "true",
    )


def test_a_run_whose_reports_cannot_be_written_is_not_recorded(run: Run, estate: Path) -> None:
    (estate / "blocker").write_text("a file, not a folder")
    failed = run(
        "audit",
        "-c",
        str(estate / "nhirecon.yaml"),
        "--now",
        NIGHTS[0],
        "-o",
        str(estate / "blocker" / "r.json"),
    )
    assert failed.returncode == 2 and "cannot write" in failed.stderr
    assert history.trend(estate / "history.db") == ()
    second = audit(run, estate, NIGHTS[1])
    assert second["history"]["previous_run"] is None
    assert all(item["new"] for item in second["findings"])
