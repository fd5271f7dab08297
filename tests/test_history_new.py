"""``new`` means "the previous run covering its target did not have it" (SPEC §6), never
"first seen today": two runs on one day, runs days apart, and runs either side of
midnight all tell a finding that persists from one that appeared."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from nhirecon.core.correlate import UNMATCHED
from nhirecon.core.findings import account_findings
from nhirecon.core.model import Finding, GateResult, Origin
from nhirecon.core.report import HistoryView, Report, TargetStats
from nhirecon.state import history

from .factories import ACTIVE, CLOCK, account, rules


def orphan(account_id: str) -> Finding:
    [found] = account_findings(
        rules(), account(account_id, origin=Origin.MANUAL), UNMATCHED, "hr", CLOCK, ACTIVE
    )
    return found


def report(at: datetime, *orphans: str) -> Report:
    """A run at ``at`` whose target ``app`` has these orphan accounts."""
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
                accounts=len(orphans),
                linked=0,
                unmatched=len(orphans),
                ambiguous=0,
                inactive=0,
            ),
        ),
        findings=tuple(orphan(name) for name in orphans),
        excepted=(),
        gate=GateResult(outcomes=()),
    )


def record(path: Path, at: datetime, *orphans: str) -> dict[str, tuple[bool, datetime, int]]:
    """Record the run; per account: (new, first_seen, age_days)."""
    run = report(at, *orphans)
    view = history.record(path, run)
    assert view.trend[-1].at == at
    assert view.trend[-1].new == sum(seen.new for seen in view.seen.values())
    return {
        finding.account.id: (
            view.seen[finding.fingerprint].new,
            view.seen[finding.fingerprint].first_seen,
            view.seen[finding.fingerprint].age_days,
        )
        for finding in run.findings
        if finding.account is not None
    }


def at(day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


def test_a_finding_seen_again_later_the_same_day_is_not_new(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    morning, evening = at(20, 9), at(20, 17)
    assert record(path, morning, "a1") == {"a1": (True, morning, 0)}
    assert record(path, evening, "a1", "a2") == {
        "a1": (False, morning, 0),  # first seen today, but the previous run had it
        "a2": (True, evening, 0),
    }


def test_a_third_run_the_same_day_keeps_both_findings_old(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    record(path, at(20, 9), "a1")
    record(path, at(20, 12), "a1", "a2")
    assert record(path, at(20, 18), "a1", "a2") == {
        "a1": (False, at(20, 9), 0),
        "a2": (False, at(20, 12), 0),
    }


def test_runs_days_apart(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    assert record(path, at(20), "a1") == {"a1": (True, at(20), 0)}
    assert record(path, at(23), "a1", "a2") == {
        "a1": (False, at(20), 3),
        "a2": (True, at(23), 0),
    }
    assert record(path, at(27, 6), "a2") == {"a2": (False, at(23), 4)}


def test_runs_either_side_of_midnight(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    before, after = at(20, 23, 59), at(21, 0, 1)
    record(path, before, "a1")
    assert record(path, after, "a1", "a2") == {
        "a1": (False, before, 0),
        "a2": (True, after, 0),
    }


def test_a_finding_that_comes_back_is_new_again(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    record(path, at(20, 9), "a1")
    record(path, at(20, 12))  # resolved at noon
    assert record(path, at(20, 18), "a1") == {"a1": (True, at(20, 18), 0)}


def test_the_first_run_calls_everything_new(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    view: HistoryView = history.record(path, report(at(20), "a1", "a2"))
    assert view.previous_run is None
    assert [seen.new for seen in view.seen.values()] == [True, True]
    assert view.trend[-1].new == 2
