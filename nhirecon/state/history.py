"""The history store: every run recorded in one SQLite file.

From it a report learns, per finding, when it was first seen, how old it is and whether
it is new since the previous run, and which findings of the previous run are gone.

A finding is *new* in a run when the previous run covering its target (the latest one
evaluated strictly earlier) did not have it; it is *resolved* by a run that covers its
target and no longer has it. A finding that comes back after being resolved starts a new
streak. Recording happens in one ``BEGIN IMMEDIATE`` transaction, so overlapping runs
queue behind each other (up to ``BUSY_TIMEOUT_SECONDS``) instead of interleaving, and a
run that fails at any step leaves the file as it was.

Recording is set-based, so that an estate with hundreds of thousands of findings records
in seconds: the run's findings are loaded into a temporary table with one ``executemany``,
and a handful of ``INSERT ... SELECT`` statements then add the findings never seen before,
refresh those whose label changed, and write the sightings with their streaks; no
statement is run per finding.

The file itself (its layout, that timeout, and how it is opened, checked and migrated) is
``history_db``; the queries over the recorded runs are ``history_queries``.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from types import MappingProxyType
from typing import Final

from nhirecon.core.guards import SourceCount
from nhirecon.core.report import HistoryView, Report, ResolvedFinding, RunTrend, Seen
from nhirecon.state.history_db import (
    Damaged,
    epoch,
    file_version,
    instant,
    kind,
    reading,
    storable,
    whole,
    writing,
)
from nhirecon.state.history_queries import (
    previous_run,
    read_trend,
    replace_same_instant,
    resolved_between,
    restreak,
    summarise,
)
from nhirecon.state.history_schema import INPUTS_SINCE

TREND_RUNS: Final = 30
"""How many runs a report's trend shows."""


# --- a run's sightings, set-based ----------------------------------------------------------

_SIGHTED: Final = "temp.run_sightings"
"""The run's findings as the file stores them, one row per fingerprint, in the run's order."""
_PREVIOUS: Final = "temp.run_previous"
"""The previous run of each place this run covers (places never covered before are absent)."""
_STREAKS: Final = "temp.run_streaks"
"""Per row of ``_SIGHTED``: its finding's id, and the start of the streak it continues."""

_Row = tuple[str, str, str, str | None, str | None, str, int]


def _rows(report: Report, twice: set[str]) -> Iterator[_Row]:
    """One row per finding of the run, counted then excepted, as the file stores it; a
    fingerprint listed more than once is added to ``twice``."""
    listed: set[str] = set()
    for findings, excepted in (
        (report.findings, 0),
        ((finding for finding, _ in report.excepted), 1),
    ):
        for finding in findings:
            if finding.fingerprint in listed:
                twice.add(finding.fingerprint)
            listed.add(finding.fingerprint)
            account, identity = finding.account, finding.identity
            subject = account or identity
            yield (
                finding.fingerprint,
                finding.kind._value_,
                storable(finding.target),
                None if account is None else storable(account.id),
                None if identity is None else storable(identity.id),
                "" if subject is None else storable(subject.label),
                excepted,
            )


def _load(db: sqlite3.Connection, report: Report, previous: dict[str, int | None]) -> None:
    """Put the run's sightings in a temporary table in the run's order (``n``), one row per
    fingerprint, and the previous run of each place in another.

    A fingerprint listed twice keeps its first place in the order and its last values
    (counted findings first, then excepted ones), as a dict would.
    """
    db.execute(
        f"CREATE TABLE {_SIGHTED} (n INTEGER PRIMARY KEY, fingerprint TEXT NOT NULL,"
        " kind TEXT NOT NULL, place TEXT NOT NULL, account_id TEXT, identity_id TEXT,"
        " label TEXT NOT NULL, excepted INTEGER NOT NULL)"
    )
    twice: set[str] = set()
    db.executemany(
        f"INSERT INTO {_SIGHTED} (fingerprint, kind, place, account_id, identity_id, label,"
        " excepted) VALUES (?, ?, ?, ?, ?, ?, ?)",
        _rows(report, twice),
    )
    if twice:  # rare: keep the first row of each, with the values of the last
        db.execute("CREATE INDEX temp.run_sightings_twice ON run_sightings (fingerprint, n)")
        db.execute(
            f"UPDATE {_SIGHTED} AS t SET (kind, place, account_id, identity_id, label,"
            " excepted) = (SELECT kind, place, account_id, identity_id, label, excepted"
            f" FROM {_SIGHTED} AS l WHERE l.fingerprint = t.fingerprint ORDER BY n DESC LIMIT 1)"
            f" WHERE fingerprint IN (SELECT fingerprint FROM {_SIGHTED} GROUP BY fingerprint"
            " HAVING count(*) > 1)"
        )
        db.execute(
            f"DELETE FROM {_SIGHTED} WHERE n NOT IN"
            f" (SELECT min(n) FROM {_SIGHTED} GROUP BY fingerprint)"
        )
    db.execute(f"CREATE TABLE {_PREVIOUS} (place TEXT PRIMARY KEY, run_id INTEGER NOT NULL)")
    db.executemany(
        f"INSERT INTO {_PREVIOUS} (place, run_id) VALUES (?, ?)",
        [(place, run) for place, run in previous.items() if run is not None],
    )


def _sightings_in(db: sqlite3.Connection, run_id: int, at: int) -> None:
    """Record the loaded sightings as run ``run_id``'s, a statement for each step.

    Each fingerprint's row in ``findings`` is inserted, or refreshed (label, account and
    identity ids) when they changed; new rows take ids in the run's order. A sighting
    continues the streak of the previous run covering its place when that run had the
    finding there (``earlier``, that streak's start); otherwise its streak starts at ``at``.
    """
    db.execute(
        "INSERT INTO findings (fingerprint, kind, place, account_id, identity_id, label)"
        f" SELECT fingerprint, kind, place, account_id, identity_id, label FROM {_SIGHTED}"
        " WHERE true ORDER BY n ON CONFLICT (fingerprint) DO UPDATE SET label = excluded.label,"
        " account_id = excluded.account_id, identity_id = excluded.identity_id"
        " WHERE label IS NOT excluded.label OR account_id IS NOT excluded.account_id"
        " OR identity_id IS NOT excluded.identity_id"
    )
    db.execute(
        f"CREATE TABLE {_STREAKS} (n INTEGER PRIMARY KEY, finding_id INTEGER NOT NULL,"
        " excepted INTEGER NOT NULL, earlier INTEGER)"
    )
    db.execute(
        f"INSERT INTO {_STREAKS} (n, finding_id, excepted, earlier)"
        " SELECT t.n, f.id, t.excepted, (SELECT s.streak_start"
        f" FROM {_PREVIOUS} p JOIN sightings s ON s.run_id = p.run_id AND s.finding_id = f.id"
        f" WHERE p.place = t.place AND f.place = t.place) FROM {_SIGHTED} t"
        " JOIN findings f ON f.fingerprint = t.fingerprint ORDER BY t.n"
    )
    db.execute(
        "INSERT INTO sightings (run_id, finding_id, excepted, streak_start)"
        f" SELECT ?, finding_id, excepted, coalesce(earlier, ?) FROM {_STREAKS}"
        " ORDER BY finding_id",
        (run_id, at),
    )


def _seen(db: sqlite3.Connection, generated_at: datetime, at: int) -> dict[str, Seen]:
    """Per fingerprint, in the run's order: when its streak began, its age, and whether it
    is new (no streak to continue).

    Findings share a few streak starts (one per earlier run), so each ``Seen`` is made once.
    """
    made: dict[int | None, Seen] = {}

    def made_for(earlier: int | None) -> Seen:
        first = instant(at if earlier is None else earlier)
        seen = Seen(first_seen=first, age_days=(generated_at - first).days, new=earlier is None)
        made[earlier] = seen
        return seen

    return {
        str(fingerprint): made[earlier] if earlier in made else made_for(earlier)
        for fingerprint, earlier in db.execute(
            f"SELECT t.fingerprint, s.earlier FROM {_SIGHTED} t"
            f" JOIN {_STREAKS} s ON s.n = t.n ORDER BY t.n"
        )
    }


def _places(report: Report) -> list[str]:
    return [storable(report.source_name), *(storable(stats.name) for stats in report.targets)]


# --- the API -------------------------------------------------------------------------------


def _record(db: sqlite3.Connection, report: Report, trend_runs: int) -> HistoryView:
    """Record this run in an open write transaction; return what the history says."""
    at = epoch(report.generated_at)
    places = _places(report)
    previous_by_place = {place: previous_run(db, place, at) for place in places}
    previous_any = previous_run(db, None, at)
    previous_at = (
        None
        if previous_any is None
        else instant(db.execute("SELECT at FROM runs WHERE id = ?", (previous_any,)).fetchone()[0])
    )
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
        "INSERT INTO run_inputs (run_id, input, records) VALUES (?, ?, ?)",
        [(run_id, key, count) for key, _, count in report.source_inputs],
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
    _load(db, report, previous_by_place)
    _sightings_in(db, run_id, at)
    seen = _seen(db, report.generated_at, at)
    for table in (_SIGHTED, _PREVIOUS, _STREAKS):
        db.execute(f"DROP TABLE {table}")
    resolved = [
        ResolvedFinding(
            fingerprint=str(fp),
            kind=kind(stored_kind),
            target=str(where),
            account_id=None if account is None else str(account),
            identity_id=None if identity is None else str(identity),
            label=str(label),
            first_seen=instant(began),
            last_seen=instant(ended),
        )
        for fp, stored_kind, where, account, identity, label, began, ended in resolved_between(
            db, previous_by_place, run_id
        )
    ]
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


def last_source_count(path: Path, source: str, until: datetime) -> SourceCount | None:
    """The identity count of ``source``, in all and per input (a run recorded by a release
    before inputs were counted has none), at the last run recorded at or before the instant
    ``until``; ``None`` if there is none. A count below 1 is :class:`Damaged` (an empty
    source, or input, is refused, never recorded).

    Read only: never creates the file. The source-drop guard compares the current pull
    with this before anything is written.
    """
    with reading(path) as db:
        if db is None:
            return None
        row = _last_run(db, source, "source", until)
        if row is None:
            return None
        inputs = (
            db.execute("SELECT input, records FROM run_inputs WHERE run_id = ?", (row[0],))
            if file_version(db) >= INPUTS_SINCE
            else ()
        )
        return SourceCount(
            _counted(row[1], "a run's record count"),
            MappingProxyType(
                {str(key): _counted(count, "an input's record count") for key, count in inputs}
            ),
        )


def _counted(value: object, what: str) -> int:
    count = whole(value, what)
    if count < 1:
        raise Damaged(f"{what} holds {count}, where a recorded source has at least 1")
    return count


def last_target_counts(path: Path, targets: Sequence[str], until: datetime) -> dict[str, int]:
    """The account count of each of ``targets`` at the last run that covered it, recorded
    at or before the instant ``until``; a target never so recorded is absent. Read only:
    never creates the file."""
    with reading(path) as db:
        if db is None:
            return {}
        found = {}
        for place in targets:
            row = _last_run(db, place, "target", until)
            if row is not None:
                found[place] = whole(row[1], "a run's record count")
    return found


def _last_run(
    db: sqlite3.Connection, place: str, role: str, until: datetime
) -> tuple[object, object] | None:
    """The id and record count of ``place`` (as ``role``) at the latest run recorded at or
    before the instant ``until``, as the file holds them; ``None`` if there is none."""
    row = db.execute(
        "SELECT r.id, p.records FROM runs r JOIN run_places p ON p.run_id = r.id"
        " WHERE p.place = ? AND p.role = ? AND r.at <= ? ORDER BY r.at DESC, r.id DESC LIMIT 1",
        (storable(place), role, epoch(until)),
    ).fetchone()
    return None if row is None else (row[0], row[1])
