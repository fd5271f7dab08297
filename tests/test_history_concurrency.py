"""Overlapping runs against one history file, and what the --apply guard reads from it."""

from __future__ import annotations

import dataclasses
import multiprocessing
import shutil
import sqlite3
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from nhirecon import config, pipeline
from nhirecon.core.guards import SourceCount
from nhirecon.core.report import Report
from nhirecon.state import history, history_db

from .conftest import DATA, nhirecon_command

START = datetime(2026, 11, 1, tzinfo=UTC)
LATER = datetime(2100, 1, 1, tzinfo=UTC)
RUNS_EACH = 12


@pytest.fixture
def estate(tmp_path: Path) -> Path:
    folder = tmp_path / "estate"
    shutil.copytree(DATA / "nightly", folder)
    return folder


def pull(estate: Path) -> Report:
    return pipeline.audit(config.load(estate / "nhirecon.yaml"), now=START)


def _record_many(path: str, report: Report, first_hour: int) -> None:
    for step in range(RUNS_EACH):
        at = START + timedelta(hours=first_hour + 2 * step)
        history.record(Path(path), dataclasses.replace(report, generated_at=at))


def test_two_processes_recording_at_once_leave_a_consistent_file(estate: Path) -> None:
    full = pull(estate)
    crm = estate / "crm.csv"
    crm.write_text("".join(line for line in crm.read_text().splitlines(True) if "c5," not in line))
    without_old_admin = pull(estate)
    assert len(full.findings) - len(without_old_admin.findings) == 2
    path = estate / "history.db"
    context = multiprocessing.get_context("fork")
    workers = [
        context.Process(target=_record_many, args=(str(path), full, 0)),
        context.Process(target=_record_many, args=(str(path), without_old_admin, 1)),
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert [worker.exitcode for worker in workers] == [0, 0]

    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        per_run = db.execute(
            "SELECT count(*) FROM sightings GROUP BY run_id ORDER BY run_id"
        ).fetchall()
    db.close()
    assert sorted(count for (count,) in per_run) == [8] * RUNS_EACH + [10] * RUNS_EACH
    # Ordered by instant, the runs alternate: the even hours have old-admin, the odd not.
    runs = history.trend(path, limit=100)
    assert [run.at for run in runs] == [START + timedelta(hours=h) for h in range(2 * RUNS_EACH)]
    assert [(run.total, run.new, run.resolved) for run in runs] == [(9, 9, 0)] + [
        (7, 0, 2) if hour % 2 else (9, 2, 0) for hour in range(1, 2 * RUNS_EACH)
    ]


def test_two_commands_at_once_both_record(estate: Path) -> None:
    command = [nhirecon_command(), "audit", "-c", str(estate / "nhirecon.yaml"), "-q", "--now"]
    processes = [
        subprocess.Popen(
            [*command, f"2026-11-2{day}T02:00:00Z"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for day in (6, 7)
    ]
    results = [process.communicate(timeout=120) for process in processes]
    assert [process.returncode for process in processes] == [1, 1], results
    runs = history.trend(estate / "history.db")
    assert [(run.at.day, run.new) for run in runs] == [(26, 9), (27, 0)]


def test_a_run_that_cannot_get_the_file_fails_cleanly(
    estate: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = estate / "history.db"
    report = pull(estate)
    history.record(path, report)
    monkeypatch.setattr(history_db, "BUSY_TIMEOUT_SECONDS", 0.05)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        later = dataclasses.replace(report, generated_at=START + timedelta(days=1))
        with pytest.raises(history_db.HistoryError, match="locked by another run") as caught:
            history.record(path, later)
        assert str(path) in str(caught.value)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert len(history.trend(path)) == 1


def test_last_source_count_reads_the_latest_run_by_instant(estate: Path) -> None:
    path = estate / "history.db"
    assert history.last_source_count(path, "hr", LATER) is None
    assert not path.exists()  # reading never creates the file
    report = dataclasses.replace(
        pull(estate), source_inputs=(("source", "source (hr.csv)", 4), ("source.include[0]", "", 1))
    )
    history.record(path, dataclasses.replace(report, generated_at=START + timedelta(days=2)))
    smaller = dataclasses.replace(
        report,
        identities=3,
        source_inputs=(("source", "", 3),),
        generated_at=START + timedelta(days=1),
    )
    history.record(path, smaller)
    assert history.last_source_count(path, "hr", LATER) == SourceCount(
        5, {"source": 4, "source.include[0]": 1}
    ), "the latest run by instant, its inputs with it"
    day_one = START + timedelta(days=1)
    assert history.last_source_count(path, "hr", day_one + timedelta(hours=23)) == SourceCount(
        3, {"source": 3}
    ), "the latest run at or before the instant given, not one recorded later"
    assert history.last_source_count(path, "hr", day_one) == SourceCount(3, {"source": 3})
    assert history.last_source_count(path, "hr", START) is None
    assert history.last_source_count(path, "another-source", LATER) is None
    history.record(path, dataclasses.replace(smaller, generated_at=START + timedelta(days=3)))
    assert history.last_source_count(path, "hr", LATER) == SourceCount(3, {"source": 3})
