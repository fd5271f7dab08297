"""A synthetic estate for ``bench/scale.py``: an HR export as the source of truth, target
apps' account exports (CSV or JSON Lines) and the nhirecon config that reads them.

Deterministic by seed: the same seed, size and targets write the same bytes. Every value
is plain ASCII without commas or quotes, so rows are built with f-strings (no csv or json
module on the write path) and written in chunks, which keeps a million rows to seconds.

The source (``hr.csv``), one row per identity:
employee_id, email, login, status, department, title, manager_email, kind, owner, hired,
end_date. About 2.5% of people are ``terminated`` (with an end date in the past) and 1%
on ``leave``; 8% are contractors with an end date (one in ten of them past); 5% (or the
share asked for) are service accounts (kind ``service``) whose ``owner`` names a person
by email: an active one mostly, else a person who left, an address nobody has, or nobody
at all; 5% of them are ``retired`` and 40% expire (a quarter of those in the past).

Each target (``appN.csv`` or ``appN.jsonl``), one row per account, the account of row i
belonging to identity i unless it is an orphan: user_id, email (1 in 20 with its case
changed, ``P123@Example.com``), username, enabled, created, last_login (some older than
90 days, some never), expires (a few, half in the past), created_by (``scim-sync``,
``sso-jit`` or ``admin``), department, title (10% differ from the source; 3% differ only
in case, which is not drift), kind and owner (for service accounts). About 2.5% of
accounts are orphans, nearly half of them created at sign-in (JIT).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

NOW = "2026-11-28T00:00:00Z"
CHUNK = 20_000  # rows per write
SERVICES = 0.05  # the share of identities that are service accounts, by default

DEPARTMENTS = (
    "Engineering",
    "Sales",
    "Marketing",
    "Finance",
    "Legal",
    "Support",
    "Operations",
    "Security",
    "Research",
    "Design",
    "Product",
    "Data",
    "Infrastructure",
    "People",
    "Procurement",
    "Facilities",
    "Compliance",
    "Partnerships",
    "Education",
    "Communications",
)
TITLES = (
    "Engineer",
    "Senior Engineer",
    "Staff Engineer",
    "Engineering Manager",
    "Account Executive",
    "Account Manager",
    "Analyst",
    "Senior Analyst",
    "Designer",
    "Product Manager",
    "Program Manager",
    "Support Specialist",
    "Support Lead",
    "Recruiter",
    "Counsel",
    "Controller",
    "Director",
    "Vice President",
    "Researcher",
    "Data Scientist",
    "Technician",
    "Coordinator",
    "Administrator",
    "Architect",
)
SOURCE_HEADER = (
    "employee_id,email,login,status,department,title,manager_email,kind,owner,hired,end_date\n"
)
TARGET_HEADER = (
    "user_id,email,username,enabled,created,last_login,expires,created_by,department,title,"
    "kind,owner\n"
)
STATUS_WORDS = ("active", "leave", "terminated", "retired")
ACTIVE, LEAVE, TERMINATED, RETIRED = range(4)


@dataclass
class Identities:
    """What a target needs to know of each identity to write its account (compactly)."""

    size: int
    status: bytearray
    service: bytearray
    department: bytearray
    title: bytearray
    owner: dict[int, str]


class Days:
    """ISO date and date-time strings a whole number of days (and a minute) from ``now``,
    built once, so a row picks them by index instead of formatting a date."""

    def __init__(self, now: datetime, past: int, future: int) -> None:
        start = now - timedelta(days=past)
        self.past = past
        self.dates = [
            (start + timedelta(days=d)).strftime("%Y-%m-%d") for d in range(past + future)
        ]
        self.minutes = [f"T{m // 60:02d}:{m % 60:02d}:00Z" for m in range(24 * 60)]

    def date(self, days_ago: int) -> str:
        """A date ``days_ago`` days before now (negative: after)."""
        return self.dates[self.past - days_ago]

    def stamp(self, days_ago: int, rng: Callable[[], float]) -> str:
        """A date-time in the day that started ``days_ago`` days before now."""
        return self.dates[self.past - days_ago] + self.minutes[int(rng() * 1440)]


def parse_now(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _write(path: Path, header: str, rows: Iterator[str]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write(header)
        chunk: list[str] = []
        for line in rows:
            chunk.append(line)
            if len(chunk) >= CHUNK:
                handle.write("".join(chunk))
                chunk.clear()
        handle.write("".join(chunk))


def write_source(
    path: Path, size: int, seed: int, days: Days, services: float = SERVICES
) -> Identities:
    """``hr.csv``: ``size`` identities, a share ``services`` of them service accounts;
    returns what the targets need of them."""
    rng = random.Random(f"{seed}:source").random
    known = Identities(size, bytearray(size), bytearray(size), bytearray(size), bytearray(size), {})
    active_people: list[int] = []
    gone_people: list[int] = []
    departments, titles = len(DEPARTMENTS), len(TITLES)

    def rows() -> Iterator[str]:
        for i in range(size):
            department, title = int(rng() * departments), int(rng() * titles)
            known.department[i], known.title[i] = department, title
            manager = f"p{i // 8}@example.com" if i >= 8 else ""
            hired = days.date(30 + int(rng() * 4000))
            end, owner = "", ""
            if rng() < services:  # a service account
                known.service[i] = 1
                name, kind = f"svc-{i}", "service"
                status = RETIRED if rng() < 0.05 else ACTIVE
                pick = rng()
                if pick < 0.85 and active_people:
                    owner = f"p{active_people[int(rng() * len(active_people))]}@example.com"
                elif pick < 0.90 and gone_people:
                    owner = f"p{gone_people[int(rng() * len(gone_people))]}@example.com"
                elif pick < 0.95:
                    owner = f"gone{i}@example.com"
                if owner:
                    known.owner[i] = owner
                if rng() < 0.4:  # expires: one in four of them past
                    end = days.date(1 + int(rng() * 200) if rng() < 0.25 else -1 - int(rng() * 700))
            else:
                name = f"p{i}"
                kind = "contractor" if rng() < 0.08 else "employee"
                pick = rng()
                status = TERMINATED if pick < 0.025 else LEAVE if pick < 0.035 else ACTIVE
                if status == TERMINATED:
                    end = days.date(1 + int(rng() * 400))
                    gone_people.append(i)
                elif kind == "contractor":
                    end = days.date(1 + int(rng() * 300) if rng() < 0.1 else -1 - int(rng() * 365))
                if status == ACTIVE:
                    active_people.append(i)
            known.status[i] = status
            yield (
                f"E{i:07d},{name}@example.com,{name},{STATUS_WORDS[status]},"
                f"{DEPARTMENTS[department]},{TITLES[title]},{manager},{kind},{owner},{hired},{end}\n"
            )

    _write(path, SOURCE_HEADER, rows())
    return known


def write_target(path: Path, number: int, known: Identities, seed: int, days: Days) -> None:
    """``appN.csv`` or ``appN.jsonl``: one account per identity, a few of them orphans."""
    rng = random.Random(f"{seed}:target:{number}").random
    jsonl = path.suffix == ".jsonl"
    departments, titles = len(DEPARTMENTS), len(TITLES)
    dates, minutes, today = days.dates, days.minutes, days.past  # Days.stamp, inlined

    def rows() -> Iterator[str]:
        for i in range(known.size):
            orphan = rng() < 0.025
            created_days = 30 + int(rng() * 3000)
            created = dates[today - created_days] + minutes[int(rng() * 1440)]
            pick = rng()
            if pick < 0.06 and created_days > 100:  # dormant: signed in long ago
                ago = 91 + int(rng() * (created_days - 91))
            elif pick < 0.09:  # never signed in
                ago = -1
            else:
                ago = 1 + int(rng() * min(59, created_days - 1))
            last = dates[today - ago] + minutes[int(rng() * 1440)] if ago > 0 else ""
            expires = ""
            if rng() < 0.04:
                expires = days.stamp(
                    1 + int(rng() * 300) if rng() < 0.5 else -1 - int(rng() * 300), rng
                )
            pick = rng()
            department, title = known.department[i], known.title[i]
            kind, owner = "user", ""
            if orphan:
                local, domain = f"x{number}-{i}", "example.com"
                origin = "sso-jit" if pick < 0.45 else "scim-sync" if pick < 0.8 else "admin"
                enabled = rng() < 0.9
                department, title = int(rng() * departments), int(rng() * titles)
            else:
                service = known.service[i]
                local = f"svc-{i}" if service else f"p{i}"
                if service:
                    kind, owner = "service", known.owner.get(i, "")
                domain = "example.com"
                if rng() < 0.05:  # the same address, its case changed: not an orphan
                    local, domain = local[0].upper() + local[1:], "Example.com"
                origin = "scim-sync" if pick < 0.84 else "sso-jit" if pick < 0.90 else "admin"
                enabled = rng() < (0.85 if known.status[i] >= TERMINATED else 0.97)
                pick = rng()
                if pick < 0.06:
                    department = (department + 1 + int(rng() * (departments - 1))) % departments
                elif pick < 0.10:
                    title = (title + 1 + int(rng() * (titles - 1))) % titles
            dept_text, title_text = DEPARTMENTS[department], TITLES[title]
            if rng() < 0.03:  # differs in case only: not drift
                title_text = title_text.upper()
            if jsonl:
                yield (
                    f'{{"user_id": "u{number}-{i:07d}", "email": "{local}@{domain}", '
                    f'"username": "{local.lower()}", "enabled": {"true" if enabled else "false"}, '
                    f'"created": "{created}", "last_login": {_json(last)}, '
                    f'"expires": {_json(expires)}, "created_by": "{origin}", '
                    f'"profile": {{"department": "{dept_text}", "title": "{title_text}"}}, '
                    f'"kind": "{kind}", "owner": {_json(owner)}}}\n'
                )
            else:
                yield (
                    f"u{number}-{i:07d},{local}@{domain},{local.lower()},"
                    f"{'true' if enabled else 'false'},{created},{last},{expires},{origin},"
                    f"{dept_text},{title_text},{kind},{owner}\n"
                )

    _write(path, "" if jsonl else TARGET_HEADER, rows())


def _json(text: str) -> str:
    return f'"{text}"' if text else "null"


def write_config(folder: Path, targets: list[Path]) -> Path:
    """``nhirecon.yaml`` for the estate: the source, every target and a CI gate."""
    lines = [
        "version: 1",
        "source:",
        "  name: hr",
        "  connector: csv",
        "  path: hr.csv",
        "  map: {id: employee_id, email: email, username: login, status: status,",
        "        department: department, title: title, manager: manager_email, kind: kind,",
        "        owner: owner, created_at: hired, expires_at: end_date}",
        "  active_status: [active, leave]",
        "  kind_values: {human: [employee, contractor], service_account: [service]}",
        "targets:",
    ]
    for path in targets:
        nested = path.suffix == ".jsonl"
        prefix = "profile." if nested else ""  # JSON Lines: nested under "profile"
        lines += [
            f"  - name: {path.stem}",
            f"    connector: {'json' if nested else 'csv'}",
            f"    path: {path.name}",
            "    map: {id: user_id, email: email, username: username, active: enabled,",
            "          created_at: created, last_login_at: last_login, expires_at: expires,",
            "          origin: created_by, kind: kind, owner: owner,",
            f"          department: {prefix}department, title: {prefix}title}}",
            "    origin_values: {scim: [scim-sync], jit: [sso-jit], manual: [admin]}",
            "    kind_values: {human: [user], service_account: [service]}",
            "    correlate:",
            "      - {account: email, identity: email}",
            "    compare: [department, title]",
        ]
    lines += [
        "policy:",
        "  dormant_days: 90",
        "gate:",
        "  - orphan,jit-orphan>0",
        "  - severity:critical>=1",
    ]
    path = folder / "nhirecon.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_estate(
    folder: Path,
    size: int,
    *,
    seed: int,
    targets: int,
    fmt: str,
    now: str,
    services: float = SERVICES,
) -> tuple[Path, Path, list[Path]]:
    """Writes the source (a share ``services`` of it service accounts), ``targets``
    account exports and the config into ``folder``; returns the config, the source and
    the targets."""
    days = Days(parse_now(now), past=4500, future=800)
    source = folder / "hr.csv"
    known = write_source(source, size, seed, days, services)
    paths = [folder / f"app{number}.{fmt}" for number in range(1, targets + 1)]
    for number, path in enumerate(paths, start=1):
        write_target(path, number, known, seed, days)
    return write_config(folder, paths), source, paths
