"""A SCIM service that drops ``primary`` from ``emails`` and lists the home address first, or
mixes an object with a bare string: every value is tried (SPEC §4), so an active employee
is linked, never reported as an orphan, and ``plan`` never disables her.

Against the real scim2-server; the vendor's habits are a middleware that rewrites the listing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from nhirecon import config, pipeline
from nhirecon.core.report import Report

from .conftest import Run
from .scim_server import (
    HR_CSV,
    NOW,
    TOKEN,
    TOKEN_ENV,
    ScimServer,
    estate_config,
    rewrite_list,
)

SIGNED_IN = {"lastLoginAt": "2026-11-20T00:00:00Z"}
"""The estate maps ``last_login_at`` to this attribute: a path that no account holds is an
error (SPEC §3.2), so the accounts a test adds sign in."""

HR = HR_CSV + "E9,nina@corp.example,nina,Nina Nguyen,active,Engineering,\n"
HOME_FIRST = [
    {"type": "home", "value": "nina.n@mail.example"},
    {"type": "work", "value": "nina@corp.example"},
]
"""What the service sends for her: no ``primary``, the home address first."""
MIXED = ["x@corp.example", {"value": "nina@corp.example"}]
"""What another service sends: a bare string, then an object."""
REMEDIATE = "{orphan: disable, jit-orphan: disable, leaver: disable, expired: disable}"


def strip_primary_home_first(body: dict[str, Any]) -> None:
    """Drop ``primary`` from every address and list home addresses before the others."""
    for resource in body.get("Resources", []):
        emails = resource.get("emails") or []
        for address in emails:
            address.pop("primary", None)
        emails.sort(key=lambda address: address.get("type") != "home")


def mix_bare_string(body: dict[str, Any]) -> None:
    """Send Nina's addresses as a bare string followed by an object, no ``primary``."""
    for resource in body.get("Resources", []):
        if resource.get("userName") == "nina":
            resource["emails"] = json.loads(json.dumps(MIXED))


VENDORS: dict[str, Callable[[dict[str, Any]], None]] = {
    "primary-stripped-home-first": strip_primary_home_first,
    "object-and-bare-string": mix_bare_string,
}


@pytest.fixture(params=sorted(VENDORS))
def vendor(request: pytest.FixtureRequest, server: ScimServer) -> list[Any]:
    """Seed the service and put the vendor's rewrite in front of it; returns what the
    listing carries for Nina, as the client received it."""
    server.add_user(
        "nina",
        enterprise={"department": "Engineering"},
        emails=[
            {"type": "work", "value": "nina@corp.example", "primary": True},
            {"type": "home", "value": "nina.n@mail.example"},
        ],
    )
    server.add_user("mallory", email="mallory@example.com", nhi=SIGNED_IN)
    seen: list[Any] = []

    def change(body: dict[str, Any]) -> None:
        VENDORS[request.param](body)
        seen.extend(
            resource["emails"]
            for resource in body.get("Resources", [])
            if resource.get("userName") == "nina"
        )

    server.faults.add(rewrite_list(change), method="GET", path=r"/Users\?", times=None)
    return seen


@pytest.fixture
def estate(tmp_path: Path, server: ScimServer, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    (tmp_path / "hr.csv").write_text(HR, encoding="utf-8")
    path = tmp_path / "nhirecon.yaml"
    path.write_text(estate_config(server, remediate=REMEDIATE), encoding="utf-8")
    return path


def audit(path: Path) -> Report:
    return pipeline.audit(config.load(path), now=datetime(2026, 11, 28, tzinfo=UTC))


def by_username(report: Report) -> dict[str, list[tuple[str, str | None, str]]]:
    found: dict[str, list[tuple[str, str | None, str]]] = {}
    for finding in report.findings:
        if finding.account is not None and finding.account.username:
            identity = finding.identity.id if finding.identity else None
            found.setdefault(finding.account.username, []).append(
                (finding.kind.value, identity, finding.remediation.value)
            )
    return found


def plan(run: Run, tmp_path: Path) -> dict[str, Any]:
    result = run("plan", "--now", NOW, "-o", "plan.json", env={TOKEN_ENV: TOKEN})
    assert result.returncode == 0, result.stderr
    planned: dict[str, Any] = json.loads((tmp_path / "plan.json").read_text())
    return planned


def test_the_vendor_sends_what_it_is_meant_to(
    vendor: list[Any], estate: Path, request: pytest.FixtureRequest
) -> None:
    audit(estate)
    expected = HOME_FIRST if "home-first" in request.node.callspec.id else MIXED
    assert vendor and all(emails == expected for emails in vendor)


def test_she_is_linked_and_no_orphan(vendor: list[Any], estate: Path) -> None:
    report = audit(estate)
    found = by_username(report)
    assert found["nina"] == [("unmanaged", "E9", "none")]  # linked; JIT-created, so unmanaged
    assert found["mallory"] == [("jit-orphan", None, "disable")]
    [stats] = report.targets
    assert (stats.accounts, stats.linked, stats.unmatched, stats.ambiguous) == (2, 1, 1, 0)


def test_plan_through_the_command_leaves_her_alone(
    vendor: list[Any], estate: Path, run: Run, tmp_path: Path, server: ScimServer
) -> None:
    before = server.users()
    planned = plan(run, tmp_path)
    actions = {action["account"]["username"]: action["action"] for action in planned["actions"]}
    assert actions == {"mallory": "disable"}
    assert server.users() == before
    assert {seen.method for seen in server.faults.seen} == {"GET"}


def test_explain_shows_every_value_tried_and_what_each_found(
    vendor: list[Any], estate: Path, run: Run, request: pytest.FixtureRequest
) -> None:
    result = run("explain", "app", "nina", "--now", NOW, env={TOKEN_ENV: TOKEN})
    assert result.returncode == 0, result.stderr
    out = result.stdout
    other = "nina.n@mail.example" if "home-first" in request.node.callspec.id else "x@corp.example"
    assert "2. account.email = identity.email (casefold): 2 values, each tried:" in out
    assert f"- value '{other}' normalised '{other}': no identity" in out
    assert "- value 'nina@corp.example' normalised 'nina@corp.example': 1 identity: E9" in out
    assert "together: 1 identity: E9 -> linked" in out
    assert "result: linked to E9" in out


# values that find two identities ----------------------------------------------------------


@pytest.fixture
def twofold(server: ScimServer) -> None:
    """An account whose work address is a leaver's (Bob, E2) and whose home address is an
    active employee's (Alice, E1), sent without ``primary``."""
    server.add_user(
        "pat",
        emails=[
            {"type": "work", "value": "bob@example.com", "primary": True},
            {"type": "home", "value": "alice@example.com"},
        ],
    )
    server.add_user("mallory", email="mallory@example.com", nhi=SIGNED_IN)
    server.faults.add(
        rewrite_list(strip_primary_home_first), method="GET", path=r"/Users\?", times=None
    )


def test_values_that_find_two_identities_are_ambiguous_and_never_acted_on(
    twofold: None, estate: Path, run: Run, tmp_path: Path, server: ScimServer
) -> None:
    report = audit(estate)
    [ambiguous] = [f for f in report.findings if f.account and f.account.username == "pat"]
    assert ambiguous.kind.value == "ambiguous"
    assert ambiguous.detail["candidates"] == ["E1", "E2"]
    assert ambiguous.remediation.value == "manual"
    before = server.users()
    planned = plan(run, tmp_path)
    assert [action["account"]["username"] for action in planned["actions"]] == ["mallory"]
    assert [item["kind"] for item in planned["manual"] if "pat" in item["subject"]] == ["ambiguous"]
    assert server.users() == before
