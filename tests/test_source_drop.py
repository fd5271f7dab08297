"""The source-drop guard holds for every command that reads the source, not only --apply:
a source that shrank too much since the last recorded run refuses the run (exit 4) before
any report is written or any run recorded, until the drop is accepted for one run."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from nhirecon.state import history_db

from .conftest import Run

NOW = "2026-11-28T00:00:00Z"
CONFIG = """\
version: 1
source:
  name: hr
  connector: csv
  path: hr.csv
  map: {id: employee_id, email: work_email, status: status}
targets:
  - name: app
    connector: csv
    path: app.csv
    map: {id: uid, email: email, active: enabled}
policy: {max_source_drop_percent: 20}
history: history.db
"""


def people(count: int) -> str:
    rows = [f"E{n},user{n}@example.com,active" for n in range(count)]
    return "employee_id,work_email,status\n" + "\n".join(rows) + "\n"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "nhirecon.yaml").write_text(CONFIG, encoding="utf-8")
    (tmp_path / "hr.csv").write_text(people(10), encoding="utf-8")
    (tmp_path / "app.csv").write_text("uid,email,enabled\nA0,user0@example.com,true\n")
    return tmp_path


def recorded(folder: Path) -> list[int]:
    with sqlite3.connect(folder / "history.db") as db:
        rows = db.execute(
            "SELECT p.records FROM runs r JOIN run_places p ON p.run_id = r.id"
            " WHERE p.role = 'source' ORDER BY r.at, r.id"
        ).fetchall()
    return [int(count) for (count,) in rows]


def test_a_plain_audit_refuses_a_shrunken_source_and_records_nothing(
    folder: Path, run: Run
) -> None:
    assert run("audit", "--now", NOW, "-q", cwd=folder).returncode == 0
    (folder / "hr.csv").write_text(people(7), encoding="utf-8")  # 30% fewer
    refused = run(
        "audit", "--now", "2026-11-29T00:00:00Z", "-f", "json", "-o", "r.json", cwd=folder
    )
    assert refused.returncode == 4
    assert "7 identities, 30.0% fewer than the 10 of the last recorded run" in refused.stderr
    assert "--accept-source-drop" in refused.stderr
    assert not (folder / "r.json").exists()
    assert recorded(folder) == [10], "a refused run never becomes the new baseline"
    again = run("audit", "--now", "2026-11-30T00:00:00Z", "-q", cwd=folder)
    assert again.returncode == 4, "still measured against the last run that passed"
    accepted = run(
        "audit", "--now", "2026-11-30T00:00:00Z", "-q", "--accept-source-drop", cwd=folder
    )
    assert accepted.returncode == 0, accepted.stderr
    assert recorded(folder) == [10, 7]
    assert run("audit", "--now", "2026-12-01T00:00:00Z", "-q", cwd=folder).returncode == 0


def test_a_drop_within_the_limit_passes(folder: Path, run: Run) -> None:
    assert run("audit", "--now", NOW, "-q", cwd=folder).returncode == 0
    (folder / "hr.csv").write_text(people(8), encoding="utf-8")  # exactly 20%: allowed
    assert run("audit", "--now", "2026-11-29T00:00:00Z", "-q", cwd=folder).returncode == 0


def test_plan_refuses_a_shrunken_source_too(folder: Path, run: Run) -> None:
    assert run("audit", "--now", NOW, "-q", cwd=folder).returncode == 0
    (folder / "hr.csv").write_text(people(5), encoding="utf-8")
    refused = run("plan", "--now", NOW, "-o", "plan.json", cwd=folder)
    assert refused.returncode == 4
    assert "50.0% fewer" in refused.stderr
    assert not (folder / "plan.json").exists()
    made = run("plan", "--now", NOW, "-o", "plan.json", "--accept-source-drop", cwd=folder)
    assert made.returncode == 0, made.stderr


def test_baseline_refuses_a_shrunken_source_too(folder: Path, run: Run) -> None:
    """A baseline written from a truncated HR export would accept, as known, the orphans of
    every person cut out: the gate then passes when one of them really leaves."""
    assert run("audit", "--now", NOW, "-q", cwd=folder).returncode == 0
    (folder / "hr.csv").write_text(people(1), encoding="utf-8")
    (folder / "app.csv").write_text(
        "uid,email,enabled\n" + "".join(f"A{n},user{n}@example.com,true\n" for n in range(10))
    )
    refused = run("baseline", "--now", NOW, "-o", "base.json", cwd=folder)
    assert refused.returncode == 4, refused.stderr
    assert "90.0% fewer" in refused.stderr and "--accept-source-drop" in refused.stderr
    assert not (folder / "base.json").exists()
    made = run("baseline", "--now", NOW, "-o", "base.json", "--accept-source-drop", cwd=folder)
    assert made.returncode == 0, made.stderr
    assert "wrote base.json: 9 accepted findings" in made.stdout
    assert recorded(folder) == [10], "a baseline records no run"


def test_validate_connect_refuses_an_empty_source_input_as_audit_does(
    folder: Path, run: Run
) -> None:
    (folder / "hr.csv").write_text("employee_id,work_email,status\n", encoding="utf-8")
    result = run("validate", "--connect", cwd=folder)
    assert result.returncode == 4
    assert "returned no identities" in result.stderr


# --- each input of a source with include: --------------------------------------------------

WITH_CONTRACTORS = CONFIG.replace(
    "  map: {id: employee_id, email: work_email, status: status}\n",
    "  map: {id: employee_id, email: work_email, status: status}\n"
    "  include:\n"
    "    - {connector: csv, path: contractors.csv,"
    " map: {id: contractor_id, email: email, status: state}}\n",
)


def contractors(count: int) -> str:
    rows = [f"C{n},contractor{n}@example.com,active" for n in range(count)]
    return "contractor_id,email,state\n" + "\n".join(rows) + "\n"


def inputs_recorded(folder: Path) -> list[list[tuple[str, int]]]:
    with sqlite3.connect(folder / "history.db") as db:
        runs = db.execute("SELECT id FROM runs ORDER BY at, id").fetchall()
        return [
            [
                (str(key), int(count))
                for key, count in db.execute(
                    "SELECT input, records FROM run_inputs WHERE run_id = ? ORDER BY input",
                    (run_id,),
                )
            ]
            for (run_id,) in runs
        ]


@pytest.fixture
def mixed(folder: Path) -> Path:
    (folder / "nhirecon.yaml").write_text(WITH_CONTRACTORS, encoding="utf-8")
    (folder / "hr.csv").write_text(people(100), encoding="utf-8")
    (folder / "contractors.csv").write_text(contractors(10), encoding="utf-8")
    return folder


def test_an_include_cut_short_is_refused_though_the_total_barely_moved(
    mixed: Path, run: Run
) -> None:
    """110 identities become 102 (7% fewer, within 20%), but the contractors' export lost
    80% of its rows: every account of the contractors cut out would be an orphan."""
    assert run("audit", "--now", NOW, "-q", cwd=mixed).returncode == 0
    assert recorded(mixed) == [110]
    assert inputs_recorded(mixed) == [[("source", 100), ("source.include[0]", 10)]]
    (mixed / "contractors.csv").write_text(contractors(2), encoding="utf-8")
    for command in (["audit", "-f", "json", "-o", "r.json"], ["plan", "-o", "plan.json"]):
        refused = run(*command, "--now", "2026-11-29T00:00:00Z", cwd=mixed)
        assert refused.returncode == 4, refused.stderr
        assert (
            "source input source.include[0] (contractors.csv) returned 2 identities, 80.0%"
            " fewer than the 10 of the last recorded run (max_source_drop_percent 20)"
        ) in refused.stderr
        assert "--accept-source-drop" in refused.stderr
    assert not (mixed / "r.json").exists() and not (mixed / "plan.json").exists()
    assert recorded(mixed) == [110], "a refused run is recorded nowhere"
    accepted = run(
        "audit", "--now", "2026-11-30T00:00:00Z", "-q", "--accept-source-drop", cwd=mixed
    )
    assert accepted.returncode == 0, accepted.stderr
    assert inputs_recorded(mixed)[-1] == [("source", 100), ("source.include[0]", 2)]
    assert run("audit", "--now", "2026-12-01T00:00:00Z", "-q", cwd=mixed).returncode == 0


def test_an_include_is_known_by_its_place_in_the_config_not_its_file(mixed: Path, run: Run) -> None:
    """The contractors' export, renamed and cut short, is still compared with the last run's
    contractors; a new include has nothing to compare with."""
    assert run("audit", "--now", NOW, "-q", cwd=mixed).returncode == 0
    (mixed / "contractors-2026.csv").write_text(contractors(3), encoding="utf-8")
    renamed = WITH_CONTRACTORS.replace("path: contractors.csv", "path: contractors-2026.csv")
    (mixed / "nhirecon.yaml").write_text(renamed, encoding="utf-8")
    refused = run("audit", "--now", "2026-11-29T00:00:00Z", "-q", cwd=mixed)
    assert refused.returncode == 4
    assert "source.include[0] (contractors-2026.csv) returned 3 identities, 70.0%" in (
        refused.stderr
    )
    (mixed / "contractors-2026.csv").write_text(contractors(10), encoding="utf-8")
    (mixed / "vendors.csv").write_text(
        contractors(1).replace("C0,contractor0", "V0,vendor0"), encoding="utf-8"
    )
    (mixed / "nhirecon.yaml").write_text(
        renamed.replace(
            "    - {connector: csv, path: contractors-2026.csv,",
            "    - {connector: csv, path: contractors-2026.csv,"
            " map: {id: contractor_id, email: email, status: state}}\n"
            "    - {connector: csv, path: vendors.csv,",
        ),
        encoding="utf-8",
    )
    passed = run("audit", "--now", "2026-11-29T00:00:00Z", cwd=mixed)
    assert passed.returncode == 0, passed.stderr
    assert (
        "source input source.include[1] (vendors.csv) has no count at the last recorded run"
        " to compare with: only the source's total is checked for it this run"
    ) in passed.stderr
    assert "source.include[0]" not in passed.stderr
    assert inputs_recorded(mixed)[-1] == [
        ("source", 100),
        ("source.include[0]", 10),
        ("source.include[1]", 1),
    ]


def _schema_one(path: Path, identities: int) -> None:
    """A history file as the release before per-input counts wrote it (schema version 1)."""
    with sqlite3.connect(path) as db:
        db.executescript(history_db.MIGRATIONS[0])
        db.execute(f"PRAGMA application_id = {history_db.APPLICATION_ID}")
        db.execute("PRAGMA user_version = 1")
        db.execute(
            "INSERT INTO runs (id, at, source, tool_version) VALUES (1, 1764201600, 'hr', '0.1')"
        )
        db.execute(
            "INSERT INTO run_places (run_id, place, role, connector, records)"
            " VALUES (1, 'hr', 'source', 'csv', ?)",
            (identities,),
        )
    db.close()


def test_a_history_from_before_per_input_counts_is_read_then_migrated(
    mixed: Path, run: Run
) -> None:
    """The file's last run (110 identities, no count per input) still holds the total; the
    first run recorded migrates the file, and the next is held per input."""
    _schema_one(mixed / "history.db", 110)
    (mixed / "hr.csv").write_text(people(70), encoding="utf-8")
    refused = run("audit", "--now", NOW, "-q", cwd=mixed)
    assert refused.returncode == 4, refused.stderr
    assert "the source returned 80 identities, 27.3% fewer than the 110" in refused.stderr
    assert "source input" not in refused.stderr, "the old file has no count per input"
    shown = run("history", cwd=mixed)
    assert shown.returncode == 0, shown.stderr
    (mixed / "hr.csv").write_text(people(100), encoding="utf-8")
    assert run("audit", "--now", NOW, "-q", cwd=mixed).returncode == 0
    with sqlite3.connect(mixed / "history.db") as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == history_db.SCHEMA_VERSION
    assert inputs_recorded(mixed) == [[], [("source", 100), ("source.include[0]", 10)]]
    (mixed / "contractors.csv").write_text(contractors(5), encoding="utf-8")
    assert run("audit", "--now", "2026-11-29T00:00:00Z", "-q", cwd=mixed).returncode == 4


def test_a_run_recorded_at_a_later_instant_is_not_what_a_run_follows(mixed: Path, run: Run) -> None:
    """A run with a --now in the future, once recorded, must not become every later run's
    measure: an accepted drop holds for the runs after it, and a report of the past
    reproduces."""
    assert run("audit", "--now", "2030-01-01T00:00:00Z", "-q", cwd=mixed).returncode == 0
    assert run("audit", "--now", NOW, "-q", cwd=mixed).returncode == 0
    (mixed / "contractors.csv").write_text(contractors(5), encoding="utf-8")
    refused = run("audit", "--now", "2026-11-29T00:00:00Z", "-q", cwd=mixed)
    assert refused.returncode == 4
    accepted = run("audit", "--now", "2026-11-29T00:00:00Z", "--accept-source-drop", cwd=mixed)
    assert accepted.returncode == 0, accepted.stderr
    assert (
        "accepted for this run (--accept-source-drop): source input source.include[0]"
        " (contractors.csv) returned 5 identities, 50.0% fewer than the 10"
    ) in accepted.stderr, "an accepted drop is said, not passed over in silence"
    for day in ("2026-11-30T00:00:00Z", "2026-11-29T00:00:00Z"):
        again = run("audit", "--now", day, "-q", cwd=mixed)
        assert again.returncode == 0, (day, again.stderr)
    late = run("audit", "--now", "2030-01-02T00:00:00Z", "-q", cwd=mixed)
    assert late.returncode == 4, "after 2030-01-01 the run of that day is the measure"


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        ("DROP TABLE run_inputs", "no such table: run_inputs"),
        ("UPDATE run_inputs SET records = -3", "an input's record count holds -3"),
        ("UPDATE run_inputs SET records = 'ten'", "an input's record count holds 'ten'"),
    ],
)
def test_a_damaged_count_per_input_is_refused_by_every_command(
    mixed: Path, run: Run, edit: str, words: str
) -> None:
    """Read-only commands as well as the audit: a history that cannot say what an input
    held is never taken to mean there is nothing to compare with."""
    assert run("audit", "--now", NOW, "-q", cwd=mixed).returncode == 0
    with sqlite3.connect(mixed / "history.db") as db:
        db.execute(edit)
    db.close()
    (mixed / "contractors.csv").write_text(contractors(1), encoding="utf-8")
    for command in (["audit"], ["plan", "-o", "plan.json"], ["baseline", "-o", "b.json"]):
        refused = run(*command, "--now", "2026-11-29T00:00:00Z", "-q", cwd=mixed)
        assert refused.returncode == 2, (command, refused.stderr)
        assert words in refused.stderr and "history.db" in refused.stderr
    assert not (mixed / "plan.json").exists() and not (mixed / "b.json").exists()
