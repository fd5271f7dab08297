"""Queries over the recorded runs, on an open connection.

Which run came before an instant, the streaks of a run's findings at a place, what a run
resolved, and the per-run summaries that the trend is read from.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Sequence
from typing import Any

from nhirecon.core.model import FindingKind
from nhirecon.core.report import RunTrend
from nhirecon.state.history_db import instant


def previous_run(connection: sqlite3.Connection, place: str | None, at: int) -> int | None:
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


def streaks(connection: sqlite3.Connection, run_id: int, place: str) -> dict[int, int]:
    """finding id → streak start, for one run's findings at one place."""
    rows = connection.execute(
        "SELECT s.finding_id, s.streak_start FROM sightings s"
        " JOIN findings f ON f.id = s.finding_id WHERE s.run_id = ? AND f.place = ?",
        (run_id, place),
    )
    return {int(finding): int(start) for finding, start in rows}


def replace_same_instant(
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


def restreak(connection: sqlite3.Connection, place: str, since: int) -> None:
    """Recompute streak starts at ``place`` for runs at or after ``since``.

    Needed only when a run is recorded out of order (an earlier ``--now`` than runs
    already recorded), because it can join or split the streaks of later runs.
    """
    start = previous_run(connection, place, since)
    runs = connection.execute(
        "SELECT r.id, r.at FROM runs r JOIN run_places p ON p.run_id = r.id"
        " WHERE p.place = ? AND r.at >= ? ORDER BY r.at, r.id",
        (place, since),
    ).fetchall()
    before: dict[int, int] = {} if start is None else streaks(connection, start, place)
    last: dict[int, int] = before
    group_at: int | None = None
    for run_id, at in runs:
        if at != group_at:
            before, group_at = last, at
        current = {
            finding: before.get(finding, at) for finding in streaks(connection, run_id, place)
        }
        connection.executemany(
            "UPDATE sightings SET streak_start = ? WHERE run_id = ? AND finding_id = ?",
            [(streak, run_id, finding) for finding, streak in current.items()],
        )
        last = current


def resolved_between(
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


def summarise(connection: sqlite3.Connection, run_id: int) -> None:
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
        previous = previous_run(connection, place, at)
        if previous is not None:
            resolved += _resolved_count(connection, previous, run_id, place)
    connection.execute("UPDATE runs SET resolved = ? WHERE id = ?", (resolved, run_id))


def read_trend(
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
                at=instant(at),
                places=places,
                total=total,
                excepted=excepted,
                by_kind={kind: by_kind[kind] for kind in FindingKind if by_kind[kind]},
                new=new,
                resolved=resolved,
            )
        )
    return tuple(result)
