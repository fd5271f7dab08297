"""human-use (OWASP NHI10:2025) and shared-credential (OWASP NHI9:2025)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from nhirecon.core.correlate import UNMATCHED, Link, LinkStatus
from nhirecon.core.credentials import SharedCredentials
from nhirecon.core.findings import account_findings
from nhirecon.core.model import FindingKind, Remediation
from nhirecon.core.source_findings import source_findings
from tests.conftest import NOW as NOW_TEXT
from tests.conftest import Run
from tests.factories import ACTIVE, CLOCK, EMAIL, account, days_ago, person, rules

Write = Callable[[str, str], Path]
BOT = person("S1", kind="service_account", owner="E1")


def _kinds(found: list[object]) -> list[FindingKind]:
    return [finding.kind for finding in found]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("fields", "used"),
    [
        ({"password_enabled": True}, True),
        ({"last_interactive_login_at": days_ago(3)}, True),
        ({"last_interactive_login_at": days_ago(90)}, True),  # at the limit: still recent
        ({"last_interactive_login_at": days_ago(91)}, False),
        ({"password_enabled": False, "last_login_at": days_ago(1)}, False),  # programmatic
        ({}, False),
    ],
)
def test_a_service_account_used_like_a_person(fields: dict[str, object], used: bool) -> None:
    key = account("k1", kind="service_account", **fields)
    found = account_findings(rules(), key, UNMATCHED, "hr", CLOCK, ACTIVE)
    assert (FindingKind.HUMAN_USE in _kinds(found)) is used


def test_an_account_of_a_non_human_identity_counts_and_a_person_never_does() -> None:
    linked = Link(LinkStatus.LINKED, BOT, EMAIL)
    found = account_findings(
        rules(), account("a1", password_enabled=True), linked, "hr", CLOCK, ACTIVE
    )
    [used] = [f for f in found if f.kind is FindingKind.HUMAN_USE]
    assert used.detail == {
        "kind": "service_account",
        "password_enabled": True,
        "last_interactive_login_at": None,
    }
    assert used.remediation is Remediation.NONE  # nothing configured for it
    person_link = Link(LinkStatus.LINKED, person("E1"), EMAIL)
    people = account_findings(
        rules(), account("a2", password_enabled=True), person_link, "hr", CLOCK, ACTIVE
    )
    assert FindingKind.HUMAN_USE not in _kinds(people)


def test_a_non_human_identity_of_the_source_with_a_password() -> None:
    found = source_findings(
        "hr",
        [
            person("E1", email="o@x.example"),
            person("S2", kind="bot", owner="o@x.example", password_enabled=True),
        ],
        ACTIVE,
        CLOCK,
    )
    assert _kinds(found) == [FindingKind.HUMAN_USE]
    assert found[0].identity is not None and found[0].identity.id == "S2"
    assert found[0].message == "bot S2: has an interactive password"


def test_a_credential_in_several_places_is_reported_on_each_holder() -> None:
    shared = SharedCredentials("hr")
    shared.see("hr", person("S1", kind="api_key", credential_id="AKIA1"))
    shared.see("aws", account("u1", credential_id="AKIA1"))
    shared.see("aws", account("u2", credential_id="AKIA2"))
    shared.see("ci", account("c1", credential_id=" AKIA2 "))
    shared.see("ci", account("c2", credential_id="AKIA3", active=False))
    shared.see("aws", account("u3", credential_id="AKIA3"))
    found = shared.findings()
    places = [(f.target, (f.account or f.identity).id) for f in found]  # type: ignore[union-attr]
    assert places == [("hr", "S1"), ("aws", "u1"), ("aws", "u2"), ("ci", "c1")]
    assert found[0].account is None and found[0].identity is not None
    assert found[1].detail == {"credential_id": "AKIA1", "holders": ["hr/S1", "aws/u1"]}
    assert all(f.remediation is Remediation.MANUAL for f in found)
    assert "also held by aws/u1" in found[0].message


def test_one_holder_is_no_finding() -> None:
    shared = SharedCredentials("hr")
    shared.see("aws", account("u1", credential_id="AKIA1"))
    assert shared.findings() == []


def test_both_kinds_end_to_end(run: Run, write: Write) -> None:
    write(
        "hr.csv",
        """
        id,email,kind,owner,status,key_id
        E1,ana@corp.example,human,,active,
        S1,deploy@corp.example,service_account,ana@corp.example,active,AKIAEXAMPLE1
        """,
    )
    write(
        "aws.csv",
        """
        id,email,console,last_console,key_id
        u1,deploy@corp.example,true,2026-11-20T10:00:00Z,AKIAEXAMPLE1
        u2,ana@corp.example,true,2026-11-20T10:00:00Z,
        """,
    )
    config = write(
        "nhirecon.yaml",
        """
        version: 1
        source:
          name: hr
          connector: csv
          path: hr.csv
          map: {id: id, email: email, kind: kind, owner: owner, status: status,
                credential_id: key_id}
        targets:
          - name: aws
            connector: csv
            path: aws.csv
            map: {id: id, email: email, password_enabled: console,
                  last_interactive_login_at: last_console, credential_id: key_id}
            correlate: [{account: email, identity: email}]
        """,
    )
    done = run("audit", "-c", str(config), "-f", "json", "--now", NOW_TEXT, "--no-history")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    got = sorted(
        (f["kind"], f["target"], (f["account"] or f["identity"])["id"]) for f in report["findings"]
    )
    assert got == [
        ("human-use", "aws", "u1"),
        ("shared-credential", "aws", "u1"),
        ("shared-credential", "hr", "S1"),
    ]
    shared = [f for f in report["findings"] if f["kind"] == "shared-credential"]
    identities = {f["target"]: (f["identity"] or {}).get("id") for f in shared}
    assert identities == {"aws": "S1", "hr": "S1"}  # u1 is linked to S1: its finding says so
    # explain reads one target: it says which finding about the account it cannot replay
    base = ("explain", "aws", "-c", str(config), "--now", NOW_TEXT)
    text = run(*base[:2], "u1", *base[2:])
    assert text.returncode == 0, text.stderr
    assert "not replayed: shared-credential (credential AKIAEXAMPLE1 is compared" in text.stdout
    explained = json.loads(run(*base[:2], "u1", *base[2:], "-f", "json").stdout)
    assert explained["not_replayed"] == ["shared-credential"]
    plain = run(*base[:2], "u2", *base[2:], "-f", "json")
    assert json.loads(plain.stdout)["not_replayed"] == []
    [target] = report["targets"]
    assert target["not_evaluated"] == [
        {"rule": "dormant", "reason": "the input provides no last_login_at"},
        {"rule": "stale-credential", "reason": "the input provides no credential_rotated_at"},
    ]


def test_a_password_enabled_value_that_is_not_yes_or_no_names_the_row(
    run: Run, write: Write
) -> None:
    write("hr.csv", "id,email\nE1,ana@corp.example\n")
    write("aws.csv", "id,email,console\nu1,ana@corp.example,maybe\n")
    config = write(
        "nhirecon.yaml",
        """
        version: 1
        source: {name: hr, connector: csv, path: hr.csv, map: {id: id, email: email}}
        targets:
          - {name: aws, connector: csv, path: aws.csv,
             map: {id: id, email: email, password_enabled: console}}
        """,
    )
    done = run("audit", "-c", str(config), "--now", NOW_TEXT, "--no-history")
    assert done.returncode == 3
    assert "aws.csv:2" in done.stderr and "'maybe' is not a yes/no value" in done.stderr
    assert "active_values" not in done.stderr


def test_explain_replays_no_shared_credential_for_a_disabled_account() -> None:
    """A disabled account holds nothing usable (it is never a holder), so nothing about
    its credential is left unreplayed; an active one's is."""
    from nhirecon.core.correlate import UNMATCHED
    from nhirecon.core.model import FindingKind, Record
    from nhirecon.explain import Explanation

    def explained(active: bool) -> Explanation:
        account = Record("u1", "aws.csv:2", active=active, credential_id="AKIAEXAMPLE1")
        return Explanation("aws", account, (), UNMATCHED, (), ())

    assert explained(True).not_replayed == (FindingKind.SHARED_CREDENTIAL,)
    assert explained(False).not_replayed == ()
