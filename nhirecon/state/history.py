"""The history store: every run recorded in one SQLite file.

From it a report learns, per finding, when it was first seen, how old it is and whether
it is new since the previous run, and which findings of the previous run are gone.

A finding is *new* in a run when the previous run covering its target (the latest one
evaluated strictly earlier) did not have it; it is *resolved* by a run that covers its
target and no longer has it. A finding that comes back after being resolved starts a new
streak. Recording happens in one ``BEGIN IMMEDIATE`` transaction, so overlapping runs
queue behind each other (up to ``BUSY_TIMEOUT_SECONDS``) instead of interleaving.

The file itself (its layout, that timeout, and how it is opened, checked and migrated) is
``history_db``; the queries over the recorded runs are ``history_queries``.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Final

from nhirecon.core.model import FindingKind
from nhirecon.core.report import HistoryView, Report, ResolvedFinding, RunTrend, Seen
from nhirecon.state.history_db import epoch, instant, reading, storable, writing
from nhirecon.state.history_queries import (
    previous_run,
    read_trend,
    replace_same_instant,
    resolved_between,
    restreak,
    streaks,
    summarise,
)

TREND_RUNS: Final = 30
"""How many runs a report's trend shows."""


@dataclass(frozen=True)
class _Sighting:
    fingerprint: str
    kind: FindingKind
    place: str
    account_id: str | None
    identity_id: str | None
    label: str
    excepted: bool


def _sightings(report: Report) -> list[_Sighting]:
    found = [(finding, False) for finding in report.findings]
    found += [(finding, True) for finding, _ in report.excepted]
    result: dict[str, _Sighting] = {}
    for finding, excepted in found:
        subject = finding.account or finding.identity
        result[finding.fingerprint] = _Sighting(
            fingerprint=finding.fingerprint,
            kind=finding.kind,
            place=storable(finding.target),
            account_id=storable(finding.account.id) if finding.account else None,
            identity_id=storable(finding.identity.id) if finding.identity else None,
            label=storable(subject.label) if subject else "",
            excepted=excepted,
        )
    return list(result.values())


def _places(report: Report) -> list[str]:
    return [storable(report.source_name), *(storable(stats.name) for stats in report.targets)]


def _finding_ids(connection: sqlite3.Connection, sightings: Sequence[_Sighting]) -> list[int]:
    """Insert or refresh each fingerprint's row; return their ids in order."""
    ids = []
    for item in sightings:
        row = connection.execute(
            "INSERT INTO findings (fingerprint, kind, place, account_id, identity_id, label)"
            " VALUES (?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (fingerprint) DO UPDATE SET label = excluded.label,"
            " account_id = excluded.account_id, identity_id = excluded.identity_id"
            " RETURNING id",
            (
                item.fingerprint,
                item.kind.value,
                item.place,
                item.account_id,
                item.identity_id,
                item.label,
            ),
        ).fetchone()
        ids.append(int(row[0]))
    return ids


# --- the API -------------------------------------------------------------------------------


def _record(db: sqlite3.Connection, report: Report, trend_runs: int) -> HistoryView:
    """Record this run in an open write transaction; return what the history says."""
    at = epoch(report.generated_at)
    places = _places(report)
    sightings = _sightings(report)
    previous_by_place = {place: previous_run(db, place, at) for place in places}
    previous_any = previous_run(db, None, at)
    previous_at = (
        None
        if previous_any is None
        else instant(db.execute("SELECT at FROM runs WHERE id = ?", (previous_any,)).fetchone()[0])
    )
    earlier = {
        place: {} if run is None else streaks(db, run, place)
        for place, run in previous_by_place.items()
    }
    source = storable(report.source_name)
    replace_same_instant(db, at, source, places)
    run_id = db.execute(
        "INSERT INTO runs (at, source, tool_version) VALUES (?, ?, ?) RETURNING id",
        (at, source, report.tool_version),
    ).fetchone()[0]
    db.execute(
        "INSERT INTO run_places (run_id, place, role, connector, records)"
        " VALUES (?, ?, 'source', ?, ?)",
        (run_id, source, storable(report.source_connector), report.identities),
    )
    db.executemany(
        "INSERT INTO run_places (run_id, place, role, connector, records, linked,"
        " unmatched, ambiguous, inactive) VALUES (?, ?, 'target', ?, ?, ?, ?, ?, ?)",
        [
            (
                run_id,
                storable(stats.name),
                storable(stats.connector),
                stats.accounts,
                stats.linked,
                stats.unmatched,
                stats.ambiguous,
                stats.inactive,
            )
            for stats in report.targets
        ],
    )
    ids = _finding_ids(db, sightings)
    seen: dict[str, Seen] = {}
    rows = []
    for item, finding_id in zip(sightings, ids, strict=True):
        streak = earlier.get(item.place, {}).get(finding_id)
        start = at if streak is None else streak
        rows.append((run_id, finding_id, int(item.excepted), start))
        first = instant(start)
        seen[item.fingerprint] = Seen(
            first_seen=first,
            age_days=(report.generated_at - first).days,
            new=streak is None,
        )
    db.executemany(
        "INSERT INTO sightings (run_id, finding_id, excepted, streak_start) VALUES (?, ?, ?, ?)",
        rows,
    )
    resolved = []
    for place, previous in previous_by_place.items():
        if previous is None:
            continue
        for fp, kind, where, account, identity, label, began, ended in resolved_between(
            db, previous, run_id, place
        ):
            resolved.append(
                ResolvedFinding(
                    fingerprint=str(fp),
                    kind=FindingKind(str(kind)),
                    target=str(where),
                    account_id=None if account is None else str(account),
                    identity_id=None if identity is None else str(identity),
                    label=str(label),
                    first_seen=instant(int(began)),
                    last_seen=instant(int(ended)),
                )
            )
    summarise(db, run_id)
    later = [
        int(later_id)
        for (later_id,) in db.execute("SELECT id FROM runs WHERE at > ? ORDER BY at, id", (at,))
    ]
    if later:
        for place in places:
            restreak(db, place, at + 1)
        for later_id in later:
            summarise(db, later_id)
    trend = read_trend(db, until=at, limit=trend_runs)
    resolved.sort(key=lambda item: (item.kind.value, item.target, item.label, item.fingerprint))
    return HistoryView(
        previous_run=previous_at,
        seen=seen,
        resolved=tuple(resolved),
        trend=trend,
    )


@contextlib.contextmanager
def recording(path: Path, report: Report, *, trend_runs: int = TREND_RUNS) -> Iterator[HistoryView]:
    """Record this run and give what the history says about it.

    The record is committed when the ``with`` block ends normally, and not at all when it
    raises: a run whose reports could not be written is not recorded, so the next run still
    calls its findings new. The file stays locked for writing until then.
    """
    with writing(path) as db:
        yield _record(db, report, trend_runs)


def record(path: Path, report: Report, *, trend_runs: int = TREND_RUNS) -> HistoryView:
    """Record this run and return what the history says about it (one transaction)."""
    with recording(path, report, trend_runs=trend_runs) as view:
        return view


def annotate(report: Report, view: HistoryView) -> Report:
    """The report with the history's view attached (renderers show it when present)."""
    return replace(report, history=view)


def trend(path: Path, *, limit: int = TREND_RUNS) -> tuple[RunTrend, ...]:
    """The last ``limit`` recorded runs, oldest first; empty when there is no file yet."""
    with reading(path) as db:
        if db is None:
            return ()
        return read_trend(db, until=None, limit=limit)


def last_source_count(path: Path, source: str) -> int | None:
    """The identity count of ``source`` at the last recorded run; ``None`` if never recorded.

    Read only: never creates the file. The ``--apply`` integrity guard compares the
    current pull with this before any write.
    """
    with reading(path) as db:
        if db is None:
            return None
        row = db.execute(
            "SELECT p.records FROM runs r JOIN run_places p ON p.run_id = r.id"
            " WHERE p.place = ? AND p.role = 'source' ORDER BY r.at DESC, r.id DESC LIMIT 1",
            (storable(source),),
        ).fetchone()
    return None if row is None else int(row[0])
