"""How a run is recorded: all or nothing, one row per fingerprint, and at scale.

A run is recorded in one transaction: a failure at any step (a finding the file cannot
hold, an error in a later statement) leaves the history exactly as it was, and the next
run is recorded as if the failed one had never been tried.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest

from nhirecon.core.correlate import UNMATCHED
from nhirecon.core.findings import account_findings
from nhirecon.core.model import ExceptionRule, Finding, GateResult, Origin
from nhirecon.core.report import Report, TargetStats
from nhirecon.state import history, history_db

from .factories import ACTIVE, CLOCK, account, rules

DAY = datetime(2026, 11, 20, 2, tzinfo=UTC)
TABLES = {
    "runs": "id",
    "run_places": "run_id, place",
    "run_counts": "run_id, kind",
    "findings": "id",
    "sightings": "run_id, finding_id",
}


def orphan(account_id: str, **fields: Any) -> Finding:
    [found] = account_findings(
        rules(),
        account(account_id, origin=Origin.MANUAL, **fields),
        UNMATCHED,
        "hr",
        CLOCK,
        ACTIVE,
    )
    return found


def report(
    at: datetime,
    findings: tuple[Finding, ...],
    excepted: tuple[Finding, ...] = (),
) -> Report:
    """A run at ``at`` over the target ``app``."""
    rule = ExceptionRule("app", "*", None, "accepted", "owner", DAY.date() + timedelta(days=90))
    return Report(
        tool_version="0.0.0",
        generated_at=at,
        source_name="hr",
        source_connector="csv",
        identities=1,
        targets=(
            TargetStats(
                name="app",
                connector="csv",
                accounts=len(findings) + len(excepted),
                linked=0,
                unmatched=len(findings) + len(excepted),
                ambiguous=0,
                inactive=0,
            ),
        ),
        findings=findings,
        excepted=tuple((finding, rule) for finding in excepted),
        gate=GateResult(outcomes=()),
    )


def contents(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in key order."""
    with sqlite3.connect(path) as db:
        found = {
            table: db.execute(f"SELECT * FROM {table} ORDER BY {order}").fetchall()
            for table, order in TABLES.items()
        }
    db.close()
    return found


@pytest.fixture
def recorded(tmp_path: Path) -> Path:
    """A history with two runs: a1, a2 on the first day; a2, a3 on the second."""
    path = tmp_path / "history.db"
    history.record(path, report(DAY, (orphan("a1"), orphan("a2"))))
    history.record(path, report(DAY + timedelta(days=1), (orphan("a2"), orphan("a3"))))
    return path


def third_day(*accounts: str) -> Report:
    return report(DAY + timedelta(days=2), tuple(orphan(name) for name in accounts))


def test_a_finding_the_file_cannot_hold_leaves_the_history_as_it_was(recorded: Path) -> None:
    before = contents(recorded)
    unusable = dataclasses.replace(orphan("a9"), fingerprint=cast(str, None))
    run = third_day("a1", "a3")
    with pytest.raises(history_db.HistoryError, match="not a usable"):
        # The run and its places are written before the finding fails to load.
        history.record(recorded, dataclasses.replace(run, findings=(*run.findings, unusable)))
    assert contents(recorded) == before
    view = history.record(recorded, run)
    assert view.previous_run == DAY + timedelta(days=1)
    assert [(seen.new, seen.first_seen) for seen in view.seen.values()] == [
        (True, DAY + timedelta(days=2)),  # a1 came back
        (False, DAY + timedelta(days=1)),
    ]
    assert [item.account_id for item in view.resolved] == ["a2"]


@pytest.mark.parametrize("step", ["summarise", "restreak", "read_trend"])
def test_a_failure_in_a_later_step_leaves_the_history_as_it_was(
    recorded: Path, step: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = contents(recorded)

    def fail(*_: object, **__: object) -> None:
        raise sqlite3.OperationalError(f"{step} failed")

    monkeypatch.setattr(history, step, fail)
    # Recorded before the two runs (out of order), so that restreak is reached too;
    # summarise runs after the findings and sightings are written.
    earliest = dataclasses.replace(third_day("a2", "a4"), generated_at=DAY - timedelta(days=1))
    with pytest.raises(history_db.HistoryError, match=f"{step} failed"):
        history.record(recorded, earliest)
    assert contents(recorded) == before
    monkeypatch.undo()
    history.record(recorded, earliest)
    assert [(run.total, run.new, run.resolved) for run in history.trend(recorded)] == [
        (2, 2, 0),
        (2, 1, 1),  # a2 continues from the earliest run, a1 is new; a4 resolved
        (2, 1, 1),
    ]


def test_a_failure_after_recording_leaves_the_history_as_it_was(recorded: Path) -> None:
    before = contents(recorded)
    with (
        pytest.raises(RuntimeError, match="reports not written"),
        history.recording(recorded, third_day("a3")) as view,
    ):
        assert view.trend[-1].total == 1
        raise RuntimeError("reports not written")
    assert contents(recorded) == before


def test_a_fingerprint_listed_twice_is_one_sighting_with_its_last_values(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    first, renamed = orphan("a1", username="old-name"), orphan("a1", username="new-name")
    assert first.fingerprint == renamed.fingerprint
    other = orphan("a2")
    view = history.record(path, report(DAY, (first, other, first), excepted=(renamed,)))
    assert list(view.seen) == [first.fingerprint, other.fingerprint]
    assert view.trend[-1].total == 1 and view.trend[-1].excepted == 1
    rows = contents(path)
    assert [(row[1], row[6]) for row in rows["findings"]] == [
        (first.fingerprint, "new-name"),
        (other.fingerprint, "a2"),
    ]
    assert [row[2] for row in rows["sightings"]] == [1, 0]  # a1 excepted, a2 counted


def test_a_changed_label_refreshes_the_finding_and_an_unchanged_one_is_left(
    tmp_path: Path,
) -> None:
    path = tmp_path / "history.db"
    history.record(path, report(DAY, (orphan("a1", username="alice"), orphan("a2"))))
    later = DAY + timedelta(days=1)
    history.record(path, report(later, (orphan("a1", username="alice.b"), orphan("a2"))))
    gone = history.record(path, report(later + timedelta(days=1), ()))
    assert sorted((item.account_id, item.label) for item in gone.resolved) == [
        ("a1", "alice.b"),
        ("a2", "a2"),
    ]


def test_many_findings_are_recorded_and_followed(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    accounts = [f"u{number}" for number in range(3000)]
    found = {name: orphan(name) for name in accounts}
    history.record(path, report(DAY, tuple(found[name] for name in accounts[:2000])))
    view = history.record(
        path,
        report(
            DAY + timedelta(days=1),
            tuple(found[name] for name in accounts[1000:2900]),
            excepted=tuple(found[name] for name in accounts[2900:]),
        ),
    )
    assert len(view.seen) == 2000
    assert sum(seen.new for seen in view.seen.values()) == 1000
    assert {seen.first_seen for seen in view.seen.values()} == {DAY, DAY + timedelta(days=1)}
    assert len(view.resolved) == 1000
    trend = view.trend[-1]
    assert (trend.total, trend.excepted, trend.new, trend.resolved) == (1900, 100, 900, 1000)
