"""``duplicate-account``: every active account of an identity that has several, each with
the link it was made by (a look-alike says so on its own finding only)."""

from __future__ import annotations

from nhirecon.core.correlate import Correlator, IdentityIndex, Link, LinkStatus, Lookalike
from nhirecon.core.duplicates import Duplicates
from nhirecon.core.model import FindingKind

from .factories import EMAIL, account, person, rules

ALICE = person("E1", email="alice@example.com")
BOB = person("E2", email="bob@example.com")


def test_every_account_of_an_identity_with_several_gets_a_finding() -> None:
    correlator = Correlator(IdentityIndex([ALICE, BOB]), [EMAIL])
    duplicates = Duplicates()
    accounts = [
        account("a3", email="ALICE@example.com"),
        account("a1", email="alice@example.com"),
        account("b1", email="bob@example.com"),
        account("a2", email="ａlice@example.com"),  # full-width: a look-alike
        account("a4", email="alice@example.com", active=False),
    ]
    for each in accounts:
        duplicates.see(each, correlator.link(each))
    found = duplicates.findings(rules())
    assert [finding.account.id for finding in found if finding.account] == ["a1", "a2", "a3"]
    assert {finding.kind for finding in found} == {FindingKind.DUPLICATE_ACCOUNT}
    assert all(finding.identity is ALICE for finding in found)
    assert all(finding.detail["accounts"] == ["a1", "a2", "a3"] for finding in found)
    lookalike = {
        finding.account.id: "lookalike" in finding.detail for finding in found if finding.account
    }
    assert lookalike == {"a1": False, "a2": True, "a3": False}


def test_a_first_account_linked_by_a_look_alike_keeps_its_note() -> None:
    duplicates = Duplicates()
    first, second = account("x1"), account("x2")
    shadow = Lookalike("email", "ａlice@example.com", "alice@example.com")
    duplicates.see(first, Link(LinkStatus.LINKED, ALICE, EMAIL, lookalike=shadow))
    duplicates.see(second, Link(LinkStatus.LINKED, ALICE, EMAIL))
    found = {
        finding.account.id: finding for finding in duplicates.findings(rules()) if finding.account
    }
    assert found["x1"].detail["lookalike"] == shadow.as_detail()
    assert "look-alike" in found["x1"].message
    assert "lookalike" not in found["x2"].detail


def test_one_account_each_is_no_duplicate() -> None:
    duplicates = Duplicates()
    duplicates.see(account("a1"), Link(LinkStatus.LINKED, ALICE, EMAIL))
    duplicates.see(account("b1"), Link(LinkStatus.LINKED, BOB, EMAIL))
    duplicates.see(account("u1"), Link(LinkStatus.UNMATCHED))
    assert duplicates.findings(rules()) == []
