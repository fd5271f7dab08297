"""The columnar engine (:mod:`nhirecon.columnar`) against the usual reading, on real files
and the real pipeline.

- An input the engine does not read exactly as the CSV connector does (another encoding,
  a NUL, a bare carriage return, a quoted cell over two lines, a preamble line, a ragged
  row, a repeated id, a filter, merged rows, several columns for a field, no rows, several
  source inputs, another connector, ...) is refused: ``triage`` gives ``None``, and the
  audit's result, a report or an error, is the one the usual reading gives.
- An input it reads gives the same report, finding for finding and line for line (a UTF-8
  byte-order mark, quoted cells, another delimiter, blank lines, other date formats,
  ``null_values``, non-ASCII values, dates at every limit in far-off zones); a row the
  mapping refuses is the same error, naming the same file and line.
- A date the engine reads as plain is one the date reader takes, in any zone, within a
  day of the date as written.
- On a mostly clean estate the engine is used and keeps only some of the rows, so the
  comparisons above are not between two runs of the usual reading.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import Enum
from pathlib import Path
from types import MappingProxyType
from typing import Any

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nhirecon import pipeline
from nhirecon.columnar.engine import Triaged, triage
from nhirecon.columnar.values import ASCII_LINE, FIRST_YEAR, ISO, LAST_YEAR, field_sql
from nhirecon.config import Config
from nhirecon.config.load import load
from nhirecon.connectors.context import ConnectorContext, ValueOptions
from nhirecon.connectors.dates import date_reader, time_zone
from nhirecon.connectors.readers import Readers
from nhirecon.core.model import FindingKind, Origin
from nhirecon.core.report import Report
from nhirecon.core.values import FALSE_WORDS, KINDS, TRUE_WORDS, ValueError_

NOW = datetime(2026, 11, 28, tzinfo=UTC)

Content = str | bytes
Outcome = Report | tuple[type[BaseException], str]

# --- an estate of CSV exports ----------------------------------------------------------------

HR_HEADER = "id,email,name,status"
APP_HEADER = "id,email,active,last_login"
HR_MAP = {"id": "id", "email": "email", "display_name": "name", "status": "status"}
APP_MAP = {"id": "id", "email": "email", "active": "active", "last_login_at": "last_login"}
BY_EMAIL = [{"account": "email", "identity": "email"}]


def hr_lines(count: int = 12) -> list[str]:
    """People, all active but one leaver."""
    lines = [f"E{i},user{i}@example.com,User {i},active" for i in range(count)]
    return [*lines, "EL1,leaver@example.com,Lee Ver,terminated"]


def app_lines(count: int = 12) -> list[str]:
    """Their accounts, and a leaver's, an orphan, an inactive second account and an
    active dormant second account."""
    lines = [f"A{i},user{i}@example.com,true,2026-11-{i % 20 + 1:02d}" for i in range(count)]
    return [
        *lines,
        "AL1,leaver@example.com,true,2026-11-20",
        "AO1,orphan@example.com,true,2026-11-02",
        "AS1,user1@example.com,false,2026-01-05",
        "AD1,user2@example.com,true,2025-06-01",
    ]


def csv_text(header: str, lines: Sequence[str], end: str = "\n") -> str:
    return end.join([header, *lines]) + end


HR = csv_text(HR_HEADER, hr_lines())
APP = csv_text(APP_HEADER, app_lines())


def replaced(text: str, old: str, new: str) -> str:
    """``text`` with its one ``old`` replaced (a case that does not change what it says
    it changes is a broken case)."""
    assert text.count(old) == 1, old
    return text.replace(old, new)


def _merged(base: Mapping[str, Any], more: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` updated by ``more``; a key set to ``None`` in ``more`` is removed."""
    merged = {**base, **more}
    return {key: value for key, value in merged.items() if value is not None}


@dataclass(frozen=True)
class Estate:
    """A source export ``hr.csv``, a target export ``app.csv``, any other files, and the
    config that reads them."""

    hr: Content = HR
    app: Content = APP
    source: Mapping[str, Any] = field(default_factory=dict)
    target: Mapping[str, Any] = field(default_factory=dict)
    files: Mapping[str, Content] = field(default_factory=dict)
    more: Mapping[str, Any] = field(default_factory=dict)

    def config(self, folder: Path) -> Config:
        for name, content in {"hr.csv": self.hr, "app.csv": self.app, **self.files}.items():
            data = content.encode("utf-8") if isinstance(content, str) else content
            (folder / name).write_bytes(data)
        source = {"name": "hr", "connector": "csv", "path": "hr.csv", "map": HR_MAP}
        target = {
            "name": "app",
            "connector": "csv",
            "path": "app.csv",
            "map": APP_MAP,
            "correlate": BY_EMAIL,
        }
        document = {
            "version": 1,
            "source": _merged(source, self.source),
            "targets": [_merged(target, self.target)],
            **self.more,
        }
        path = folder / "nhirecon.yaml"
        path.write_text(json.dumps(document, indent=2, ensure_ascii=False), encoding="utf-8")
        return load(path)


def outcome(config: Config, engine: pipeline.Engine, now: datetime = NOW) -> Outcome:
    """The report of an audit, or the type and message of the error that ended it."""
    try:
        return pipeline.audit(config, now=now, engine=engine)
    except Exception as exc:
        return type(exc), str(exc)


def triaged(config: Config, now: datetime = NOW) -> Triaged | None:
    return triage(config, config.targets, now, lambda *_: None, min_bytes=0)


def triage_outcome(config: Config, now: datetime = NOW) -> Triaged | Outcome | None:
    try:
        return triaged(config, now)
    except Exception as exc:
        return type(exc), str(exc)


def assert_same(got: Outcome, expected: Outcome) -> None:
    """The two results are equal; for two reports, the counts and the findings are
    compared first, so that a difference is shown where it is."""
    if isinstance(got, Report) and isinstance(expected, Report):
        assert got.identities == expected.identities
        assert got.targets == expected.targets
        assert [(f.kind, f.target, f.message) for f in got.findings] == [
            (f.kind, f.target, f.message) for f in expected.findings
        ]
        assert got.findings == expected.findings
        assert got.source_evidence == expected.source_evidence
    assert got == expected


def same_result(config: Config, now: datetime = NOW) -> Outcome:
    """The usual reading's result, once the columnar engine's is found equal to it."""
    expected = outcome(config, "python", now)
    assert_same(outcome(config, "columnar", now), expected)
    return expected


class Engine(Enum):
    REFUSES = "refuses"
    """``triage`` gives ``None``: every row is read the usual way."""
    READS = "reads"
    """``triage`` reads the estate."""
    RAISES = "raises"
    """``triage`` reads the estate, and its records meet the error the usual reading meets
    (a target's when the audit reaches it, as the usual reading does)."""


def check(estate: Estate, folder: Path, engine: Engine, *, report: bool) -> Outcome:
    """The engine does ``engine`` with the estate, and the audit's result is the usual
    one: a report when ``report``, else an error."""
    config = estate.config(folder)
    expected = same_result(config)
    assert isinstance(expected, Report) is report, expected
    found = triage_outcome(config)
    if engine is Engine.REFUSES:
        assert found is None
    elif engine is Engine.READS:
        assert isinstance(found, Triaged)
    else:
        assert isinstance(found, Triaged)
        assert read_all(found) == expected
    return expected


def read_all(found: Triaged) -> Outcome | None:
    """The records of every input, in the audit's order; the error that stops them."""
    try:
        for pulled in (found.source, *found.targets.values()):
            list(pulled)
    except Exception as exc:
        return type(exc), str(exc)
    return None


# --- inputs the engine refuses ---------------------------------------------------------------

CP1252_HR = replaced(HR, "User 3,", "José Müller,").encode("cp1252")
EXPORTED = "#TYPE Selected.Microsoft.ActiveDirectory.Management.ADUser\n"
NHI = csv_text("nid,login,type,owner", ["N1,deploy-bot,service_account,user1@example.com"])
APP_JSON = json.dumps(
    [
        {"id": "A1", "email": "user1@example.com", "active": True},
        {"id": "A2", "email": "nobody@example.com", "active": True},
    ]
)
HUGE_CELL = "x" * ((1 << 20) + 10)

REFUSED = [
    pytest.param(Estate(hr=HR.encode("utf-16")), True, id="utf-16-with-mark-source"),
    pytest.param(Estate(app=b"\xfe\xff" + APP.encode("utf-16-be")), True, id="utf-16-be-target"),
    pytest.param(Estate(app=APP.encode("utf-32")), True, id="utf-32-with-mark"),
    pytest.param(Estate(app=APP.encode("utf-16-le")), False, id="utf-16-without-mark"),
    pytest.param(Estate(hr=CP1252_HR), False, id="cp1252-bytes-without-encoding"),
    pytest.param(Estate(hr=CP1252_HR, source={"encoding": "cp1252"}), True, id="encoding-cp1252"),
    pytest.param(Estate(source={"encoding": "utf-8"}), True, id="encoding-utf-8"),
    pytest.param(
        Estate(
            hr=replaced(HR, "user3@example.com,User 3", "us\u00e9r3@example.com,J\u00f6rg"),
            app=replaced(APP, "user3@example.com", "us\u00e9r3@example.com"),
            source={"encoding": "cp1252"},
            target={"encoding": "cp1252"},
        ),
        True,
        id="encoding-cp1252-on-utf-8-text",
    ),
    pytest.param(Estate(target={"encoding": "utf-8-sig"}), True, id="encoding-utf-8-sig"),
    pytest.param(Estate(app=replaced(APP, "user4@", "us\x00er4@")), False, id="nul-byte"),
    pytest.param(
        Estate(app=replaced(APP, "2026-11-05\nA5", "2026-11-05\rA5")),
        True,
        id="bare-cr-ends-a-line",
    ),
    pytest.param(
        Estate(hr=replaced(HR, "User 3,", '"User\r3",')), True, id="bare-cr-in-a-quoted-cell"
    ),
    pytest.param(
        Estate(hr=replaced(HR, "User 3,", "User\r3,")), False, id="bare-cr-in-an-unquoted-cell"
    ),
    pytest.param(
        Estate(hr=replaced(HR, "User 3,", '"User\n3",')), True, id="quoted-cell-over-two-lines"
    ),
    pytest.param(
        Estate(app=replaced(APP, "user7@example.com,", '"user7@example.com,\n",')),
        True,
        id="quoted-cell-ending-on-the-next-line",
    ),
    pytest.param(Estate(app=replaced(APP, "A4,user4@", 'A4,"user4@')), False, id="unclosed-quote"),
    pytest.param(
        Estate(app=replaced(APP, "A4,user4@example.com,", 'A4,"user4"@example.com,')),
        False,
        id="text-after-a-closing-quote",
    ),
    pytest.param(
        Estate(app=replaced(APP, "A4,user4@example.com,true,2026-11-05", "A4,user4@example.com")),
        False,
        id="ragged-row-too-few",
    ),
    pytest.param(
        Estate(app=replaced(APP, "2026-11-05\n", "2026-11-05,extra\n")),
        False,
        id="ragged-row-too-many",
    ),
    pytest.param(
        Estate(app=replaced(APP, "A4,user4@example.com,true,2026-11-05", 'A4,"user4@example.com"')),
        False,
        id="ragged-quoted-row",
    ),
    pytest.param(
        Estate(app=replaced(APP, "A4,user4@example.com,true,2026-11-05", ",")),
        False,
        id="ragged-row-of-a-delimiter",
    ),
    pytest.param(Estate(app=EXPORTED + APP), True, id="powershell-type-line"),
    pytest.param(
        Estate(app="#TYPE Selected.User,Name,Mail,Enabled\n" + APP),
        True,
        id="powershell-type-line-as-wide-as-the-header",
    ),
    pytest.param(Estate(app="sep=;\n" + APP.replace(",", ";")), True, id="excel-sep-line"),
    pytest.param(Estate(hr='"sep=,"\r\n' + HR), True, id="quoted-excel-sep-line"),
    pytest.param(
        Estate(app=EXPORTED + "sep=;\n" + APP.replace(",", ";")), True, id="type-and-sep-lines"
    ),
    pytest.param(
        Estate(hr=replaced(HR, "E5,user5", "E3,user5")), False, id="repeated-id-in-the-source"
    ),
    pytest.param(
        Estate(app=replaced(APP, "A5,user5", "A4,user5")), False, id="repeated-id-in-the-target"
    ),
    pytest.param(
        Estate(app=replaced(replaced(APP, "A5,user5", ",user5"), "A6,user6", ",user6")),
        False,
        id="two-empty-ids",
    ),
    pytest.param(
        Estate(app=replaced(APP, "A5,user5", '"A4",user5')), False, id="repeated-id-quoted-once"
    ),
    pytest.param(Estate(target={"where": {"active": ["true"]}}), True, id="where"),
    pytest.param(
        Estate(target={"where_not": {"email": ["orphan@example.com"]}}), True, id="where-not"
    ),
    pytest.param(
        Estate(hr=HR + "E3,user3@example.com,User 3,active\n", source={"repeated_rows": "merge"}),
        True,
        id="merged-rows-in-the-source",
    ),
    pytest.param(
        Estate(
            app=csv_text(
                "id,email,active,groups",
                [
                    "A1,user1@example.com,true,eng",
                    "A1,user1@example.com,true,ops",
                    "A2,nobody@example.com,true,eng",
                ],
            ),
            target={
                "map": {"id": "id", "email": "email", "groups": "groups"},
                "repeated_rows": "merge",
            },
        ),
        True,
        id="merged-rows",
    ),
    pytest.param(
        Estate(
            app=csv_text(
                "id,email,alt_email,active",
                ["A1,user1@example.com,,true", "A2,x@example.com,user2@example.com,true"],
            ),
            target={"map": {"id": "id", "email": ["email", "alt_email"], "active": "active"}},
        ),
        True,
        id="email-from-two-columns",
    ),
    pytest.param(
        Estate(
            app=csv_text(
                "id,email,last_login,last_seen",
                ["A1,user1@example.com,2026-01-01,2026-11-01", "A2,user2@example.com,,2025-01-01"],
            ),
            target={
                "map": {"id": "id", "email": "email", "last_login_at": ["last_login", "last_seen"]}
            },
        ),
        True,
        id="last-login-from-two-columns",
    ),
    pytest.param(
        Estate(
            app=csv_text(
                "id,email,team,squad",
                ["A1,user1@example.com,eng,a", "A2,user2@example.com,ops,b"],
            ),
            target={"map": {"id": "id", "email": "email", "team": ["team", "squad"]}},
        ),
        True,
        id="custom-attribute-from-two-columns",
    ),
    pytest.param(Estate(hr=HR_HEADER + "\n"), False, id="header-only-source"),
    pytest.param(Estate(app=APP_HEADER + "\n"), True, id="header-only-target"),
    pytest.param(Estate(app=APP_HEADER + "\n\n  \n"), True, id="header-and-blank-lines-target"),
    pytest.param(Estate(app=b""), False, id="empty-target-file"),
    pytest.param(Estate(target={"path": "missing.csv"}), False, id="missing-target-file"),
    pytest.param(
        Estate(
            source={
                "include": [
                    {
                        "connector": "csv",
                        "path": "nhi.csv",
                        "map": {"id": "nid", "username": "login", "kind": "type", "owner": "owner"},
                    }
                ]
            },
            files={"nhi.csv": NHI},
        ),
        True,
        id="source-with-an-include",
    ),
    pytest.param(
        Estate(
            target={"connector": "json", "path": "app.json", "map": {"id": "id", "email": "email"}},
            files={"app.json": APP_JSON},
        ),
        True,
        id="json-target",
    ),
    pytest.param(
        Estate(
            app=csv_text("id", ["E1", "E2", "X9"]),
            target={"map": {"id": "id"}, "correlate": [{"account": "id", "identity": "id"}]},
        ),
        True,
        id="one-column-target",
    ),
    pytest.param(
        Estate(app=replaced(APP, APP_HEADER, "id,email,active,email")),
        False,
        id="a-column-named-twice",
    ),
    pytest.param(
        Estate(app=replaced(APP, APP_HEADER, "id,email,active,last_login,")),
        False,
        id="an-empty-column-name",
    ),
    pytest.param(
        Estate(
            app=replaced(
                csv_text(APP_HEADER + ",note", [f"{line}," for line in app_lines()]),
                "2026-11-06,\n",
                f"2026-11-06,{HUGE_CELL}\n",
            )
        ),
        False,
        id="a-cell-over-the-limit",
    ),
    pytest.param(
        Estate(
            hr=csv_text("id,email,name,status,groups", [f"{line},eng" for line in hr_lines()]),
            app=csv_text(
                "id,email,active,groups", [f"A{i},user{i}@example.com,true,eng" for i in range(5)]
            ),
            source={"map": {**HR_MAP, "groups": "groups"}},
            target={
                "map": {"id": "id", "email": "email", "groups": "groups"},
                "compare": ["groups"],
            },
        ),
        True,
        id="compare-on-groups",
    ),
    pytest.param(Estate(target={"compare": ["last_login_at"]}), True, id="compare-on-a-date"),
]


@pytest.mark.parametrize(("estate", "report"), REFUSED)
def test_an_input_the_engine_does_not_read_exactly_is_read_the_usual_way(
    tmp_path: Path, estate: Estate, report: bool
) -> None:
    check(estate, tmp_path, Engine.REFUSES, report=report)


# --- inputs the engine reads -----------------------------------------------------------------


def quoted(text: str) -> str:
    """Every cell of a simple CSV text quoted, as Excel may save it."""
    return "".join(
        ",".join(f'"{cell}"' for cell in line.split(",")) + "\n" for line in text.splitlines()
    )


def with_lines(text: str, after: str, *lines: str) -> str:
    """``text`` with ``lines`` inserted after the line that starts with ``after``."""
    rows = text.split("\n")
    at = next(number for number, row in enumerate(rows) if row.startswith(after))
    return "\n".join([*rows[: at + 1], *lines, *rows[at + 1 :]])


BLANKS = ("", "   ", "\t", '""', "\x0c", '" "')
PEOPLE = csv_text(
    "id,email,name,status,kind,owner,end",
    [
        *(f"E{i},user{i}@example.com,User {i},active,,," for i in range(10)),
        "E20,leaver@example.com,Lee Ver,terminated,,,",
        "E21,contractor@example.com,Con Tractor,active,,,2026-11-20",
        "E22,later@example.com,Lay Ter,active,,,2027-06-01",
        "E30,svc30@example.com,Svc Thirty,active,,,",
        "N1,deploy-bot,Deploy Bot,active,service_account,user1@example.com,",
        "N2,orphan-bot,Orphan Bot,active,service_account,nobody@example.com,",
        "N3,old-key,Old Key,active,api_key,USER2@EXAMPLE.COM,2026-01-01",
        "N4,gone-bot,Gone Bot,active,bot,leaver@example.com,",
        "N5,twin-bot,Twin Bot,active,bot,E3,",
    ],
)
PEOPLE_MAP = {
    **HR_MAP,
    "kind": "kind",
    "owner": "owner",
    "expires_at": "end",
    "username": "id",
}
ACCOUNTS = csv_text(
    "id,email,user,active,password,created,rotated,expires,credential,type",
    [
        *(f"A{i},user{i}@example.com,,true,false,2026-10-01,2026-11-01,,K{i}," for i in range(10)),
        "A20,leaver@example.com,,true,false,2026-10-01,,,,",
        "A21,contractor@example.com,,true,false,2026-10-01,,,,",
        "A22,later@example.com,,true,false,2026-01-01,,,,",
        "A23,later@example.com,,false,true,2026-10-01,2026-11-01,,KA23,bot",
        "A24,user9@example.com,,true,true,2026-10-01,2026-11-01,,KA24,service_account",
        "A30,svc30@example.com,,true,true,2026-10-01,2026-11-01,,KA30,service_account",
        "B1,,N1,true,true,2026-10-01,2026-11-01,,KB1,",
        "B2,,N2,true,false,2026-10-01,2026-11-01,,KB2,",
        "B3,,n3,true,false,2026-10-01,2025-01-01,,KB3,",
        "B5,,N5,false,false,2026-10-01,2026-11-01,,K5,",
        "B6,,ghost-bot,true,false,2026-10-01,2026-11-01,2026-12-01,KB6,",
        "B7,,ghost-bot-2,false,true,2026-10-01,2026-11-01,2026-11-27,KB7,",
    ],
)
ACCOUNTS_MAP = {
    "id": "id",
    "email": "email",
    "username": "user",
    "active": "active",
    "password_enabled": "password",
    "created_at": "created",
    "credential_rotated_at": "rotated",
    "expires_at": "expires",
    "credential_id": "credential",
    "kind": "type",
}
BY_EMAIL_THEN_USERNAME = [*BY_EMAIL, {"account": "username", "identity": "username"}]
NON_HUMAN = Estate(
    hr=PEOPLE,
    app=ACCOUNTS,
    source={"map": PEOPLE_MAP},
    target={"map": ACCOUNTS_MAP, "correlate": BY_EMAIL_THEN_USERNAME},
)
WORDS = Estate(
    app=csv_text(
        "id,email,state,via,type,last_login",
        [
            *(f"A{i},user{i}@example.com,ENABLED,sso,Employee,2026-11-01" for i in range(6)),
            "A6,user6@example.com,Locked,SCIM,employee,2026-11-01",
            "A7,user7@example.com,disabled,admin,svc,2026-11-01",
            "A8,user8@example.com,enabled,SSO,human,2026-11-01",
            "A9,user9@example.com,enabled,unknown,employee,2026-11-01",
            "A10,x@example.com,enabled,manual,employee,2026-11-01",
        ],
    ),
    target={
        "map": {
            "id": "id",
            "email": "email",
            "active": "state",
            "origin": "via",
            "kind": "type",
            "last_login_at": "last_login",
        },
        "active_values": {"active": ["enabled", "LOCKED"], "inactive": ["Disabled"]},
        "origin_values": {"jit": ["sso"], "scim": ["scim"], "manual": ["admin"]},
        "kind_values": {"human": ["employee"], "service_account": ["SVC"]},
    },
)
NULLS = ["N/A", "-", "never", "none"]
WITH_NULLS = Estate(
    hr=csv_text(
        "id,email,name,status,dept",
        [
            *(f"E{i},user{i}@example.com,User {i},active,eng" for i in range(8)),
            "E8,N/A,User 8,active,eng",
            "E9,user9@example.com,-,N/A,NONE",
            "E10,user10@example.com,User 10,never,eng",
            "E11,none,User 11,terminated,-",
        ],
    ),
    app=csv_text(
        "id,email,active,last_login,created,dept",
        [
            *(f"A{i},user{i}@example.com,true,2026-11-01,2026-01-01,eng" for i in range(8)),
            "A8,n/a,true,2026-11-01,2026-01-01,eng",
            "A9,user9@example.com,-,never,2026-01-01,NONE",
            "A10,user10@example.com,N/A,NEVER,never,eng",
            "A11,user11@example.com,true,-,2025-01-01,-",
            "A12,-,true,never,-,eng",
            "A13,user3@example.com,n/a,2026-11-01,2026-01-01,eng",
            "A14,user4@example.com,false,-,-,-",
        ],
    ),
    source={"null_values": NULLS, "map": {**HR_MAP, "department": "dept"}},
    target={
        "null_values": NULLS,
        "map": {
            **APP_MAP,
            "created_at": "created",
            "department": "dept",
        },
        "compare": ["department"],
    },
)
GROUPS = Estate(
    app=csv_text(
        "id,email,active,groups",
        [
            *(f"A{i},user{i}@example.com,true,eng;ops" for i in range(8)),
            "A8,user8@example.com,true,eng|ops",
            "A9,user9@example.com,true,",
            "A10,user10@example.com,true,n/a;-",
            "A11,user11@example.com,true,-",
            "A12,nobody@example.com,true,a;;b",
            '"A13","user3@example.com","false","x, y"',
        ],
    ),
    target={
        "null_values": NULLS,
        "map": {"id": "id", "email": "email", "active": "active", "groups": "groups"},
    },
)
SPACED = Estate(
    hr=replaced(HR, "E3,user3@example.com,User 3,", "E3, user3@example.com ,  User 3 ,"),
    app=replaced(
        replaced(APP, "A4,user4@example.com,true,", "A4,USER4@example.com , TRUE ,"),
        "A5,user5@example.com,true,2026-11-06",
        "A5,user5@example.com,true, 2025-11-06 ",
    ),
    target={"compare": ["display_name"], "map": {**APP_MAP, "display_name": "email"}},
)
DATES = Estate(
    app=csv_text(
        APP_HEADER,
        [
            "A1,user1@example.com,true,0001-01-01",
            "A2,user2@example.com,true,1601-01-01T00:00:00Z",
            "A3,user3@example.com,true,9999-12-31",
            "A4,user4@example.com,true,1699-12-31",
            "A5,user5@example.com,true,2026-11-28T10:00:00.1234567",
            "A6,user6@example.com,true,20261101",
            "A7,user7@example.com,true,2026-11-01T10:00",
            "A8,user8@example.com,true,2026-08-01T10:00:00+0200",
            "A9,user9@example.com,true,2026-08-31 23:59:59.5-09:30",
            "A10,user10@example.com,true,2026-08-30",
            "A11,user11@example.com,true,1700-01-01",
        ],
    )
)
CRM = csv_text(
    "uid,full_name,key,enabled,emp",
    [
        *(f"C{i},User {i},K{i},yes,E{i}" for i in range(10)),
        "C10,user 3,KX,yes,",
        "C11,Lee Ver,KY,yes,EL1",
        "C12,Nobody,K3,no,",
        "C13,User 4,KZ,no,E4",
        "C14,User 5,KW,yes,E99",
    ],
)
KEYS = {"E1": "K1", "E11": "K7"}
"""Credential ids of identities: E1's is its own CRM account's, E11's is E7's."""
TWO_TARGETS = Estate(
    hr=csv_text(
        "id,email,name,status,key",
        [f"{line},{KEYS.get(line.split(',')[0], '')}" for line in hr_lines()],
    ),
    source={"map": {**HR_MAP, "credential_id": "key", "emp": "id"}},
    files={"crm.csv": CRM},
    more={
        "targets": [
            {
                "name": "app",
                "connector": "csv",
                "path": "app.csv",
                "map": APP_MAP,
                "correlate": BY_EMAIL,
            },
            {
                "name": "crm",
                "connector": "csv",
                "path": "crm.csv",
                "map": {
                    "id": "uid",
                    "display_name": "full_name",
                    "credential_id": "key",
                    "active": "enabled",
                    "emp": "emp",
                },
                "correlate": [
                    {"account": "emp", "identity": "emp"},
                    {"account": "display_name", "identity": "display_name"},
                ],
            },
        ]
    },
)
READ = [
    pytest.param(Estate(), id="plain"),
    pytest.param(Estate(hr="\ufeff" + HR, app="\ufeff" + APP), id="utf-8-mark"),
    pytest.param(Estate(hr="\ufeff\ufeff" + HR), id="utf-8-mark-twice"),
    pytest.param(
        Estate(hr=HR.replace("\n", "\r\n"), app=APP.replace("\n", "\r\n")), id="crlf-line-ends"
    ),
    pytest.param(Estate(hr=HR.rstrip("\n"), app=APP.rstrip("\n")), id="no-final-line-end"),
    pytest.param(Estate(hr=quoted(HR), app=quoted(APP)), id="every-cell-quoted"),
    pytest.param(
        Estate(
            hr=replaced(HR, "User 3,", '"Smith, John ""JJ""",'),
            app=replaced(
                replaced(APP, "A4,user4@example.com,", 'A4,"user4@example.com",'),
                "AO1,orphan@example.com",
                '"AO1","orphan@example.com"',
            ),
        ),
        id="delimiters-and-quotes-inside-quotes",
    ),
    pytest.param(
        Estate(app=replaced(APP, "A4,user4@", 'A4,us"er4@')), id="a-quote-inside-an-unquoted-cell"
    ),
    pytest.param(
        Estate(
            hr=replaced(HR, "User 3,", "Smith; John,"),
            app=APP.replace(",", ";"),
            target={"delimiter": ";"},
        ),
        id="semicolon-delimiter",
    ),
    pytest.param(Estate(hr=HR.replace(",", "\t"), source={"delimiter": "\\t"}), id="tab-delimiter"),
    pytest.param(Estate(app=APP.replace(",", "|"), target={"delimiter": "|"}), id="pipe-delimiter"),
    pytest.param(
        Estate(
            hr=with_lines(HR, "E4,", *BLANKS) + "\n\n",
            app=with_lines(APP.replace("\n", "\r\n"), "A2,", "", "  \r", '""\r') + "  \r\n",
        ),
        id="blank-lines",
    ),
    pytest.param(SPACED, id="spaces-around-cells"),
    pytest.param(
        Estate(
            hr=replaced(HR, HR_HEADER, "id , email,\tname,status "),
            app=replaced(APP, APP_HEADER, '"id ", email ,active,last_login'),
        ),
        id="spaces-around-header-names",
    ),
    pytest.param(WITH_NULLS, id="null-values"),
    pytest.param(GROUPS, id="groups"),
    pytest.param(
        Estate(
            app=csv_text(
                APP_HEADER,
                [f"A{i},user{i}@example.com,true,{1795000000 - i * 900000}" for i in range(12)]
                + ["A90,x@example.com,true,never", "A91,y@example.com,true,1795000000.5"],
            ),
            target={"date_format": "epoch", "null_values": ["never"]},
        ),
        id="epoch-dates",
    ),
    pytest.param(
        Estate(
            app=csv_text(
                "id,email,active,last_login,created",
                [f"A{i},user{i}@example.com,true,0{i}.11.2026,2026-01-0{i}" for i in range(1, 9)]
                + ["A9,user9@example.com,true,,2025-01-01"],
            ),
            target={
                "date_formats": {"last_login_at": "%d.%m.%Y"},
                "map": {**APP_MAP, "created_at": "created"},
            },
        ),
        id="a-date-pattern-for-one-field",
    ),
    pytest.param(DATES, id="dates-the-engine-leaves-to-python"),
    pytest.param(NON_HUMAN, id="non-human-identities"),
    pytest.param(WORDS, id="value-words"),
    pytest.param(
        Estate(
            app=replaced(
                csv_text(APP_HEADER + ",note", [f"{line}," for line in app_lines()]),
                "2026-11-04,\n",
                "2026-11-04,\u00dcn\u00efc\u00f6d\u00e9\n",
            ),
        ),
        id="non-ascii-in-an-unmapped-column",
    ),
    pytest.param(
        Estate(
            hr=csv_text(
                "id,email,name,status,dept,title",
                [f"E{i},user{i}@example.com,User {i},active,eng,dev" for i in range(10)],
            ),
            app=csv_text(
                "id,email,name,dept,title,hrid",
                [
                    *(f"A{i},user{i}@example.com,User {i},eng,dev,E{i}" for i in range(6)),
                    "A6,user6@example.com,user  6,ENG,dev,E6",
                    "A7,user7@example.com,User 7,ops,dev,E7",
                    "A8,other8@example.com,User 8,eng,,E8",
                    "A9,user9@example.com,User 9,eng,dev,",
                    "A10,nobody@example.com,Nobody,eng,dev,E99",
                ],
            ),
            source={"map": {**HR_MAP, "department": "dept", "title": "title"}},
            target={
                "map": {
                    "id": "id",
                    "email": "email",
                    "display_name": "name",
                    "department": "dept",
                    "title": "title",
                    "external_id": "hrid",
                },
                "correlate": [{"account": "external_id", "identity": "id"}, *BY_EMAIL],
                "compare": ["display_name", "department", "title"],
            },
        ),
        id="two-rules-and-compare",
    ),
    pytest.param(
        Estate(
            more={
                "exceptions": [
                    {
                        "target": "hr",
                        "account": "user4@example.com",
                        "reason": "names an identity by its email and another by its id",
                        "owner": "sec@example.com",
                        "expires": "2027-06-30",
                    },
                    {
                        "target": "app",
                        "account": "orphan@example.com",
                        "reason": "known",
                        "owner": "sec@example.com",
                        "expires": "2027-06-30",
                    },
                    {
                        "target": "app",
                        "account": "user5@example.com",
                        "reason": "named twice",
                        "owner": "sec@example.com",
                        "expires": "2027-06-30",
                    },
                ],
                "protected": [
                    {"target": "app", "account": "AL1"},
                    {"target": "app", "account": "user2@example.com"},
                ],
            },
            hr=HR + "user4@example.com,other4@example.com,Other Four,active\n",
            app=APP + "A94,USER5@example.com,false,2026-11-01\n",
        ),
        id="allowlist",
    ),
    pytest.param(
        Estate(
            app=csv_text(
                "id,email,active,custom,team",
                [f"A{i},user{i}@example.com,true,v{i},eng" for i in range(8)]
                + ["A8,nobody@example.com,false,,"],
            ),
            source={"map": {**HR_MAP, "team": "name", 'o"dd:name': "status"}},
            target={
                "map": {
                    "id": "id",
                    "email": "email",
                    "active": "active",
                    "custom": "custom",
                    "team": "team",
                    'o"dd:name': "custom",
                },
                "compare": ["team", 'o"dd:name'],
            },
        ),
        id="custom-attributes",
    ),
    pytest.param(TWO_TARGETS, id="two-targets"),
]


@pytest.mark.parametrize("estate", READ)
def test_an_input_the_engine_reads_gives_the_same_report(tmp_path: Path, estate: Estate) -> None:
    report = check(estate, tmp_path, Engine.READS, report=True)
    assert isinstance(report, Report)
    assert report.findings


# --- rows the mapping refuses ----------------------------------------------------------------

KINDS_HR = csv_text(
    "id,email,name,status,kind",
    [f"E{i},user{i}@example.com,User {i},active,human" for i in range(6)],
)
ERRORS = [
    pytest.param(Estate(app=replaced(APP, "A5,user5", ",user5")), id="empty-id-in-the-target"),
    pytest.param(Estate(hr=replaced(HR, "E5,user5", ",user5")), id="empty-id-in-the-source"),
    pytest.param(Estate(hr=replaced(HR, "E5,user5", "   ,user5")), id="blank-id"),
    pytest.param(
        Estate(app=replaced(APP, "A5,user5", "n/a,user5"), target={"null_values": ["N/A"]}),
        id="null-word-id",
    ),
    pytest.param(
        Estate(app=replaced(APP, "A4,user4@example.com,true,2026-11-05", " , , , ")),
        id="a-row-of-blank-cells",
    ),
    pytest.param(Estate(app=replaced(APP, "2026-11-05", "yesterday")), id="bad-date"),
    pytest.param(Estate(app=replaced(APP, "2026-11-05", "2026-02-30")), id="impossible-date"),
    pytest.param(Estate(app=replaced(APP, "2026-11-05", "2026-11-05T25:00:00")), id="bad-time"),
    pytest.param(
        Estate(app=replaced(APP, "A4,user4@example.com,true", "A4,user4@example.com,maybe")),
        id="bad-boolean",
    ),
    pytest.param(
        Estate(
            app=replaced(APP, "A4,user4@example.com,true", "A4,user4@example.com,yes"),
            target={"active_values": {"active": ["true"], "inactive": ["false"]}},
        ),
        id="boolean-not-in-active-values",
    ),
    pytest.param(
        Estate(
            hr=replaced(
                KINDS_HR, "E3,user3@example.com,User 3,active,human", "E3,u3,U,active,robot"
            ),
            source={"map": {**HR_MAP, "kind": "kind"}},
        ),
        id="unknown-kind-word",
    ),
    pytest.param(
        Estate(
            app=csv_text(
                "id,email,via", ["A1,user1@example.com,scim", "A2,user2@example.com,magic"]
            ),
            target={"map": {"id": "id", "email": "email", "origin": "via"}},
        ),
        id="unknown-origin-word",
    ),
    pytest.param(
        Estate(app=replaced(APP, "2026-11-05", "soon"), target={"date_format": "epoch"}),
        id="bad-epoch",
    ),
]
HEADERS = [
    pytest.param(
        Estate(target={"map": {**APP_MAP, "active": "enabled"}}),
        id="missing-mapped-column-in-the-target",
    ),
    pytest.param(
        Estate(source={"map": {**HR_MAP, "email": "mail"}}),
        id="missing-mapped-column-in-the-source",
    ),
]


@pytest.mark.parametrize("estate", ERRORS)
def test_a_row_the_mapping_refuses_is_the_same_error(tmp_path: Path, estate: Estate) -> None:
    check(estate, tmp_path, Engine.RAISES, report=False)


@pytest.mark.parametrize("estate", HEADERS)
def test_a_header_the_mapping_refuses_is_left_to_the_usual_reading(
    tmp_path: Path, estate: Estate
) -> None:
    """The usual reading meets a header only after the rows of the inputs before it, so the
    engine steps aside rather than say it first; the error is the same."""
    check(estate, tmp_path, Engine.REFUSES, report=False)


# --- line numbers ----------------------------------------------------------------------------


def test_blank_lines_leave_every_location_on_its_line(tmp_path: Path) -> None:
    """Blank and whitespace-only lines are skipped but counted: each finding names the
    line its row is on, with either engine."""
    app = with_lines(APP, "A2,", *BLANKS)
    config = Estate(hr=with_lines(HR, "E1,", "", "  "), app=app).config(tmp_path)
    report = same_result(config)
    assert isinstance(report, Report)
    assert isinstance(triaged(config), Triaged)
    lines = app.split("\n")
    located = {f.account.id: f.account.location for f in report.findings if f.account}
    assert located, report.findings
    for account, location in located.items():
        number = int(location.rsplit(":", 1)[1])
        assert lines[number - 1].startswith(f"{account},"), (account, location)
    leaver = next(f for f in report.findings if f.kind is FindingKind.LEAVER)
    assert leaver.identity is not None
    number = int(leaver.identity.location.rsplit(":", 1)[1])
    assert HR.split("\n")[number - 3].startswith("EL1,")


# --- non-ASCII values ------------------------------------------------------------------------

FULL_A = "\uff41"  # ａ
KELVIN = "\u212a"  # K, whose NFKC form and case folding are ASCII
FI = "\ufb01"  # ﬁ
UNICODE_HR = csv_text(
    HR_HEADER,
    [
        f"E1,{FULL_A}lice@example.com,Alice,active",
        "E2,bob@example.com,Bob,active",
        f"E3,{KELVIN}im@example.com,Kim,active",
        "E4,ann@example.com,Ann,active",
        f"E5,{FULL_A}nn@example.com,Ann Two,active",
        "E6,jos\u00e9@example.com,Jos\u00e9,active",
        "E7,zo\u00eb@example.com,Zo\u00eb,active",
        f"E8,{FI}ona@example.com,Fiona,active",
        "E9,carl@example.com,Carl,terminated",
        "E10,dora@example.com,D\u00f3ra Kov\u00e1cs,active",
        "E11,eve@example.com,Eve,active",
        "E12,stra\u00dfe@example.com,Stra\u00dfe,active",
        *(f"E{i},user{i}@example.com,User {i},active" for i in range(20, 40)),
    ],
)
UNICODE_APP = csv_text(
    "id,email,active,name",
    [
        "A1,alice@example.com,true,Alice",
        "A2,\uff42ob@example.com,true,Bobby",
        "A3,kim@example.com,true,Kim",
        "A4,ann@example.com,true,Ann",
        "A4b,ANN@EXAMPLE.COM,false,Ann",
        "A4c,\uff41\uff4e\uff4e@example.com,false,Ann",
        "A4d,\uff41\uff4e\uff4e@example.com,true,Ann",
        "A5,JOS\u00c9@example.com,true,Jos\u00e9",
        "A6,zoe\u0308@example.com,true,Zoe\u0308",
        "A7,fiona@example.com,true,Fiona",
        "A7b,FIONA@example.com,true,Fiona",
        "A8,\uff43arl@example.com,false,Carl",
        "A9,\uff45ve@example.com,true,Eve",
        "A10,eve@example.com,false,Eve",
        "A11,dora@example.com,true,Dora Kovacs",
        "A12,\uff4dallory@example.com,true,Mallory",
        "A13,\u0430lice@example.com,true,Alice",
        "A14,STRASSE@example.com,true,Stra\u00dfe",
        f"A15,{KELVIN}IM@example.com,false,Kim",
        "A16,user21@example.com,true,\u30e6\u30fc\u30b6\u30fc",
        "A17,eve@example.com,true,Eve",
        *(f"A{i},user{i}@example.com,true,User {i}" for i in range(22, 40)),
    ],
)


def test_non_ascii_values_give_the_same_report(tmp_path: Path) -> None:
    """Full-width letters, the Kelvin sign, a ligature, combining marks, ß and accented
    names on either side: look-alike links, ambiguous links, case-folded links and drift
    are the ones the usual reading finds."""
    estate = Estate(
        hr=UNICODE_HR,
        app=UNICODE_APP,
        target={
            "map": {"id": "id", "email": "email", "active": "active", "display_name": "name"},
            "compare": ["display_name"],
        },
    )
    report = check(estate, tmp_path, Engine.READS, report=True)
    assert isinstance(report, Report)
    (stats,) = report.targets
    assert stats.lookalike >= 4
    assert stats.ambiguous >= 3
    kinds = {finding.kind for finding in report.findings}
    assert {FindingKind.AMBIGUOUS, FindingKind.DUPLICATE_ACCOUNT, FindingKind.ORPHAN} <= kinds
    assert FindingKind.STALE_ATTRIBUTE in kinds
    assert any("look-alike" in finding.message for finding in report.findings)


@pytest.mark.parametrize(
    ("identity", "account"),
    [
        pytest.param(f"{FULL_A}lice@example.com", "alice@example.com", id="full-width"),
        pytest.param("\u24d0lice@example.com", "alice@example.com", id="circled"),
        pytest.param("\U0001d41alice@example.com", "ALICE@example.com", id="mathematical-bold"),
    ],
)
def test_an_inactive_account_linked_by_a_look_alike_is_counted(
    tmp_path: Path, identity: str, account: str
) -> None:
    """A disabled account whose plain ASCII email links to an identity only by Unicode
    compatibility folding is a look-alike link: counted in the target's ``lookalike``
    by the usual reading, so by the engine too."""
    estate = Estate(
        hr=csv_text(HR_HEADER, [f"L1,{identity},Someone,active", *hr_lines()]),
        app=csv_text(APP_HEADER, [f"X1,{account},false,2026-11-20", *app_lines()]),
    )
    config = estate.config(tmp_path)
    expected = outcome(config, "python")
    assert isinstance(expected, Report)
    assert expected.targets[0].lookalike == 1
    assert isinstance(triaged(config), Triaged)
    assert_same(outcome(config, "columnar"), expected)


# --- which error comes first -----------------------------------------------------------------


BAD_SOURCE_ROW = csv_text("id,email,name,status,end", [f"{line}," for line in hr_lines()]).replace(
    "E3,user3@example.com,User 3,active,", "E3,user3@example.com,User 3,active,someday"
)
SECOND_APP = {"name": "app2", "connector": "csv", "path": "app2.csv", "correlate": BY_EMAIL}


@pytest.mark.parametrize(
    ("estate", "first"),
    [
        pytest.param(
            Estate(
                hr=BAD_SOURCE_ROW,
                source={"map": {**HR_MAP, "expires_at": "end"}},
                target={"map": {**APP_MAP, "active": "enabled"}},
            ),
            "hr.csv:5: expires_at (column 'end'): 'someday'",
            id="source-row-then-target-header",
        ),
        pytest.param(
            Estate(
                app=replaced(APP, "A4,user4@example.com,true", "A4,user4@example.com,maybe"),
                files={"app2.csv": APP},
                more={
                    "targets": [
                        {**SECOND_APP, "name": "app", "path": "app.csv", "map": APP_MAP},
                        {**SECOND_APP, "map": {**APP_MAP, "active": "enabled"}},
                    ]
                },
            ),
            "app.csv:6: active (column 'active'): 'maybe'",
            id="target-row-then-next-target-header",
        ),
    ],
)
def test_the_first_error_is_the_one_the_usual_reading_meets_first(
    tmp_path: Path, estate: Estate, first: str
) -> None:
    """The usual reading reads the whole source, then each target in turn: a row it refuses
    is the error, even when a later input's header lacks a mapped column."""
    config = estate.config(tmp_path)
    expected = outcome(config, "python")
    assert not isinstance(expected, Report)
    assert first in expected[1]
    assert_same(outcome(config, "columnar"), expected)


# --- dates at every limit, in far-off zones --------------------------------------------------

SPELLINGS = (
    "{d}",
    "{d}T00:00:00",
    "{d}T23:59:59",
    "{d} 12:00:00+14:00",
    "{d}T00:30:00-12:00",
    "{d}T23:59:59.999999Z",
    "{d}T00:00:00+23:59",
    "{d}T23:59:00-23:59",
)
POLICY = {"dormant_days": 30, "credential_max_age_days": 60}


def limits_estate(today: date, zone: str) -> Estate:
    """An identity and an account for each date field, each day from two before to two
    after the day its rule starts to fire, in each spelling."""
    people = []
    accounts = []
    limits = {
        "last_login": today - timedelta(days=POLICY["dormant_days"]),
        "created": today - timedelta(days=POLICY["dormant_days"]),
        "rotated": today - timedelta(days=POLICY["credential_max_age_days"]),
        "expires": today,
        "end": today,
    }
    columns = ("last_login", "created", "rotated", "expires")
    number = 0
    for name, limit in limits.items():
        for shift in range(-2, 3):
            for spelling in SPELLINGS:
                number += 1
                written = spelling.format(d=(limit + timedelta(days=shift)).isoformat())
                end = written if name == "end" else ""
                people.append(f"E{number},u{number}@example.com,U {number},active,{end}")
                cells = [written if column == name else "" for column in columns]
                if name == "created" or not any(cells):
                    cells[1] = cells[1] or (today - timedelta(days=5)).isoformat()
                accounts.append(
                    f"A{number},u{number}@example.com,{number % 7 != 0}," + ",".join(cells)
                )
    for extra in range(number + 1, number + 40):
        people.append(f"E{extra},u{extra}@example.com,U {extra},active,")
        recent = (today - timedelta(days=3)).isoformat()
        accounts.append(f"A{extra},u{extra}@example.com,true,{recent},{recent},{recent},")
    return Estate(
        hr=csv_text("id,email,name,status,end", people),
        app=csv_text("id,email,active," + ",".join(columns), accounts),
        source={"map": {**HR_MAP, "expires_at": "end"}, "timezone": zone},
        target={
            "map": {
                "id": "id",
                "email": "email",
                "active": "active",
                "last_login_at": "last_login",
                "created_at": "created",
                "credential_rotated_at": "rotated",
                "expires_at": "expires",
            },
            "timezone": zone,
        },
        more={"policy": POLICY},
    )


@pytest.mark.parametrize("zone", ["UTC", "Pacific/Kiritimati", "America/Adak", "Etc/GMT+12"])
@pytest.mark.parametrize("now", [NOW, NOW.replace(hour=23, minute=59, second=59)], ids=str)
def test_dates_near_every_limit_give_the_same_report(
    tmp_path: Path, zone: str, now: datetime
) -> None:
    config = limits_estate(now.date(), zone).config(tmp_path)
    found = triaged(config, now)
    assert isinstance(found, Triaged)
    assert found.targets["app"].quiet.accounts > 0
    report = same_result(config, now)
    assert isinstance(report, Report)
    kinds = {finding.kind for finding in report.findings}
    assert {FindingKind.DORMANT, FindingKind.STALE_CREDENTIAL, FindingKind.EXPIRED} <= kinds


# --- the engine is used ----------------------------------------------------------------------


def test_the_engine_reads_a_mostly_clean_estate_and_keeps_few_rows(tmp_path: Path) -> None:
    config = Estate(
        hr=csv_text(HR_HEADER, hr_lines(300)), app=csv_text(APP_HEADER, app_lines(300))
    ).config(tmp_path)
    found = triaged(config)
    assert isinstance(found, Triaged)
    source, app = found.source, found.targets["app"]
    assert source.total == 301
    assert app.total == 304
    assert len(list(source)) < source.total // 10
    kept = list(app)
    assert len(kept) < app.total // 10
    assert app.quiet.accounts == app.total - len(kept)
    assert app.quiet.linked > 250
    report = same_result(config)
    assert isinstance(report, Report)
    assert report.identities == 301
    assert report.targets[0].accounts == 304
    assert {f.kind for f in report.findings} >= {
        FindingKind.LEAVER,
        FindingKind.ORPHAN,
        FindingKind.DORMANT,
        FindingKind.DUPLICATE_ACCOUNT,
    }


# --- plain values ----------------------------------------------------------------------------

ZONES = ("UTC", "Pacific/Kiritimati", "America/Adak", "Etc/GMT-14", "Etc/GMT+12")


def plain_day(text: str) -> date | None:
    """The date ``text`` starts with, when it is a real one in the plain years."""
    try:
        day = date.fromisoformat(text[:10])
    except ValueError:
        return None
    return day if int(FIRST_YEAR) <= day.year <= int(LAST_YEAR) else None


def spelled(shape: str, day: date) -> str:
    """``shape``, a string matching ``ISO``, with its date made ``day``."""
    return day.isoformat() + shape[10:]


PLAIN_DAYS = st.dates(date(int(FIRST_YEAR), 1, 1), date(int(LAST_YEAR), 12, 31))
PLAIN_ISO = st.builds(spelled, st.from_regex(ISO, fullmatch=True), PLAIN_DAYS).filter(
    lambda text: plain_day(text) is not None
)
"""Every string matching ``ISO`` whose date is real and in the plain years (the
pattern's shapes with any such day: the same strings as the pattern's filtered to a real
date, without drawing thirty for each one kept)."""


@settings(max_examples=300, deadline=None)
@given(PLAIN_ISO)
def test_a_plain_iso_date_is_read_within_a_day_in_any_zone(text: str) -> None:
    assert re.fullmatch(ISO, text)
    written = plain_day(text)
    assert written is not None
    for zone in ZONES:
        moment = date_reader("iso", time_zone(zone))(text)
        assert moment is not None, (text, zone)
        assert moment.tzinfo is not None
        assert abs((moment.astimezone(UTC).date() - written).days) <= 1, (text, zone, moment)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow],
)
@given(st.from_regex(ISO, fullmatch=True).filter(lambda text: plain_day(text) is not None))
def test_a_plain_iso_date_drawn_by_the_pattern_is_read(text: str) -> None:
    """The same, drawn from the pattern itself and filtered to real dates."""
    written = plain_day(text)
    assert written is not None
    for zone in ZONES:
        moment = date_reader("iso", time_zone(zone))(text)
        assert moment is not None
        assert abs((moment.astimezone(UTC).date() - written).days) <= 1


NULL_WORDS = frozenset({"n/a", "never", "-", "none"})
CONTEXT = ConnectorContext(
    name="app",
    base_dir=Path(),
    origin_values={"sso": Origin.JIT, "admin": Origin.MANUAL},
    value_options=ValueOptions(
        null_values=NULL_WORDS,
        kind_values=MappingProxyType({"employee": "human", "svc": "service_account"}),
    ),
)
FIELDS = (
    "id",
    "email",
    "status",
    "team",
    "active",
    "password_enabled",
    "kind",
    "origin",
    "groups",
    "expires_at",
)
WORDS_SEEN = (
    *TRUE_WORDS,
    *FALSE_WORDS,
    *KINDS,
    *(origin.value for origin in Origin),
    *NULL_WORDS,
    "employee",
    "svc",
    "sso",
    "admin",
    "2026-11-28",
    "2026-11-28T10:00:00Z",
    "0001-01-01",
    "1601-01-01T00:00:00Z",
    "a;b",
    "a|n/a",
    " , ",
)
LOOSE_DATE = (
    r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}([Tt ][0-9]{1,2}(:[0-9]{2}){0,2}(\.[0-9]{0,8})?"
    r" ?(Z|z|[+-][0-9]{2}(:?[0-9]{2})?)?)?"
)
CELLS = st.one_of(
    st.sampled_from(WORDS_SEEN).flatmap(
        lambda word: st.sampled_from([word, word.upper(), word.title(), f" {word}", f"{word} "])
    ),
    st.from_regex(ISO, fullmatch=True),
    st.from_regex(LOOSE_DATE, fullmatch=True),
    st.text(st.sampled_from("aeK-;|, :.0129TZ\u212a\uff41\u00e9\t"), max_size=12),
)


@functools.cache
def plain_sql() -> tuple[duckdb.DuckDBPyConnection, str]:
    """A connection, and a query giving, for each cell of ``$cells``, the cell and each
    field's plainness and plain value as the engine computes them."""
    fields = [field_sql(name, 1, CONTEXT, "iso") for name in FIELDS]
    columns = ", ".join(f"{f.plain}, {f.value}" for f in fields)
    query = (
        f"SELECT cell, {columns} FROM (SELECT cell, [cell]::VARCHAR[] AS cells,"
        f" regexp_full_match(cell, '{ASCII_LINE}') AS ascii FROM unnest($cells) AS u(cell))"
    )
    return duckdb.connect(), query


READERS = Readers(CONTEXT)


def python_value(name: str, cell: str) -> Any:
    """What the mapping reads from ``cell`` for field ``name`` (an exception as itself)."""
    try:
        value = READERS.of(name)(cell)
    except ValueError_ as exc:
        return exc
    return value.value if isinstance(value, Origin) else value


@settings(max_examples=100, deadline=None)
@given(st.lists(CELLS, min_size=1, max_size=30))
def test_a_plain_cell_is_read_by_the_mapping_as_the_engine_reads_it(cells: list[str]) -> None:
    """Whatever the engine calls plain, the mapping reads without error, as the same value
    (a date: within a day of its day as written, in any zone)."""
    con, query = plain_sql()
    rows = con.execute(query, {"cells": cells}).fetchall()
    assert sorted(row[0] for row in rows) == sorted(cells)
    for cell, *found in rows:
        for number, name in enumerate(FIELDS):
            plain, value = found[2 * number], found[2 * number + 1]
            if plain:
                agrees(name, cell, value)


def agrees(name: str, cell: str, value: Any) -> None:
    """The mapping reads ``cell``, plain for field ``name`` with value ``value`` in the
    engine, without error and as that value."""
    read = python_value(name, cell)
    assert not isinstance(read, Exception), (name, cell, read)
    if name == "groups":
        assert (value is None) is (read is None), (name, cell, value, read)
    elif name == "expires_at":
        if value is None:
            assert read is None, (name, cell, read)
            return
        assert read is not None, (name, cell)
        for zone in ZONES:
            moment = date_reader("iso", time_zone(zone), NULL_WORDS)(cell)
            assert moment is not None
            assert abs((moment.date() - value).days) <= 1, (cell, zone, moment, value)
    else:
        assert read == value, (name, cell, read, value)
