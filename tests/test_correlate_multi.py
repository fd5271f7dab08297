"""Multi-valued fields in correlation (SPEC §4): every value is tried, on either side, and the
distinct identities they find together decide. No value is picked by its place in a list."""

from __future__ import annotations

from types import MappingProxyType

import pytest

from nhirecon.core.correlate import Correlator, IdentityIndex, Link, LinkStatus, Step
from nhirecon.core.exceptions import Exceptions
from nhirecon.core.findings import account_findings, subject_keys
from nhirecon.core.model import ExceptionRule, FindingKind, Origin, Record, Remediation
from nhirecon.core.policy import CorrelationRule

from .factories import ACTIVE, CLOCK, EMAIL, EXTERNAL_ID, NOW, USERNAME_TO_EMAIL, person, rules

NINA = person("E7", email="nina@corp.example", username="nina")
OMAR = person("E8", email="omar@corp.example", username="omar")
GONE = person("E9", email="gone@corp.example", status="terminated")
SHARED = [
    person("E10", email="team@corp.example"),
    person("E11", email="team@corp.example"),
]
PEOPLE = [NINA, OMAR, GONE, *SHARED]


def several(id: str, field: str, *values: str, **fields: object) -> Record:
    """An account whose ``field`` holds ``values``; the field itself shows the first."""
    return Record(
        id=id,
        location=f"app.json[{id}]",
        multi_values=MappingProxyType({field: values}),
        **{field: values[0]},  # type: ignore[arg-type]
        **fields,  # type: ignore[arg-type]
    )


def link(account: Record, *rules_: CorrelationRule, trail: list[Step] | None = None) -> Link:
    return Correlator(IdentityIndex(PEOPLE), rules_ or (EMAIL,)).link(account, trail)


# the account side ---------------------------------------------------------------------


def test_a_value_that_is_not_listed_first_still_links() -> None:
    account = several("a1", "email", "nina.n@mail.example", "nina@corp.example")
    result = link(account)
    assert result.status is LinkStatus.LINKED
    assert result.identity is NINA
    assert result.rule == EMAIL


def test_values_that_find_two_identities_make_the_account_ambiguous() -> None:
    account = several("a1", "email", "omar@corp.example", "x@mail.example", "NINA@corp.example")
    result = link(account)
    assert result.status is LinkStatus.AMBIGUOUS
    assert result.identity is None
    assert [c.id for c in result.candidates] == ["E7", "E8"]


def test_one_value_that_is_shared_makes_the_account_ambiguous_whatever_the_others() -> None:
    account = several("a1", "email", "team@corp.example", "nina@corp.example")
    result = link(account)
    assert result.status is LinkStatus.AMBIGUOUS
    assert [c.id for c in result.candidates] == ["E10", "E11", "E7"]


def test_values_that_find_nothing_pass_to_the_next_rule() -> None:
    account = several(
        "a1", "email", "x@mail.example", "y@mail.example", username="omar@corp.example"
    )
    trail: list[Step] = []
    result = link(account, EMAIL, USERNAME_TO_EMAIL, trail=trail)
    assert result.identity is OMAR
    assert result.rule == USERNAME_TO_EMAIL
    assert [len(step.probes) for step in trail] == [2, 1]
    assert trail[0].matches == ()


def test_values_that_find_nothing_in_any_rule_leave_the_account_unmatched() -> None:
    account = several("a1", "email", "x@mail.example", "y@mail.example")
    assert link(account).status is LinkStatus.UNMATCHED


def test_one_identity_found_through_two_values_is_one_identity() -> None:
    nina_twice = person("E7", email="nina@corp.example", username="nina@corp.example")
    index = IdentityIndex([nina_twice, OMAR])
    account = several("a1", "email", "Nina@Corp.Example", "nina@corp.example ")
    result = Correlator(index, [EMAIL]).link(account)
    assert result.status is LinkStatus.LINKED
    assert result.identity is nina_twice


def test_every_value_is_shown_in_the_trail_with_what_it_found() -> None:
    account = several("a1", "email", "nina.n@mail.example", "NINA@corp.example")
    trail: list[Step] = []
    link(account, EXTERNAL_ID, EMAIL, trail=trail)
    external, email = trail
    assert [(p.value, p.key, p.matches) for p in external.probes] == [(None, None, ())]
    assert [(p.value, p.key, p.matches) for p in email.probes] == [
        ("nina.n@mail.example", "nina.n@mail.example", ()),
        ("NINA@corp.example", "nina@corp.example", (NINA,)),
    ]
    assert email.matches == (NINA,)


def test_the_order_of_the_values_changes_nothing() -> None:
    values = ("team@corp.example", "nina.n@mail.example", "omar@corp.example")
    first, *others = [
        link(several("a1", "email", *order))
        for order in (values, values[::-1], values[1:] + values[:1])
    ]
    assert first.status is LinkStatus.AMBIGUOUS
    assert all(other == first for other in others)


def test_a_single_valued_account_is_correlated_as_before() -> None:
    trail: list[Step] = []
    account = Record(id="a1", location="app.csv:2", email="omar@corp.example")
    result = link(account, trail=trail)
    assert result.identity is OMAR
    [step] = trail
    assert [(p.value, p.key) for p in step.probes] == [("omar@corp.example", "omar@corp.example")]


# the identity side --------------------------------------------------------------------


def test_an_identity_with_several_emails_is_found_by_each_of_them_once() -> None:
    pat = several("E20", "email", "pat@corp.example", "Pat@Corp.example", "p.ray@corp.example")
    index = IdentityIndex([pat, OMAR])
    for address in ("pat@corp.example", "P.Ray@corp.example"):
        result = Correlator(index, [EMAIL]).link(Record(id="a1", location="x", email=address))
        assert result.status is LinkStatus.LINKED
        assert result.identity is pat


def test_an_alias_held_by_two_identities_is_ambiguous() -> None:
    pat = several("E20", "email", "pat@corp.example", "ops@corp.example")
    sam = several("E21", "email", "sam@corp.example", "ops@corp.example")
    index = IdentityIndex([sam, pat])
    result = Correlator(index, [EMAIL]).link(
        Record(id="a1", location="x", email="ops@corp.example")
    )
    assert result.status is LinkStatus.AMBIGUOUS
    assert [c.id for c in result.candidates] == ["E20", "E21"]


def test_both_sides_multi_valued() -> None:
    pat = several("E20", "email", "pat@corp.example", "p.ray@corp.example")
    index = IdentityIndex([pat, NINA])
    account = several("a1", "email", "home@mail.example", "p.ray@corp.example", "pat@corp.example")
    result = Correlator(index, [EMAIL]).link(account)
    assert result.status is LinkStatus.LINKED and result.identity is pat


# what the findings make of it ---------------------------------------------------------


def test_an_ambiguous_multi_valued_account_never_gets_an_action() -> None:
    """One value finds a leaver, another an active employee: never guess, never act."""
    account = several("a1", "email", "gone@corp.example", "nina@corp.example", origin=Origin.JIT)
    result = link(account)
    assert result.status is LinkStatus.AMBIGUOUS
    everything = dict.fromkeys(FindingKind, Remediation.DISABLE)
    target = rules(remediate=everything, can_write=frozenset({"disable", "delete"}))
    found = account_findings(target, account, result, "hr", CLOCK, ACTIVE)
    assert [finding.kind for finding in found] == [FindingKind.AMBIGUOUS]
    assert found[0].remediation is Remediation.MANUAL
    assert found[0].detail["candidates"] == ["E7", "E9"]


def test_a_linked_multi_valued_account_is_no_orphan() -> None:
    account = several("a1", "email", "nina.n@mail.example", "nina@corp.example", origin=Origin.JIT)
    target = rules(
        remediate={FindingKind.JIT_ORPHAN: Remediation.DISABLE},
        can_write=frozenset({"disable"}),
    )
    found = account_findings(target, account, link(account), "hr", CLOCK, ACTIVE)
    assert [finding.kind for finding in found] == [FindingKind.UNMANAGED]
    assert found[0].remediation is Remediation.NONE


@pytest.mark.parametrize("named", ["nina@corp.example", "NINA.N@mail.example"])
def test_protected_and_exceptions_match_any_of_the_values(named: str) -> None:
    account = several("a1", "email", "nina.n@mail.example", "nina@corp.example", origin=Origin.JIT)
    assert {"a1", "nina.n@mail.example", "nina@corp.example"} <= subject_keys(account)
    target = rules(
        remediate={FindingKind.JIT_ORPHAN: Remediation.DISABLE},
        can_write=frozenset({"disable"}),
        protected=frozenset({named.casefold()}),
    )
    unmatched = Correlator(IdentityIndex([OMAR]), [EMAIL]).link(account)
    [orphan] = account_findings(target, account, unmatched, "hr", CLOCK, ACTIVE)
    assert orphan.remediation is Remediation.NONE and "protected" in orphan.remediation_reason
    rule = ExceptionRule("app", named, None, "accepted", "sec@corp.example", NOW.date())
    counted, excepted = Exceptions([rule], NOW).split([orphan])
    assert counted == [] and len(excepted) == 1


def test_compare_drifts_only_when_no_value_of_the_source_is_on_the_account() -> None:
    identity = person("E7", email="nina@corp.example")
    linked = Link(LinkStatus.LINKED, identity, EMAIL)
    target = rules(compare=("email",))

    def stale(account: Record) -> list[object]:
        found = account_findings(target, account, linked, "hr", CLOCK, ACTIVE)
        return [f.detail for f in found if f.kind is FindingKind.STALE_ATTRIBUTE]

    assert stale(several("a1", "email", "nina.n@mail.example", "Nina@corp.example")) == []
    assert stale(several("a2", "email", "nina.n@mail.example", "n@corp.example")) == [
        {
            "fields": [
                {
                    "field": "email",
                    "source": "nina@corp.example",
                    "target": ["nina.n@mail.example", "n@corp.example"],
                }
            ]
        }
    ]
