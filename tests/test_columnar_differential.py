"""The columnar engine against the usual path, on generated estates: the same report, or
the same error, every time.

Each estate is drawn from a seed: identities and accounts whose values are often plain and
often not (case changes, spaces at the ends, full-width look-alikes, accented names,
``null_values`` words, dates in several ISO spellings and some that do not parse, dates a
day either side of every limit), with shared emails (ambiguous links), shared credential
ids, owners (by id, username or email) that are missing, unknown, ambiguous, gone or the
identity itself, non-human identities used like a person, allowlist entries that name one
account or several, several targets with different rules. The options of the config vary
too. Both engines read the same files; their reports must be equal as values (every
finding, its record and location, every count and coverage figure).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nhirecon import pipeline
from nhirecon.columnar import engine
from nhirecon.config.load import load
from nhirecon.errors import NhireconError

from .conftest import Run

NOW = datetime(2026, 11, 28, 9, 30, tzinfo=UTC)


@dataclass
class Estate:
    folder: Path
    seed: int

    def __post_init__(self) -> None:
        self.r = random.Random(self.seed)

    # values ------------------------------------------------------------------------------

    def chance(self, p: float) -> bool:
        return self.r.random() < p

    def moment(self, around_days: int | None = None) -> str:
        """A date near ``around_days`` days ago (a limit), in one of several spellings."""
        r = self.r
        days = around_days if around_days is not None else r.randint(-400, 3000)
        when = NOW - timedelta(days=days) + timedelta(hours=r.randint(-30, 30))
        spelling = r.randrange(7)
        if spelling == 0:
            return when.strftime("%Y-%m-%d")
        if spelling == 1:
            return when.strftime("%Y-%m-%dT%H:%M:%SZ")
        if spelling == 2:
            return when.strftime("%Y-%m-%d %H:%M:%S")
        if spelling == 3:
            return when.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+05:30"
        if spelling == 4:
            return when.strftime("%Y-%m-%dT%H:%M:%S-08:00")
        if spelling == 5:
            return r.choice(["0001-01-01T00:00:00Z", "1601-01-01T00:00:00Z", "0", ""])
        return when.strftime("%d/%m/%Y") if self.chance(0.002) else when.strftime("%Y-%m-%d")

    def recent(self, limit: int) -> str:
        """A sign-in: mostly well within ``limit`` days, else near it or anywhen."""
        if self.chance(0.6):
            return self.moment(self.r.randint(0, limit // 3))
        return self.near_limit(limit) if self.chance(0.6) else self.moment()

    def near_limit(self, limit: int) -> str:
        return self.moment(limit + self.r.randint(-2, 2))

    def text(self, value: str) -> str:
        """``value``, or a variant that is not plain or is a different case."""
        r = self.r
        variant = r.randrange(14)
        if variant == 0:
            return value.upper()
        if variant == 1:
            return f" {value}"
        if variant == 2:
            return value + "é"
        if variant == 3 and value:
            return chr(ord(value[0]) + 0xFEE0) + value[1:] if value[0].isalnum() else value
        if variant == 4:
            return ""
        if variant == 5:
            return "n/a"
        return value

    # files -------------------------------------------------------------------------------

    def write(self) -> Path:
        r = self.r
        size = r.randint(20, 60)
        people = [f"p{i}" for i in range(size)]
        null_values = r.choice([[], ["n/a"], ["n/a", "-", "none"]])
        dormant = r.choice([30, 90])
        rotate = r.choice([60, 90])
        statuses = ["active"] * 8 + ["leave", "terminated", "Active", "n/a", ""]
        kinds = ["employee"] * 8 + ["service", "contractor", "", "Service"]
        departments = ["Sales", "Legal", "Data", "sales", "Dátá"]
        credentials = [f"K{i}" for i in range(size // 4)]
        source_rows = []
        emails: dict[str, str] = {}
        for i, person in enumerate(people):
            email = f"{person}@example.com"
            if self.chance(0.05) and i:
                email = emails[people[i - 1]]  # two identities, one email
            emails[person] = email
        for i, person in enumerate(people):
            email = emails[person]
            kind = r.choice(kinds) if self.chance(0.995) else r.choice([" service", "robot"])
            owner = ""
            if kind.strip().lower() == "service":
                other = r.randrange(size)
                owner = r.choice(
                    [
                        self.text(emails[people[other]]),
                        self.text(emails[people[other]]),
                        self.text(f"E{other}"),
                        self.text(people[other]),
                        "ghost@example.com",
                        "",
                        email,
                        person,
                    ]
                )
            source_rows.append(
                [
                    f"E{i}" if self.chance(0.995) else f"E{i} ",
                    self.text(email) if self.chance(0.3) else email,
                    person,
                    r.choice(statuses),
                    self.text(r.choice(departments)),
                    r.choice(["Engineer", "Analyst", "analyst ", "Data  Analyst", "DATA ANALYST"]),
                    kind,
                    owner,
                    self.moment(),
                    self.near_limit(0) if self.chance(0.2) else "",
                    r.choice(credentials) if self.chance(0.1) else "",
                    self.near_limit(dormant) if self.chance(0.2) else "",
                    r.choice(["", "", "", "", "false", "true", "no"]),
                ]
            )
        source_header = (
            "employee_id,email,login,status,department,title,kind,owner,hired,end_date,key_id,"
            "console,password"
        )
        self._csv("hr.csv", source_header, source_rows)
        targets = []
        for number in range(1, r.randint(1, 3) + 1):
            rows = []
            for j in range(r.randint(15, 60)):
                person = r.choice(people) if self.chance(0.9) else f"x{j}"
                email = emails.get(person, f"{person}@example.com")
                rows.append(
                    [
                        f"u{number}-{j}",
                        self.text(email) if self.chance(0.4) else email,
                        self.text(person) if self.chance(0.2) else person,
                        r.choice(["true"] * 6 + ["false", "TRUE", "yes", "", " no"])
                        if self.chance(0.998)
                        else "maybe",
                        self.moment(),
                        self.recent(dormant),
                        self.near_limit(0) if self.chance(0.15) else "",
                        r.choice(["scim-sync"] * 5 + ["sso-jit", "admin", "SSO-JIT"]),
                        self.text(r.choice(departments)),
                        r.choice(
                            ["Engineer", "Analyst", "analyst", "data analyst", "Data   Analyst"]
                        ),
                        r.choice(["user"] * 9 + ["service", ""]),
                        r.choice(credentials) if self.chance(0.1) else "",
                        self.near_limit(rotate) if self.chance(0.3) else "",
                        self.near_limit(dormant) if self.chance(0.3) else "",
                        r.choice(["", "", "", "false", "true", "no", "YES"]),
                    ]
                )
            name = f"app{number}.csv"
            self._csv(
                name,
                "user_id,email,username,enabled,created,last_login,expires,created_by,"
                "department,title,kind,key_id,rotated,console,password",
                rows,
            )
            targets.append((number, name, rows))
        return self._config(
            targets, null_values=null_values, dormant=dormant, rotate=rotate, people=people
        )

    def _csv(self, name: str, header: str, rows: list[list[str]]) -> None:
        lines = [header]
        for row in rows:
            cells = [
                f'"{cell}"' if "," in cell or (self.chance(0.02) and '"' not in cell) else cell
                for cell in row
            ]
            lines.append(",".join(cells))
        ending = "\r\n" if self.chance(0.2) else "\n"
        (self.folder / name).write_text(ending.join(lines) + ending, encoding="utf-8")

    def _config(
        self,
        targets: list[tuple[int, str, list[list[str]]]],
        *,
        null_values: list[str],
        dormant: int,
        rotate: int,
        people: list[str],
    ) -> Path:
        r = self.r
        lines = [
            "version: 1",
            "source:",
            "  name: hr",
            "  connector: csv",
            "  path: hr.csv",
            "  map: {id: employee_id, email: email, username: login, status: status,",
            "        department: department, title: title, kind: kind, owner: owner,",
            "        created_at: hired, expires_at: end_date, credential_id: key_id,",
            "        last_interactive_login_at: console, password_enabled: password}",
            "  active_status: [active, leave]",
            "  kind_values: {human: [employee, contractor], service_account: [service]}",
        ]
        if null_values:
            lines.append(f"  null_values: {null_values}")
        if self.chance(0.3):
            lines.append("  timezone: America/Adak")
        lines.append("targets:")
        entries = []
        for number, name, rows in targets:
            lines += [
                f"  - name: app{number}",
                "    connector: csv",
                f"    path: {name}",
                "    map: {id: user_id, email: email, username: username, active: enabled,",
                "          created_at: created, last_login_at: last_login, expires_at: expires,",
                "          origin: created_by, kind: kind, department: department,",
                "          title: title, credential_id: key_id, credential_rotated_at: rotated,",
                "          last_interactive_login_at: console, password_enabled: password}",
                "    origin_values: {scim: [scim-sync], jit: [sso-jit], manual: [admin]}",
                "    kind_values: {human: [user], service_account: [service]}",
            ]
            if null_values and self.chance(0.7):
                lines.append(f"    null_values: {null_values}")
            rules = r.choice(
                [
                    ["{account: email, identity: email}"],
                    [
                        "{account: username, identity: username}",
                        "{account: email, identity: email}",
                    ],
                    ["{account: email, identity: email}", "{account: username, identity: id}"],
                ]
            )
            lines.append("    correlate:")
            lines += [f"      - {rule}" for rule in rules]
            compare = r.choice([[], ["department"], ["department", "title"]])
            if compare:
                lines.append(f"    compare: {compare}")
            for _ in range(r.randint(0, 3)):
                row = r.choice(rows)
                entries.append((f"app{number}", r.choice([row[0], row[2] or "p1", row[1] or "p2"])))
        lines += [
            "policy:",
            f"  dormant_days: {dormant}",
            f"  credential_max_age_days: {rotate}",
            f"  orphan_grace_days: {r.choice([0, 0, 30])}",
        ]
        if entries or self.chance(0.3):
            lines.append("exceptions:")
            for target, account in entries:
                lines += [
                    f"  - target: {target}",
                    f"    account: {_yaml(account)}",
                    "    reason: accepted",
                    "    owner: security@example.com",
                    "    expires: 2027-06-30",
                ]
            lines += [
                "  - target: hr",
                f"    account: {_yaml(r.choice(people))}",
                "    reason: accepted",
                "    owner: security@example.com",
                "    expires: 2027-06-30",
            ]
        if entries and self.chance(0.5):
            target, account = r.choice(entries)
            lines += ["protected:", f"  - target: {target}", f"    account: {_yaml(account)}"]
        path = self.folder / "nhirecon.yaml"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path


def _yaml(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def outcome(config_path: Path, engine_name: pipeline.Engine) -> tuple[Any, ...]:
    try:
        config = load(config_path)
        report = pipeline.audit(config, now=NOW, engine=engine_name)
    except NhireconError as exc:
        return ("error", type(exc).__name__, str(exc))
    return ("report", report)


def check(folder: Path, seed: int) -> bool:
    """Both engines on the estate of ``seed``; returns whether the columnar one ran."""
    path = Estate(folder, seed).write()
    usual = outcome(path, "python")
    triaged: list[engine.Triaged | None] = []

    def noted(*args: Any, **kwargs: Any) -> engine.Triaged | None:
        triaged.append(engine.triage(*args, **kwargs))
        return triaged[-1]

    with mock.patch.object(pipeline, "triage", noted):
        columnar = outcome(path, "columnar")
    assert columnar == usual, f"seed {seed}: the engines disagree"
    return usual[0] != "error" and any(each is not None for each in triaged)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.integers(min_value=0, max_value=2**32))
def test_the_engines_agree(tmp_path_factory: pytest.TempPathFactory, seed: int) -> None:
    check(tmp_path_factory.mktemp("estate"), seed)


def test_the_engine_runs_on_most_estates(tmp_path: Path) -> None:
    """The agreement above is not vacuous: most estates are triaged by the engine (the rest
    hold a value that fails the pull, which both engines report alike)."""
    ran = 0
    for seed in range(40):
        folder = tmp_path / str(seed)
        folder.mkdir()
        ran += check(folder, seed)
    assert ran >= 20


@pytest.mark.parametrize("seed", [3, 7])
def test_the_installed_command_writes_the_same_report_with_either_engine(
    run: Run, tmp_path: Path, seed: int
) -> None:
    """``audit --engine columnar`` and ``--engine python``, as a user runs them: the same
    JSON report byte for byte, the same exit code; ``-v`` says when the engine was used."""
    path = Estate(tmp_path, seed).write()
    outputs = {}
    for name in ("columnar", "python"):
        out = tmp_path / f"{name}.json"
        result = run(
            "audit",
            "-c",
            str(path),
            "--now",
            NOW.isoformat(),
            "--engine",
            name,
            "-v",
            "--no-history",
            "-f",
            "json",
            "-o",
            str(out),
        )
        assert result.returncode in (0, 1), result.stderr
        outputs[name] = (result.returncode, out.read_bytes())
        assert ("columnar engine:" in result.stderr) is (name == "columnar"), result.stderr
    assert outputs["columnar"] == outputs["python"]
