"""Queries over the recorded runs, on an open connection.

Which run came before an instant, the streaks of later runs' findings when a run is recorded
out of order, what a run resolved, and the per-run summaries that the trend is read from.
Each is a statement (or one per run) over whole runs, never one per finding.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any, Final

from nhirecon.core.model import FindingKind
from nhirecon.core.report import RunTrend
from nhirecon.state.history_db import instant, kind, whole


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
    already recorded), because it can join or split the streaks of later runs. One
    statement per run, in order: a finding there continues the streak it had in the last
    run covering the place at an earlier instant, and starts one at the run's instant
    otherwise.
    """
    last = before = previous_run(connection, place, since)
    runs = connection.execute(
        "SELECT r.id, r.at FROM runs r JOIN run_places p ON p.run_id = r.id"
        " WHERE p.place = ? AND r.at >= ? ORDER BY r.at, r.id",
        (place, since),
    ).fetchall()
    group_at: int | None = None
    for run_id, at in runs:
        if at != group_at:
            before, group_at = last, at
        connection.execute(
            "UPDATE sightings SET streak_start = coalesce((SELECT b.streak_start FROM sightings b"
            " WHERE b.run_id = ? AND b.finding_id = sightings.finding_id), ?)"
            " WHERE run_id = ? AND EXISTS"
            " (SELECT 1 FROM findings f WHERE f.id = sightings.finding_id AND f.place = ?)",
            (before, at, run_id, place),
        )
        last = run_id


def _by_run(previous: Mapping[str, int | None]) -> dict[int, list[str]]:
    """The places of ``previous`` (place → its previous run) grouped by that run."""
    grouped: dict[int, list[str]] = {}
    for place, run in previous.items():
        if run is not None:
            grouped.setdefault(run, []).append(place)
    return grouped


_GONE: Final = (
    " FROM sightings s JOIN findings f ON f.id = s.finding_id"
    " WHERE s.run_id = ? AND f.place IN ({places}) AND NOT EXISTS"
    " (SELECT 1 FROM sightings n WHERE n.run_id = ? AND n.finding_id = s.finding_id)"
)
"""The sightings of an earlier run at some places that run ``?`` no longer has."""


def _gone(columns: str, places: Sequence[str]) -> str:
    return f"SELECT {columns}" + _GONE.format(places=", ".join("?" * len(places)))


def resolved_between(
    connection: sqlite3.Connection, previous: Mapping[str, int | None], run_id: int
) -> list[tuple[Any, ...]]:
    """What run ``run_id`` resolved: per place, the findings there of its previous run
    (``previous``: place → run, or ``None``) that it no longer has; one query per previous
    run, however many places it covered."""
    rows: list[tuple[Any, ...]] = []
    for earlier, places in _by_run(previous).items():
        rows += connection.execute(
            _gone(
                "f.fingerprint, f.kind, f.place, f.account_id, f.identity_id, f.label,"
                " s.streak_start, (SELECT at FROM runs WHERE id = s.run_id)",
                places,
            ),
            (earlier, *places, run_id),
        ).fetchall()
    return rows


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
    previous = {place: previous_run(connection, place, at) for place in places}
    for earlier, covered in _by_run(previous).items():
        row = connection.execute(_gone("count(*)", covered), (earlier, *covered, run_id))
        resolved += int(row.fetchone()[0])
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
        for stored, counted, was_excepted, fresh in connection.execute(
            "SELECT kind, counted, excepted, new FROM run_counts WHERE run_id = ?", (run_id,)
        ):
            total += whole(counted, "a run's count")
            excepted += whole(was_excepted, "a run's count")
            new += whole(fresh, "a run's count")
            if counted:
                by_kind[kind(stored)] += counted
        result.append(
            RunTrend(
                at=instant(at),
                places=places,
                total=total,
                excepted=excepted,
                by_kind={each: by_kind[each] for each in FindingKind if by_kind[each]},
                new=new,
                resolved=whole(resolved, "a run's resolved count"),
            )
        )
    return tuple(result)
