"""The history store: every run recorded in one SQLite file.

From it a report learns, per finding, when it was first seen, how old it is and whether
it is new since the previous run, and which findings of the previous run are gone.

Layout (schema version 1, ``PRAGMA user_version``; ``PRAGMA application_id`` marks the
file as nhirecon's so that a foreign database is never written to):

- ``runs``: one row per recorded run, keyed by the instant it was evaluated at (``--now``);
  runs are ordered by that instant, not by when they were recorded.
- ``run_places``: per run, the source and each target it covered, with their counts
  (identities for the source; accounts, linked, unmatched, ... for a target).
- ``run_counts``: per run and finding kind, the findings counted, excepted and new; with
  ``runs.resolved``, what the trend shows without rereading every sighting.
- ``findings``: one row per fingerprint ever seen, with its kind, place and subject.
- ``sightings``: which findings each run had, whether excepted, and when the streak the
  sighting belongs to began (the finding's ``first_seen`` as of that run).

A finding is *new* in a run when the previous run covering its target (the latest one
evaluated strictly earlier) did not have it; it is *resolved* by a run that covers its
target and no longer has it. A finding that comes back after being resolved starts a new
streak. Recording happens in one ``BEGIN IMMEDIATE`` transaction, so overlapping runs
queue behind each other (up to ``BUSY_TIMEOUT_SECONDS``) instead of interleaving.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from nhirecon.core.model import FindingKind
from nhirecon.core.report import HistoryView, Report, ResolvedFinding, RunTrend, Seen
from nhirecon.core.values import as_utc
from nhirecon.errors import NhireconError
from nhirecon.exit_codes import ExitCode
from nhirecon.output import make_folder

SCHEMA_VERSION: Final = 1
APPLICATION_ID: Final = 0x4E485243
"""``NHRC``: written into the SQLite header of every history file."""
BUSY_TIMEOUT_SECONDS: Final = 60.0
"""How long a run waits for another run holding the file before giving up."""
TREND_RUNS: Final = 30
"""How many runs a report's trend shows."""
PRIVATE_FILE: Final = 0o600

MIGRATIONS: Final[tuple[str, ...]] = (
    # 0 → 1: the first layout.
    """
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        at INTEGER NOT NULL,
        source TEXT NOT NULL,
        tool_version TEXT NOT NULL,
        resolved INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX runs_by_time ON runs (at, id);
    CREATE TABLE run_counts (
        run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        kind TEXT NOT NULL,
        counted INTEGER NOT NULL,
        excepted INTEGER NOT NULL,
        new INTEGER NOT NULL,
        PRIMARY KEY (run_id, kind)
    ) WITHOUT ROWID;
    CREATE TABLE run_places (
        run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        place TEXT NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('source', 'target')),
        connector TEXT NOT NULL,
        records INTEGER NOT NULL,
        linked INTEGER,
        unmatched INTEGER,
        ambiguous INTEGER,
        inactive INTEGER,
        PRIMARY KEY (run_id, place)
    ) WITHOUT ROWID;
    CREATE INDEX run_places_by_place ON run_places (place, run_id);
    CREATE TABLE findings (
        id INTEGER PRIMARY KEY,
        fingerprint TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL,
        place TEXT NOT NULL,
        account_id TEXT,
        identity_id TEXT,
        label TEXT NOT NULL
    );
    CREATE TABLE sightings (
        run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        finding_id INTEGER NOT NULL REFERENCES findings (id),
        excepted INTEGER NOT NULL,
        streak_start INTEGER NOT NULL,
        PRIMARY KEY (run_id, finding_id)
    ) WITHOUT ROWID;
    CREATE INDEX sightings_by_finding ON sightings (finding_id, run_id);
    """,
)
"""Step ``i`` takes a file from schema version ``i`` to ``i + 1``."""


class HistoryError(NhireconError):
    """The history file cannot be used: not SQLite, not nhirecon's, damaged, or locked."""

    exit_code = ExitCode.USAGE


def default_path() -> Path:
    """``$XDG_STATE_HOME/nhirecon/history.db``, else ``~/.local/state/nhirecon/history.db``."""
    state = os.environ.get("XDG_STATE_HOME", "")
    root = Path(state) if state and Path(state).is_absolute() else Path.home() / ".local/state"
    return root / "nhirecon" / "history.db"


def _epoch(moment: datetime) -> int:
    return int(as_utc(moment).timestamp())


def _instant(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


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
            place=finding.target,
            account_id=finding.account.id if finding.account else None,
            identity_id=finding.identity.id if finding.identity else None,
            label=subject.label if subject else "",
            excepted=excepted,
        )
    return list(result.values())


def _places(report: Report) -> list[str]:
    return [report.source_name, *(stats.name for stats in report.targets)]


# --- opening -------------------------------------------------------------------------------


def _fail(path: Path, exc: BaseException) -> HistoryError:
    text = str(exc)
    if isinstance(exc, sqlite3.OperationalError) and "locked" in text:
        return HistoryError(
            f"history file {path}: still locked by another run after "
            f"{BUSY_TIMEOUT_SECONDS:.0f} s; try again later"
        )
    if isinstance(exc, sqlite3.DatabaseError):
        return HistoryError(
            f"history file {path}: not a usable nhirecon history file ({text}); "
            "it was left untouched: move it aside, point `history:` elsewhere, or use "
            "--no-history"
        )
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else text
    return HistoryError(f"history file {path}: {reason}")


def _create(path: Path) -> None:
    """Create the folders (0700) and an empty file (0600) unless they exist."""
    make_folder(path.parent)
    try:
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    except FileExistsError:
        return
    os.fchmod(handle, PRIVATE_FILE)
    os.close(handle)


def _connect(path: Path, *, readonly: bool) -> sqlite3.Connection:
    if readonly:
        uri = f"{path.resolve().as_uri()}?mode=ro"
        connection = sqlite3.connect(
            uri, uri=True, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None
        )
    else:
        connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
    connection.execute("PRAGMA foreign_keys = ON")
    return connection


def _check(connection: sqlite3.Connection, path: Path, *, writable: bool) -> bool:
    """Refuse foreign or newer files; bring an older (or empty) file up to date.

    Returns whether the file holds a history: ``False`` for an empty file read only.
    """
    application_id = connection.execute("PRAGMA application_id").fetchone()[0]
    version = connection.execute("PRAGMA user_version").fetchone()[0]
    tables = connection.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    if application_id != APPLICATION_ID and (tables or version or application_id):
        raise HistoryError(
            f"history file {path}: an SQLite database that is not an nhirecon history file "
            "(it was left untouched; point `history:` at another file)"
        )
    if version > SCHEMA_VERSION:
        raise HistoryError(
            f"history file {path}: schema version {version} was written by a newer nhirecon "
            f"(this one reads up to {SCHEMA_VERSION}); upgrade nhirecon"
        )
    if version == SCHEMA_VERSION:
        return True
    if not writable:
        if version == 0 and not tables:
            return False
        raise HistoryError(f"history file {path}: schema version {version} needs an upgrade")
    for step in range(version, SCHEMA_VERSION):
        for statement in MIGRATIONS[step].split(";"):
            if statement.strip():
                connection.execute(statement)
    connection.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    return True


@contextlib.contextmanager
def _writing(path: Path) -> Iterator[sqlite3.Connection]:
    """One write transaction, taken before anything is read (``BEGIN IMMEDIATE``)."""
    try:
        _create(path)
        connection = _connect(path, readonly=False)
    except (OSError, sqlite3.Error) as exc:
        raise _fail(path, exc) from exc
    try:
        connection.execute("BEGIN IMMEDIATE")
        try:
            _check(connection, path, writable=True)
            yield connection
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")
    except sqlite3.Error as exc:
        raise _fail(path, exc) from exc
    finally:
        connection.close()


@contextlib.contextmanager
def _reading(path: Path) -> Iterator[sqlite3.Connection | None]:
    """A read-only connection, or ``None`` when the file does not exist yet."""
    if not path.exists():
        yield None
        return
    try:
        connection = _connect(path, readonly=True)
    except (OSError, sqlite3.Error) as exc:
        raise _fail(path, exc) from exc
    try:
        connection.execute("BEGIN")
        usable = _check(connection, path, writable=False)
        yield connection if usable else None
        connection.execute("COMMIT")
    except sqlite3.Error as exc:
        raise _fail(path, exc) from exc
    finally:
        connection.close()


# --- queries -------------------------------------------------------------------------------


def _previous_run(connection: sqlite3.Connection, place: str | None, at: int) -> int | None:
    """The latest run evaluated strictly before ``at`` (covering ``place`` if given)."""
    if place is None:
        row = connection.execute(
            "SELECT id FROM runs WHERE at < ? ORDER BY at DESC, id DESC LIMIT 1", (at,)
        ).fetchone()
    else:
        row = connection.execute(
            "SELECT r.id FROM runs r JOIN run_places p ON p.run_id = r.id"
            " WHERE p.place = ? AND r.at < ? ORDER BY r.at DESC, r.id DESC LIMIT 1",
            (place, at),
        ).fetchone()
    return None if row is None else int(row[0])


def _streaks(connection: sqlite3.Connection, run_id: int, place: str) -> dict[int, int]:
    """finding id → streak start, for one run's findings at one place."""
    rows = connection.execute(
        "SELECT s.finding_id, s.streak_start FROM sightings s"
        " JOIN findings f ON f.id = s.finding_id WHERE s.run_id = ? AND f.place = ?",
        (run_id, place),
    )
    return {int(finding): int(start) for finding, start in rows}


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


def _replace_same_instant(
    connection: sqlite3.Connection, at: int, source: str, places: Sequence[str]
) -> None:
    """A re-run at an instant already recorded, over the same places, replaces it."""
    wanted = sorted(places)
    for (run_id,) in connection.execute(
        "SELECT id FROM runs WHERE at = ? AND source = ?", (at, source)
    ).fetchall():
        covered = sorted(
            place
            for (place,) in connection.execute(
                "SELECT place FROM run_places WHERE run_id = ?", (run_id,)
            )
        )
        if covered == wanted:
            connection.execute("DELETE FROM runs WHERE id = ?", (run_id,))


def _restreak(connection: sqlite3.Connection, place: str, since: int) -> None:
    """Recompute streak starts at ``place`` for runs at or after ``since``.

    Needed only when a run is recorded out of order (an earlier ``--now`` than runs
    already recorded), because it can join or split the streaks of later runs.
    """
    start = _previous_run(connection, place, since)
    runs = connection.execute(
        "SELECT r.id, r.at FROM runs r JOIN run_places p ON p.run_id = r.id"
        " WHERE p.place = ? AND r.at >= ? ORDER BY r.at, r.id",
        (place, since),
    ).fetchall()
    before: dict[int, int] = {} if start is None else _streaks(connection, start, place)
    last: dict[int, int] = before
    group_at: int | None = None
    for run_id, at in runs:
        if at != group_at:
            before, group_at = last, at
        current = {
            finding: before.get(finding, at) for finding in _streaks(connection, run_id, place)
        }
        connection.executemany(
            "UPDATE sightings SET streak_start = ? WHERE run_id = ? AND finding_id = ?",
            [(streak, run_id, finding) for finding, streak in current.items()],
        )
        last = current


def _resolved_between(
    connection: sqlite3.Connection, previous: int, run_id: int, place: str
) -> list[tuple[Any, ...]]:
    return connection.execute(
        "SELECT f.fingerprint, f.kind, f.place, f.account_id, f.identity_id, f.label,"
        " s.streak_start, p.at"
        " FROM sightings s JOIN findings f ON f.id = s.finding_id"
        " JOIN runs p ON p.id = s.run_id"
        " WHERE s.run_id = ? AND f.place = ? AND NOT EXISTS"
        " (SELECT 1 FROM sightings n WHERE n.run_id = ? AND n.finding_id = s.finding_id)",
        (previous, place, run_id),
    ).fetchall()


def _resolved_count(connection: sqlite3.Connection, previous: int, run_id: int, place: str) -> int:
    row = connection.execute(
        "SELECT count(*) FROM sightings s JOIN findings f ON f.id = s.finding_id"
        " WHERE s.run_id = ? AND f.place = ? AND NOT EXISTS"
        " (SELECT 1 FROM sightings n WHERE n.run_id = ? AND n.finding_id = s.finding_id)",
        (previous, place, run_id),
    ).fetchone()
    return int(row[0])


def _summarise(connection: sqlite3.Connection, run_id: int) -> None:
    """Store a run's counts by kind (counted, excepted, new) and its resolved count."""
    at = connection.execute("SELECT at FROM runs WHERE id = ?", (run_id,)).fetchone()[0]
    places = [
        place
        for (place,) in connection.execute(
            "SELECT place FROM run_places WHERE run_id = ?", (run_id,)
        )
    ]
    connection.execute("DELETE FROM run_counts WHERE run_id = ?", (run_id,))
    connection.execute(
        "INSERT INTO run_counts (run_id, kind, counted, excepted, new)"
        " SELECT s.run_id, f.kind, sum(s.excepted = 0), sum(s.excepted),"
        " sum(s.excepted = 0 AND s.streak_start = ?)"
        " FROM sightings s JOIN findings f ON f.id = s.finding_id WHERE s.run_id = ?"
        " GROUP BY f.kind",
        (at, run_id),
    )
    resolved = 0
    for place in places:
        previous = _previous_run(connection, place, at)
        if previous is not None:
            resolved += _resolved_count(connection, previous, run_id, place)
    connection.execute("UPDATE runs SET resolved = ? WHERE id = ?", (resolved, run_id))


def _trend(
    connection: sqlite3.Connection, *, until: int | None, limit: int
) -> tuple[RunTrend, ...]:
    if until is None:
        rows = connection.execute(
            "SELECT id, at, resolved FROM runs ORDER BY at DESC, id DESC LIMIT ?", (limit,)
        ).fetchall()
    else:
        rows = connection.execute(
            "SELECT id, at, resolved FROM runs WHERE at <= ? ORDER BY at DESC, id DESC LIMIT ?",
            (until, limit),
        ).fetchall()
    result = []
    for run_id, at, resolved in reversed(rows):
        places = tuple(
            place
            for (place,) in connection.execute(
                "SELECT place FROM run_places WHERE run_id = ? ORDER BY role = 'target', place",
                (run_id,),
            )
        )
        by_kind: Counter[FindingKind] = Counter()
        total = excepted = new = 0
        for kind, counted, was_excepted, fresh in connection.execute(
            "SELECT kind, counted, excepted, new FROM run_counts WHERE run_id = ?", (run_id,)
        ):
            total += counted
            excepted += was_excepted
            new += fresh
            if counted:
                by_kind[FindingKind(kind)] += counted
        result.append(
            RunTrend(
                at=_instant(at),
                places=places,
                total=total,
                excepted=excepted,
                by_kind={kind: by_kind[kind] for kind in FindingKind if by_kind[kind]},
                new=new,
                resolved=resolved,
            )
        )
    return tuple(result)


# --- the API -------------------------------------------------------------------------------


def _record(db: sqlite3.Connection, report: Report, trend_runs: int) -> HistoryView:
    """Record this run in an open write transaction; return what the history says."""
    at = _epoch(report.generated_at)
    places = _places(report)
    sightings = _sightings(report)
    previous_by_place = {place: _previous_run(db, place, at) for place in places}
    previous_any = _previous_run(db, None, at)
    previous_at = (
        None
        if previous_any is None
        else _instant(db.execute("SELECT at FROM runs WHERE id = ?", (previous_any,)).fetchone()[0])
    )
    earlier = {
        place: {} if run is None else _streaks(db, run, place)
        for place, run in previous_by_place.items()
    }
    _replace_same_instant(db, at, report.source_name, places)
    run_id = db.execute(
        "INSERT INTO runs (at, source, tool_version) VALUES (?, ?, ?) RETURNING id",
        (at, report.source_name, report.tool_version),
    ).fetchone()[0]
    db.execute(
        "INSERT INTO run_places (run_id, place, role, connector, records)"
        " VALUES (?, ?, 'source', ?, ?)",
        (run_id, report.source_name, report.source_connector, report.identities),
    )
    db.executemany(
        "INSERT INTO run_places (run_id, place, role, connector, records, linked,"
        " unmatched, ambiguous, inactive) VALUES (?, ?, 'target', ?, ?, ?, ?, ?, ?)",
        [
            (
                run_id,
                stats.name,
                stats.connector,
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
        first = _instant(start)
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
        for fp, kind, where, account, identity, label, began, ended in _resolved_between(
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
                    first_seen=_instant(int(began)),
                    last_seen=_instant(int(ended)),
                )
            )
    _summarise(db, run_id)
    later = [
        int(later_id)
        for (later_id,) in db.execute("SELECT id FROM runs WHERE at > ? ORDER BY at, id", (at,))
    ]
    if later:
        for place in places:
            _restreak(db, place, at + 1)
        for later_id in later:
            _summarise(db, later_id)
    trend = _trend(db, until=at, limit=trend_runs)
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
    with _writing(path) as db:
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
    with _reading(path) as db:
        if db is None:
            return ()
        return _trend(db, until=None, limit=limit)


def last_source_count(path: Path, source: str) -> int | None:
    """The identity count of ``source`` at the last recorded run; ``None`` if never recorded.

    Read only: never creates the file. The ``--apply`` integrity guard compares the
    current pull with this before any write.
    """
    with _reading(path) as db:
        if db is None:
            return None
        row = db.execute(
            "SELECT p.records FROM runs r JOIN run_places p ON p.run_id = r.id"
            " WHERE p.place = ? AND p.role = 'source' ORDER BY r.at DESC, r.id DESC LIMIT 1",
            (source,),
        ).fetchone()
    return None if row is None else int(row[0])
