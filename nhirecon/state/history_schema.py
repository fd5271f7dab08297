"""The layout of the history file, and the steps that bring an older file up to it.

Layout (schema version 2, ``PRAGMA user_version``; ``PRAGMA application_id`` marks the
file as nhirecon's so that a foreign database is never written to):

- ``runs``: one row per recorded run, keyed by the instant it was evaluated at (``--now``);
  runs are ordered by that instant, not by when they were recorded.
- ``run_places``: per run, the source and each target it covered, with their counts
  (identities for the source; accounts, linked, unmatched, ... for a target).
- ``run_inputs`` (since version 2): per run of a source with ``include:`` entries, each
  input's identity count (by its key, ``source.include[0]``), so that the source-drop
  guard holds each input to its limit.
- ``run_counts``: per run and finding kind, the findings counted, excepted and new; with
  ``runs.resolved``, what the trend shows without rereading every sighting.
- ``findings``: one row per fingerprint ever seen, with its kind, place and subject.
- ``sightings``: which findings each run had, whether excepted, and when the streak the
  sighting belongs to began (the finding's ``first_seen`` as of that run).
"""

from __future__ import annotations

from typing import Final

SCHEMA_VERSION: Final = 2
"""The layout's version, kept in ``PRAGMA user_version``."""
APPLICATION_ID: Final = 0x4E485243
"""``NHRC``: written into the SQLite header of every history file."""
INPUTS_SINCE: Final = 2
"""The version that added ``run_inputs``."""

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
    # 1 → 2: each input's identity count, for a source with `include:` entries.
    """
    CREATE TABLE run_inputs (
        run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        input TEXT NOT NULL,
        records INTEGER NOT NULL,
        PRIMARY KEY (run_id, input)
    ) WITHOUT ROWID;
    """,
)
"""Step ``i`` takes a file from schema version ``i`` to ``i + 1``."""
