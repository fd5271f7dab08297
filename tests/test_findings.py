"""Every finding rule of SPEC §5: a case that fires and a near miss that must not."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest

from nhirecon.core.correlate import UNMATCHED, Link, LinkStatus
from nhirecon.core.exceptions import Exceptions
from nhirecon.core.findings import Clock, account_findings
from nhirecon.core.model import (
    KIND_INFO,
    ExceptionRule,
    Finding,
    FindingKind,
    Origin,
    Record,
    Remediation,
    Severity,
    fingerprint,
)
from nhirecon.core.policy import Policy
from nhirecon.core.source_findings import source_findings

from .factories import ACTIVE, CLOCK, EMAIL, NOW, account, days_ago, person, rules

K = FindingKind


def linked(identity: Record) -> Link:
    return Link(LinkStatus.LINKED, identity, EMAIL)


def kinds(findings: list[Finding]) -> list[FindingKind]:
    return sorted((finding.kind for finding in findings), key=lambda kind: kind.value)


def run(
    acc: Record, link: Link = UNMATCHED, clock: Clock = CLOCK, **target: object
) -> list[Finding]:
    return account_findings(rules(**target), acc, link, "hr", clock, ACTIVE)  # type: ignore[arg-type]


# orphans ------------------------------------------------------------------------------


def test_unlinked_jit_account_is_a_jit_orphan() -> None:
    found = run(account("a1", origin=Origin.JIT))
    assert kinds(found) == [K.JIT_ORPHAN]
    assert found[0].severity is Severity.HIGH
    assert found[0].controls == ("OWASP-NHI1:2025", "NIST-CSF-2.0:PR.AA-01")
    assert found[0].identity is None


@pytest.mark.parametrize("origin", [Origin.SCIM, Origin.MANUAL, Origin.UNKNOWN])
def test_unlinked_account_of_any_other_origin_is_an_orphan(origin: Origin) -> None:
    assert kinds(run(account("a1", origin=origin))) == [K.ORPHAN]


def test_disabled_accounts_produce_no_finding_at_all() -> None:
    old = days_ago(500)
    acc = account(
        "a1",
        active=False,
        origin=Origin.JIT,
        created_at=old,
        expires_at=old,
        credential_rotated_at=old,
    )
    assert run(acc) == []
    assert run(acc, linked(person("E1", status="terminated"))) == []


def test_orphan_grace_suppresses_young_orphans_only() -> None:
    clock = Clock(NOW, Policy(orphan_grace_days=7))
    young = account("a1", origin=Origin.JIT, created_at=days_ago(3))
    old = account("a2", origin=Origin.JIT, created_at=days_ago(8))
    unknown_age = account("a3", origin=Origin.JIT)
    assert run(young, clock=clock) == []
    assert kinds(run(old, clock=clock)) == [K.JIT_ORPHAN]
    assert kinds(run(unknown_age, clock=clock)) == [K.JIT_ORPHAN]


# leavers and expiry -------------------------------------------------------------------


def test_active_account_of_a_terminated_identity_is_a_leaver() -> None:
    found = run(account("a1"), linked(person("E1", status="Terminated")))
    assert kinds(found) == [K.LEAVER]
    assert found[0].severity is Severity.CRITICAL
    assert "CIS-8:6.2" in found[0].controls


def test_status_in_active_status_is_not_a_leaver_whatever_the_case() -> None:
    assert run(account("a1"), linked(person("E1", status="LEAVE"))) == []


def test_account_past_its_own_expiry_is_expired() -> None:
    found = run(account("a1", expires_at=days_ago(1)), linked(person("E1")))
    assert kinds(found) == [K.EXPIRED]
    assert found[0].detail["expired"] == "account"


def test_account_of_an_identity_past_its_expiry_is_expired() -> None:
    found = run(account("a1"), linked(person("E1", expires_at=days_ago(10))))
    assert kinds(found) == [K.EXPIRED]
    assert found[0].detail["expired"] == "identity"


def test_expiry_in_the_future_is_not_expired() -> None:
    assert run(account("a1", expires_at=days_ago(-1)), linked(person("E1"))) == []


def test_a_leaver_is_reported_as_leaver_only_not_expired() -> None:
    identity = person("E1", status="terminated", expires_at=days_ago(30))
    assert kinds(run(account("a1"), linked(identity))) == [K.LEAVER]


def test_unlinked_account_past_its_own_expiry_is_expired_and_orphan() -> None:
    assert kinds(run(account("a1", expires_at=days_ago(1)))) == [K.EXPIRED, K.ORPHAN]


# attributes and management ------------------------------------------------------------


def test_compared_field_that_differs_is_a_stale_attribute() -> None:
    identity = person("E1", department="Finance", title="Analyst")
    acc = account("a1", department="Sales", title="analyst ")
    found = run(acc, linked(identity), compare=("department", "title"))
    assert kinds(found) == [K.STALE_ATTRIBUTE]
    assert found[0].detail["fields"] == [
        {"field": "department", "source": "Finance", "target": "Sales"}
    ]


def test_fields_not_compared_or_empty_in_the_source_do_not_drift() -> None:
    identity = person("E1", department="Finance", title=None)
    acc = account("a1", department="Sales", title="Boss")
    assert run(acc, linked(identity)) == []
    assert run(acc, linked(identity), compare=("title",)) == []


def test_custom_attributes_can_be_compared() -> None:
    identity = person("E1", attributes={"cost_center": "CC-1"})
    acc = account("a1", attributes={"cost_center": "CC-2"})
    found = run(acc, linked(identity), compare=("cost_center",))
    assert kinds(found) == [K.STALE_ATTRIBUTE]


def test_linked_jit_account_is_unmanaged_and_scim_one_is_not() -> None:
    identity = person("E1")
    assert kinds(run(account("a1", origin=Origin.JIT), linked(identity))) == [K.UNMANAGED]
    assert run(account("a2", origin=Origin.SCIM), linked(identity)) == []


# usage --------------------------------------------------------------------------------


def test_last_sign_in_older_than_the_limit_is_dormant() -> None:
    found = run(account("a1", last_login_at=days_ago(91)), linked(person("E1")))
    assert kinds(found) == [K.DORMANT]
    assert found[0].detail["days"] == 91


def test_sign_in_within_the_limit_is_not_dormant() -> None:
    assert run(account("a1", last_login_at=days_ago(89)), linked(person("E1"))) == []


def test_never_used_account_created_long_ago_is_dormant_and_a_new_one_is_not() -> None:
    assert kinds(run(account("a1", created_at=days_ago(120)), linked(person("E1")))) == [K.DORMANT]
    assert run(account("a2", created_at=days_ago(10)), linked(person("E1"))) == []


def test_credential_older_than_the_limit_is_stale() -> None:
    found = run(account("k1", credential_rotated_at=days_ago(200)), linked(person("E1")))
    assert kinds(found) == [K.STALE_CREDENTIAL]
    assert found[0].controls == ("OWASP-NHI7:2025",)
    assert run(account("k2", credential_rotated_at=days_ago(30)), linked(person("E1"))) == []


# ambiguity ----------------------------------------------------------------------------


def test_ambiguous_account_is_reported_and_never_gets_an_action() -> None:
    link = Link(LinkStatus.AMBIGUOUS, None, EMAIL, (person("E3"), person("E4")))
    found = run(
        account("a1"),
        link,
        remediate={K.AMBIGUOUS: Remediation.DISABLE},
        can_write=frozenset({"disable"}),
    )
    assert kinds(found) == [K.AMBIGUOUS]
    assert found[0].detail["candidates"] == ["E3", "E4"]
    assert found[0].remediation is Remediation.MANUAL


def test_no_finding_of_an_ambiguous_account_gets_an_action() -> None:
    link = Link(LinkStatus.AMBIGUOUS, None, EMAIL, (person("E3"), person("E4")))
    found = run(
        account("a1", last_login_at=days_ago(400), expires_at=days_ago(3)),
        link,
        remediate={K.DORMANT: Remediation.DELETE, K.EXPIRED: Remediation.DISABLE},
        can_write=frozenset({"disable", "delete"}),
    )
    assert set(kinds(found)) == {K.AMBIGUOUS, K.DORMANT, K.EXPIRED}
    for finding in found:
        assert finding.remediation is Remediation.MANUAL, finding.kind
        assert "ambiguous" in finding.remediation_reason


# remediation --------------------------------------------------------------------------


def test_remediation_is_the_configured_action_when_the_connector_can_write() -> None:
    found = run(
        account("a1"),
        remediate={K.ORPHAN: Remediation.DISABLE},
        can_write=frozenset({"disable", "delete"}),
        connector="scim",
    )
    assert found[0].remediation is Remediation.DISABLE


def test_remediation_is_manual_when_the_connector_cannot_write() -> None:
    found = run(account("a1"), remediate={K.ORPHAN: Remediation.DISABLE})
    assert found[0].remediation is Remediation.MANUAL
    assert "csv" in found[0].remediation_reason


def test_remediation_is_none_when_not_configured() -> None:
    found = run(account("a1"), can_write=frozenset({"disable"}))
    assert found[0].remediation is Remediation.NONE


def test_protected_accounts_never_get_an_action() -> None:
    found = run(
        account("a1", username="breakglass"),
        remediate={K.ORPHAN: Remediation.DELETE},
        can_write=frozenset({"delete"}),
        protected=frozenset({"breakglass"}),
    )
    assert kinds(found) == [K.ORPHAN]
    assert found[0].remediation is Remediation.NONE
    assert "protected" in found[0].remediation_reason


# the source itself --------------------------------------------------------------------


def nhi(id: str, **fields: object) -> Record:
    fields.setdefault("kind", "service_account")
    return person(id, **fields)


def test_non_human_identity_without_owner_is_ownerless() -> None:
    found = source_findings("hr", [nhi("S1", owner=None)], ACTIVE, CLOCK)
    assert kinds(found) == [K.OWNERLESS]
    assert found[0].target == "hr" and found[0].account is None
    assert found[0].detail["problem"] == "missing"


def test_owner_unknown_or_inactive_in_the_source_is_ownerless() -> None:
    people = [
        person("E1", email="gone@example.com", status="terminated"),
        nhi("S1", owner="nobody@example.com"),
        nhi("S2", owner="GONE@example.com"),
    ]
    found = source_findings("hr", people, ACTIVE, CLOCK)
    assert [f.detail["problem"] for f in found] == ["unknown", "inactive"]


def test_an_owner_that_names_the_identity_itself_is_ownerless_and_said_so() -> None:
    people = [nhi("S1", email="svc@example.com", owner="SVC@example.com"), nhi("S2", owner="S2")]
    found = source_findings("hr", people, ACTIVE, CLOCK)
    assert [f.detail["problem"] for f in found] == ["self", "self"]
    assert found[0].message.endswith("owner 'SVC@example.com' is the identity itself")


def test_owner_matched_by_id_email_or_username_is_fine() -> None:
    people = [
        person("E1", email="a@example.com", username="alice"),
        nhi("S1", owner="E1"),
        nhi("S2", owner="A@example.com"),
        nhi("S3", owner="alice"),
    ]
    assert source_findings("hr", people, ACTIVE, CLOCK) == []


def test_humans_and_retired_non_humans_are_not_checked_for_owners() -> None:
    people = [person("E1", owner=None), nhi("S1", owner=None, status="retired")]
    assert source_findings("hr", people, ACTIVE, CLOCK) == []


def test_active_non_human_identity_past_expiry_is_expired_on_the_source() -> None:
    people = [
        person("E1", email="o@example.com"),
        nhi("S1", owner="o@example.com", expires_at=days_ago(5)),
        nhi("S2", owner="o@example.com", expires_at=days_ago(-5)),
    ]
    found = source_findings("hr", people, ACTIVE, CLOCK)
    assert kinds(found) == [K.EXPIRED]
    assert found[0].identity is not None and found[0].identity.id == "S1"
    assert found[0].remediation is Remediation.MANUAL


# fingerprints and exceptions ----------------------------------------------------------


def test_fingerprint_is_stable_and_depends_on_kind_target_and_subject() -> None:
    first = run(account("a1"))[0].fingerprint
    assert first == run(account("a1", email="changed@example.com"))[0].fingerprint
    assert first == fingerprint(K.ORPHAN, "app", "a1")
    assert first != fingerprint(K.JIT_ORPHAN, "app", "a1")
    assert first != fingerprint(K.ORPHAN, "other", "a1")
    assert first != fingerprint(K.ORPHAN, "app", "a2")


def rule(**fields: object) -> ExceptionRule:
    values: dict[str, object] = {
        "target": "app",
        "account": "deploy-bot",
        "kind": None,
        "reason": "automation",
        "owner": "lead@example.com",
        "expires": date(2027, 1, 31),
    }
    values.update(fields)
    return ExceptionRule(**values)  # type: ignore[arg-type]


def test_active_exception_suppresses_matching_findings_by_username() -> None:
    found = run(account("a9", username="Deploy-Bot", last_login_at=days_ago(200)))
    counted, excepted = Exceptions([rule()], NOW).split(found)
    assert counted == []
    assert sorted(finding.kind.value for finding, _ in excepted) == ["dormant", "orphan"]


def test_exception_for_one_kind_leaves_other_kinds_counted() -> None:
    found = run(account("deploy-bot", last_login_at=days_ago(200)))
    counted, excepted = Exceptions([rule(kind=K.ORPHAN)], NOW).split(found)
    assert [f.kind for f in counted] == [K.DORMANT]
    assert [f.kind for f, _ in excepted] == [K.ORPHAN]


def test_exception_applies_through_its_expiry_day_and_not_after() -> None:
    found = run(account("deploy-bot"))
    last_day = Exceptions([rule(expires=date(2026, 11, 28))], NOW).split(found)
    assert last_day[0] == []
    expired = Exceptions([rule(expires=date(2026, 11, 27))], NOW).split(found)
    assert expired[1] == []
    assert expired[0][0].expired_exception is not None
    assert "exception expired 2026-11-27" in expired[0][0].message


def test_exception_for_another_target_does_not_apply() -> None:
    found = run(account("deploy-bot"))
    counted, excepted = Exceptions([rule(target="crm")], NOW).split(found)
    assert len(counted) == 1 and excepted == []


def test_every_kind_has_the_documented_severity() -> None:
    expected = {
        K.JIT_ORPHAN: Severity.HIGH,
        K.ORPHAN: Severity.HIGH,
        K.LEAVER: Severity.CRITICAL,
        K.EXPIRED: Severity.HIGH,
        K.STALE_ATTRIBUTE: Severity.MEDIUM,
        K.UNMANAGED: Severity.MEDIUM,
        K.DORMANT: Severity.MEDIUM,
        K.STALE_CREDENTIAL: Severity.HIGH,
        K.OWNERLESS: Severity.HIGH,
        K.AMBIGUOUS: Severity.MEDIUM,
        K.DUPLICATE_ACCOUNT: Severity.MEDIUM,
        K.HUMAN_USE: Severity.HIGH,
        K.SHARED_CREDENTIAL: Severity.HIGH,
    }
    assert {kind: info.severity for kind, info in KIND_INFO.items()} == expected


def test_records_are_immutable() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        account("a1").id = "x"  # type: ignore[misc]


def test_messages_say_one_day_and_an_empty_value_in_words() -> None:
    identity = person("E1", email="a@x.example", department="Sales")
    expired = account("a1", email="a@x.example", department=None, expires_at=days_ago(1.5))
    link = Link(LinkStatus.LINKED, identity)
    found = account_findings(rules(compare=("department",)), expired, link, "hr", CLOCK, ACTIVE)
    messages = {finding.kind: finding.message for finding in found}
    assert messages[FindingKind.EXPIRED].endswith("(1 day ago)")
    assert messages[FindingKind.STALE_ATTRIBUTE].endswith("(department: hr 'Sales', app (empty))")
    bot = person("S1", kind="service_account", owner="E1", expires_at=days_ago(1.5))
    [source_expired] = [
        item
        for item in source_findings("hr", [identity, bot], ACTIVE, CLOCK)
        if item.kind is FindingKind.EXPIRED
    ]
    assert source_expired.message.endswith("(1 day ago)")
