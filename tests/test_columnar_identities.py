"""The columnar engine leaves out the non-human identities of the source that can have no
finding of their own, and keeps every one that can: each case below is a plain, active
service account that differs from a healthy one in one thing, and the report must be the
usual reading's."""

from __future__ import annotations

from pathlib import Path

import pytest

from nhirecon.core.model import FindingKind
from nhirecon.core.report import Report

from .test_columnar_export import APP, Estate, csv_text, same_result, triaged

HEADER = "id,email,name,status,kind,owner,end_date,password,console"
MAP = {
    "id": "id",
    "email": "email",
    "username": "name",
    "status": "status",
    "kind": "kind",
    "owner": "owner",
    "expires_at": "end_date",
    "password_enabled": "password",
    "last_interactive_login_at": "console",
}
KINDS = {"human": ["employee"], "service_account": ["service"]}

PEOPLE = [
    "E0,p0@example.com,p0,active,employee,,,,",
    "E1,p1@example.com,p1,active,employee,,,,",
    "E2,p2@example.com,p2,active,employee,,,,",
    "E3,p3@example.com,p3,active,employee,,,,",
    "E4,p4@example.com,p4,terminated,employee,,,,",
    "E5,shared@example.com,p5,active,employee,,,,",
    "E6,shared@example.com,p6,active,employee,,,,",
    "E7,p7@example.com,p7 ,active,employee,,,,",
    "E8,p8@example.com,p8,Terminated ,employee,,,,",
]
"""Owners: four plain and active; one who has left; two who share an email; one whose
username is not plain (a trailing space); one whose status is not plain, and not active."""

HEALTHY = {
    "svc-email": "p0@example.com",
    "svc-upper": "P1@EXAMPLE.COM",
    "svc-id": "E2",
    "svc-username": "p3",
}
"""Services owned by exactly one other identity, plain and active, by each of its names."""

KEPT = {
    "svc-left": ("p4@example.com", "", "", "", FindingKind.OWNERLESS),
    "svc-ambiguous": ("shared@example.com", "", "", "", FindingKind.OWNERLESS),
    "svc-ghost": ("ghost@example.com", "", "", "", FindingKind.OWNERLESS),
    "svc-missing": ("", "", "", "", FindingKind.OWNERLESS),
    "svc-self": ("svc-self@example.com", "", "", "", FindingKind.OWNERLESS),
    "svc-gone": ("p8@example.com", "", "", "", FindingKind.OWNERLESS),
    "svc-expired": ("p0@example.com", "2026-11-27", "", "", FindingKind.EXPIRED),
    "svc-password": ("p0@example.com", "", "true", "", FindingKind.HUMAN_USE),
    "svc-console": ("p0@example.com", "", "", "2026-11-01", FindingKind.HUMAN_USE),
}
"""Services that have a finding of their own: (owner, end_date, password, console, kind)."""

QUIET = {
    "svc-later": ("p0@example.com", "2026-12-05", "false", "2026-06-01"),
    "svc-stopped": ("ghost@example.com", "2026-01-01", "true", "2026-11-27"),
}
"""Services with no finding: one that expires next week, has no password and last signed
in interactively long ago; one that is no longer active (its status below)."""


def _rows() -> list[str]:
    rows = list(PEOPLE)
    for name, owner in HEALTHY.items():
        rows.append(f"{name},{name}@example.com,{name},active,service,{owner},,,")
    for name, (owner, end, password, console, _) in KEPT.items():
        rows.append(
            f"{name},{name}@example.com,{name},active,service,{owner},{end},{password},{console}"
        )
    for name, (owner, end, password, console) in QUIET.items():
        status = "terminated" if name == "svc-stopped" else "active"
        rows.append(
            f"{name},{name}@example.com,{name},{status},service,{owner},{end},{password},{console}"
        )
    return rows


def _estate(rows: list[str]) -> Estate:
    return Estate(
        hr=csv_text(HEADER, rows),
        app=APP,
        source={"map": MAP, "kind_values": KINDS},
    )


def _kept_ids(config_folder: Path, rows: list[str]) -> tuple[Report, set[str]]:
    config = _estate(rows).config(config_folder)
    report = same_result(config)
    assert isinstance(report, Report), report
    found = triaged(config)
    assert found is not None
    return report, {record.id for record in found.source}


def test_only_the_services_that_can_have_findings_are_kept(tmp_path: Path) -> None:
    report, kept = _kept_ids(tmp_path, _rows())
    own = {
        finding.identity.id: finding.kind
        for finding in report.findings
        if finding.target == "hr" and finding.identity is not None
    }
    assert own == {name: case[-1] for name, case in KEPT.items()}
    assert set(KEPT) <= kept
    assert not (set(HEALTHY) | set(QUIET)) & kept
    # Their owners are kept with them, the rule counting every candidate.
    assert {"E0", "E1", "E2", "E3", "E4", "E5", "E6", "E8"} <= kept


@pytest.mark.parametrize("name", sorted(HEALTHY))
def test_a_healthy_service_is_kept_once_anything_could_give_it_a_finding(
    tmp_path: Path, name: str
) -> None:
    """The same service, made to expire yesterday: kept, with its finding."""
    rows = [
        row.replace(f",{HEALTHY[name]},,,", f",{HEALTHY[name]},2026-11-27,,")
        if row.startswith(f"{name},")
        else row
        for row in _rows()
    ]
    report, kept = _kept_ids(tmp_path, rows)
    assert name in kept
    assert any(
        finding.kind is FindingKind.EXPIRED and finding.identity and finding.identity.id == name
        for finding in report.findings
    )


def test_an_owner_whose_row_is_not_plain_keeps_its_service(tmp_path: Path) -> None:
    """``p7``'s username has a trailing space, so the engine cannot vouch for the row; its
    service is kept, and the rule finds the owner fine."""
    rows = [*_rows(), "svc-p7,svc-p7@example.com,svc-p7,active,service,p7@example.com,,,"]
    report, kept = _kept_ids(tmp_path, rows)
    assert {"svc-p7", "E7"} <= kept
    assert not any(
        finding.identity and finding.identity.id == "svc-p7" for finding in report.findings
    )


def test_an_allowlist_entry_keeps_the_service_it_names(tmp_path: Path) -> None:
    """An exception on the source names a healthy service: it is kept (the allowlist's
    report counts the identities each entry names), and the report is the usual one."""
    estate = _estate(_rows())
    estate = Estate(
        hr=estate.hr,
        app=estate.app,
        source=estate.source,
        more={
            "exceptions": [
                {
                    "target": "hr",
                    "account": "SVC-EMAIL",
                    "reason": "accepted",
                    "owner": "security@example.com",
                    "expires": "2027-06-30",
                },
                {
                    "target": "hr",
                    "account": "svc-id@example.com",
                    "reason": "accepted",
                    "owner": "security@example.com",
                    "expires": "2027-06-30",
                },
            ],
        },
    )
    config = estate.config(tmp_path)
    assert isinstance(same_result(config), Report)
    found = triaged(config)
    assert found is not None
    kept = {record.id for record in found.source}
    assert {"svc-email", "svc-id"} <= kept
    assert not {"svc-upper", "svc-username"} & kept


def test_a_service_whose_dates_are_not_iso_is_kept(tmp_path: Path) -> None:
    """With a ``date_format`` of its own, an expiry is not a plain cell: the row is read
    the usual way, and an expiry next week is no finding."""
    rows = [
        row.replace(",p0@example.com,,,", ",p0@example.com,2026-12-05,,")
        if row.startswith("svc-email,")
        else row
        for row in _rows()
    ]
    estate = _estate([_day_first(row) for row in rows])
    estate = Estate(
        hr=estate.hr,
        app=estate.app,
        source={**estate.source, "date_formats": {"expires_at": "%d/%m/%Y"}},
    )
    config = estate.config(tmp_path)
    report = same_result(config)
    assert isinstance(report, Report), report
    found = triaged(config)
    assert found is not None
    assert "svc-email" in {record.id for record in found.source}
    assert not any(f.identity and f.identity.id == "svc-email" for f in report.findings)


def _day_first(row: str) -> str:
    """The row with its ``end_date`` written day first (``05/12/2026``)."""
    cells = row.split(",")
    if cells[6]:
        year, month, day = cells[6].split("-")
        cells[6] = f"{day}/{month}/{year}"
    return ",".join(cells)
