"""The columnar engine where a careful reader found it parting from the usual reading:
names that differ only in case, the ``version`` tag, ``protected`` entries on the source,
a header too long to read, a limit of zero days, warnings before an error, and a signal
while DuckDB runs a query. Each case holds the engine to the usual reading's result."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from nhirecon.columnar import decide as deciding
from nhirecon.columnar import engine, export
from nhirecon.columnar.engine import Triaged
from nhirecon.core.report import Report
from nhirecon.errors import DataError

from .test_columnar_export import (
    APP,
    APP_HEADER,
    APP_MAP,
    HR,
    HR_HEADER,
    HR_MAP,
    NOW,
    Engine,
    Estate,
    app_lines,
    check,
    csv_text,
    hr_lines,
    outcome,
    read_all,
    same_result,
    triage_outcome,
    triaged,
)

SPILL_LIMIT = "64MB"
SPILL_PIECE = 4 << 20
SPILL_ROWS = 1_000_000
"""An estate of 92 MiB of CSV, whose tables in the engine outgrow ``SPILL_LIMIT``
(without a directory to spill to, DuckDB fails on it). At 40 MB and 600,000 rows, the
duplicate-id aggregate of one export and the other's statements, side by side, sometimes
needed more than the limit at once: about one run in ten on a busy machine."""


def test_fields_whose_names_differ_only_in_case_keep_their_own_values(tmp_path: Path) -> None:
    """DuckDB compares column names without case: ``Email`` and ``email`` are two fields."""
    hr = csv_text("id,email,alias", ["E1,a@example.com,ann", "E2,b@example.com,bob"])
    app = csv_text("uid,email,alias", ["u1,a@example.com,zed", "u2,b@example.com,bob"])
    estate = Estate(
        hr=hr,
        app=app,
        source={"map": {"id": "id", "email": "email", "Email": "alias"}},
        target={
            "map": {"id": "uid", "email": "email", "Email": "alias"},
            "correlate": [{"account": "Email", "identity": "Email"}],
        },
    )
    report = check(estate, tmp_path, Engine.READS, report=True)
    assert isinstance(report, Report)
    assert [finding.account.id for finding in report.findings if finding.account] == ["u1"]


def test_compare_on_a_name_that_differs_only_in_case(tmp_path: Path) -> None:
    hr = csv_text("id,email,d1,d2", ["E1,a@example.com,Sales,Legal"])
    app = csv_text("uid,email,d1,d2", ["u1,a@example.com,Sales,Data"])
    fields = {"email": "email", "dept": "d1", "Dept": "d2"}
    estate = Estate(
        hr=hr,
        app=app,
        source={"map": {"id": "id", **fields}},
        target={"map": {"id": "uid", **fields}, "compare": ["Dept"]},
    )
    report = check(estate, tmp_path, Engine.READS, report=True)
    assert isinstance(report, Report)
    assert [finding.kind.value for finding in report.findings] == ["stale-attribute"]


def test_correlation_on_the_version_tag_is_left_to_the_usual_reading(tmp_path: Path) -> None:
    """``version`` is read from a CSV by default, but a record holds no such field."""
    estate = Estate(
        hr=csv_text("id,email,version", ["E1,a@example.com,v1"]),
        app=csv_text("uid,email,version", ["u1,zz@example.com,v1"]),
        source={"map": {"id": "id", "email": "email"}},
        target={
            "map": {"id": "uid", "email": "email"},
            "correlate": [{"account": "version", "identity": "version"}],
        },
    )
    report = check(estate, tmp_path, Engine.REFUSES, report=True)
    assert isinstance(report, Report)
    assert [finding.kind.value for finding in report.findings] == ["orphan"]


def test_an_exception_on_the_source_that_names_two_identities(tmp_path: Path) -> None:
    estate = Estate(
        hr=csv_text("id,email,login", ["bob,a@example.com,a", "E2,b@example.com,bob"]),
        app=csv_text("uid,email", ["u1,a@example.com"]),
        source={"map": {"id": "id", "email": "email", "username": "login"}},
        target={"map": {"id": "uid", "email": "email"}},
        more={
            "exceptions": [
                {"target": "hr", "account": "bob", "reason": "r", "owner": "o@example.com"}
                | {"expires": "2027-06-30"}
            ]
        },
    )
    report = check(estate, tmp_path, Engine.READS, report=True)
    assert isinstance(report, Report)
    assert [(entry.entry, entry.accounts) for entry in report.allowlist] == [("bob", ("E2", "bob"))]


def test_a_header_of_a_mebibyte_or_more_is_left_to_the_usual_reading(tmp_path: Path) -> None:
    names = [f"c{i:02d}_" + "x" * 100_000 for i in range(11)]
    header, *rows = HR.rstrip("\n").split("\n")
    hr = csv_text(",".join([header, *names]), [row + "," * len(names) for row in rows])
    assert len(hr.split("\n", 1)[0]) > 1 << 20
    check(Estate(hr=hr), tmp_path, Engine.REFUSES, report=True)


@pytest.mark.parametrize(
    ("form", "date"),
    [("filetime", "①"), ("filetime", "9" * 4400), ("epoch", "9" * 4400)],
)
def test_the_first_faulty_row_fails_first_whatever_a_later_date_holds(
    tmp_path: Path, form: str, date: str
) -> None:
    """A row without an id before a date its reader refuses: both readings name the row
    without an id (a date of more than 4,300 digits, or a digit that is not decimal, once
    escaped the reader as an internal error)."""
    hr = csv_text("id,email,hired", [",a@example.com,", f"E2,b@example.com,{date}"])
    estate = Estate(
        hr=hr,
        source={"map": {"id": "id", "email": "email", "created_at": "hired"}, "date_format": form},
    )
    found = check(estate, tmp_path, Engine.RAISES, report=False)
    assert found == (DataError, f"{tmp_path / 'hr.csv'}:2: no value for id (column 'id')")


def _kinds(report: Report) -> list[str]:
    return sorted(f"{finding.kind.value}:{finding.subject_id}" for finding in report.findings)


PEOPLE_AND_A_SERVICE = csv_text(
    "id,email,name,status,kind",
    [
        *(f"E{i},user{i}@example.com,User {i},active,human" for i in range(6)),
        "S1,svc1@example.com,Svc 1,active,service_account",
    ],
)
KINDS_MAP = {**HR_MAP, "kind": "kind"}
USE_MAP = {
    "id": "id",
    "email": "email",
    "active": "active",
    "kind": "kind",
    "password_enabled": "password",
    "last_interactive_login_at": "console",
    "title": "title",
}


def _use_findings(folder: Path, row: str) -> list[str]:
    """The findings (``kind:id``) of five people's plain accounts and ``row``, which both
    engines must report alike."""
    app = csv_text(
        "id,email,active,kind,password,console,title",
        [*(f"A{i},user{i}@example.com,true,human,false,,Analyst" for i in range(5)), row],
    )
    estate = Estate(
        hr=PEOPLE_AND_A_SERVICE, app=app, source={"map": KINDS_MAP}, target={"map": USE_MAP}
    )
    report = check(estate, folder, Engine.READS, report=True)
    assert isinstance(report, Report)
    return _kinds(report)


@pytest.mark.parametrize(
    "moment",
    [
        "1970-01-01T00:00:00.000Z",
        "1970-01-01T00:00:00Z",
        "1969-12-31T19:00:00-05:00",
        "1970-01-01T05:30:00+05:30",
        "1970-01-01",
    ],
)
def test_the_unix_epoch_is_never_signed_in_alike(tmp_path: Path, moment: str) -> None:
    """Google writes a user who never signed in as ``1970-01-01T00:00:00.000Z``: no date,
    in every spelling of that instant, for either engine (a date of 1971 or later is the
    engine's own to read)."""
    lines = [line for line in app_lines() if not line.startswith("A3,")]
    app = csv_text(APP_HEADER, [*lines, f"A3,user3@example.com,true,{moment}"])
    report = check(Estate(app=app), tmp_path, Engine.READS, report=True)
    assert isinstance(report, Report)
    assert [f.kind.value for f in report.findings if f.subject_id == "A3"] == []  # not dormant
    assert {f.subject_id for f in report.findings if f.kind.value == "dormant"} == {"AD1"}


def test_the_unix_epoch_as_an_expiry_or_a_rotation_is_a_date_long_past(tmp_path: Path) -> None:
    """Only a date of last use reads the epoch as "never": an account that expired, or a
    key last rotated, at the epoch is reported, not left out (fails closed)."""
    header = "id,email,active,last_login,expires,rotated"
    lines = [f"A{i},user{i}@example.com,true,2026-11-20,," for i in range(12)]
    epoch = "1970-01-01T00:00:00Z"
    lines[3] = f"A3,user3@example.com,true,2026-11-20,{epoch},{epoch}"
    target = {"map": {**APP_MAP, "expires_at": "expires", "credential_rotated_at": "rotated"}}
    estate = Estate(app=csv_text(header, lines), target=target)
    report = check(estate, tmp_path, Engine.READS, report=True)
    assert isinstance(report, Report)
    assert sorted(f.kind.value for f in report.findings if f.subject_id == "A3") == [
        "expired",
        "stale-credential",
    ]


@pytest.mark.parametrize(
    ("kind", "password", "console", "fires"),
    [
        ("service_account", "true", "", True),
        ("service_account", "false", "2026-08-29T23:00:00-12:00", True),
        ("service_account", "false", "2026-08-30T01:00:00Z", True),
        ("service_account", "false", "2026-08-29T23:00:00Z", False),
        ("service_account", "false", "", False),
        ("human", "true", "2026-11-27", False),
    ],
)
def test_a_non_human_account_is_kept_when_it_may_be_used_like_a_person(
    tmp_path: Path, kind: str, password: str, console: str, fires: bool
) -> None:
    """``human-use``: an interactive password, or an interactive sign-in within the
    dormancy limit (90 days before 2026-11-28T00:00Z is 2026-08-30T00:00Z; the first
    sign-in is written on the 29th, in its own zone, and is after it)."""
    found = _use_findings(
        tmp_path, f"A5,user5@example.com,true,{kind},{password},{console},Analyst"
    )
    assert ("human-use:A5" in found) is fires


def test_an_account_of_a_non_human_identity_is_kept_when_it_has_a_password(
    tmp_path: Path,
) -> None:
    assert "human-use:A6" in _use_findings(tmp_path, "A6,svc1@example.com,true,human,true,,Analyst")


@pytest.mark.parametrize(
    ("theirs", "ours", "drifts"),
    [
        ("Data Analyst", "DATA  ANALYST", False),
        ("Data Analyst", "data analyst", False),
        ("Data Analyst", "DataAnalyst", True),
        ("Data Analyst", "Data Analysts", True),
        ("Data  Analyst", "Data_Analyst", True),
    ],
)
def test_compare_forgives_case_and_runs_of_spaces_and_nothing_else(
    tmp_path: Path, theirs: str, ours: str, drifts: bool
) -> None:
    hr = csv_text(
        "id,email,name,status,title",
        [f"E{i},user{i}@example.com,U,active,{theirs}" for i in range(6)],
    )
    app = csv_text(
        "id,email,active,last_login,title",
        [f"A{i},user{i}@example.com,true,2026-11-01,{theirs if i else ours}" for i in range(6)],
    )
    estate = Estate(
        hr=hr,
        app=app,
        source={"map": {**HR_MAP, "title": "title"}},
        target={"map": {**APP_MAP, "title": "title"}, "compare": ["title"]},
    )
    report = check(estate, tmp_path, Engine.READS, report=True)
    assert isinstance(report, Report)
    assert ("stale-attribute:A0" in _kinds(report)) is drifts


@pytest.mark.parametrize(
    ("now", "days"),
    [
        (datetime(1, 1, 3, tzinfo=UTC), 2),
        (datetime(1, 1, 1, tzinfo=UTC), 0),
        (datetime(9999, 12, 31, 23, tzinfo=UTC), 0),
    ],
)
def test_limits_beyond_the_ends_of_the_calendar(tmp_path: Path, now: datetime, days: int) -> None:
    """A clock on the calendar's first or last days puts the dormancy and rotation limits,
    and the margins the engine keeps around them, past its ends; both engines still report
    alike."""
    hr = csv_text(
        "id,email,kind", ["E1,a@x.com,human", "E2,b@x.com,service_account", "E3,c@x.com,human"]
    )
    app = csv_text(
        "id,email,kind,last_login,console,rotated,expires",
        [
            "u1,a@x.com,human,2000-01-01,,2000-01-01,",
            "u2,b@x.com,service_account,,2000-01-02,,",
            "u3,c@x.com,human,,,,2000-06-01",
        ],
    )
    estate = Estate(
        hr=hr,
        app=app,
        source={"map": {"id": "id", "email": "email", "kind": "kind"}},
        target={
            "map": {
                "id": "id",
                "email": "email",
                "kind": "kind",
                "last_login_at": "last_login",
                "last_interactive_login_at": "console",
                "credential_rotated_at": "rotated",
                "expires_at": "expires",
            }
        },
        more={"policy": {"dormant_days": days, "credential_max_age_days": days}},
    )
    config = estate.config(tmp_path)
    assert isinstance(same_result(config, now), Report)
    assert isinstance(triage_outcome(config, now), Triaged)


@pytest.mark.parametrize("limit", ["dormant_days", "credential_max_age_days"])
def test_a_limit_of_zero_days(tmp_path: Path, limit: str) -> None:
    check(Estate(more={"policy": {limit: 0}}), tmp_path, Engine.READS, report=True)


def test_header_warnings_come_before_the_error_they_precede(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A mapped column the header lacks is a warning; a row that fails next is the error.
    Both engines say both, in that order."""
    hr = csv_text("id,email,kind", ["E1,a@example.com,robot", "E2,b@example.com,human"])
    config = Estate(
        hr=hr,
        app=csv_text("uid,email", ["u1,a@example.com"]),
        source={"map": {"id": "id", "email": "email", "kind": "kind", "title": "job_title"}},
        target={"map": {"id": "uid", "email": "email"}},
    ).config(tmp_path)
    said = {}
    for name in ("python", "columnar"):
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            result = outcome(config, name)
        said[name] = (result, [record.getMessage() for record in caplog.records])
    assert said["columnar"] == said["python"]
    result, messages = said["python"]
    assert not isinstance(result, Report)
    assert any("job_title" in message for message in messages)


def test_a_signal_while_duckdb_runs_stops_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DuckDB answers an interrupted query with an error of its own; the run stops as a
    Ctrl-C stops it (exit 130), and is not read the usual way instead."""
    config = Estate(hr=HR, app=APP).config(tmp_path)

    def slow(con: duckdb.DuckDBPyConnection, *args: object, **kwargs: object) -> object:
        threading.Timer(0.2, con.interrupt).start()
        con.execute("SELECT sum(hash(i // 3)) FROM range(20000000000) AS t(i)").fetchall()
        raise AssertionError("the query was not interrupted")

    monkeypatch.setattr(deciding, "decide", slow)
    monkeypatch.setattr(engine.deciding, "decide", slow)
    with pytest.raises(KeyboardInterrupt):
        triaged(config)


def test_an_estate_larger_than_the_memory_limit_spills_rather_than_steps_aside(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The engine's tables outgrow its memory limit at ten million rows; DuckDB must
    write them to its temporary directory then, not fail and leave every row to Python
    (whose records of ten million rows would not fit). Here the limit is made small enough
    for a small estate to outgrow it, and the pieces an export is read in small enough
    that two read side by side (DuckDB splits each in memory) stay well under it."""
    monkeypatch.setattr(engine, "MEMORY_LIMIT", SPILL_LIMIT)
    monkeypatch.setattr(export, "PIECE_BYTES", SPILL_PIECE)
    config = Estate(
        hr=csv_text(HR_HEADER, hr_lines(SPILL_ROWS)),
        app=csv_text(APP_HEADER, app_lines(SPILL_ROWS)),
    ).config(tmp_path)
    with caplog.at_level(logging.INFO):
        found = triaged(config)
    assert isinstance(found, Triaged), [record.getMessage() for record in caplog.records]
    assert read_all(found) is None
    assert found.targets["app"].total == SPILL_ROWS + 4


def test_auto_says_why_a_small_estate_is_read_the_usual_way(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """``-v`` tells a user of ``--engine auto`` why the engine did not run."""
    config = Estate(hr=HR, app=APP).config(tmp_path)
    with caplog.at_level(logging.DEBUG, logger="nhirecon.columnar.engine"):
        found = engine.triage(config, config.targets, NOW, lambda label, count: None)
    assert found is None
    assert [
        record.getMessage() for record in caplog.records if "not used" in record.getMessage()
    ] == [
        f"columnar engine not used: the exports hold {size(tmp_path)} bytes, under"
        f" {engine.MIN_BYTES} (--engine columnar uses it at any size)"
    ]


def size(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.glob("*.csv"))
