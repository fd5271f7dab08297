"""Correlation (SPEC §4): rules in order, exactly-one links, several is ambiguous."""

from __future__ import annotations

from nhirecon.core.correlate import Correlator, IdentityIndex, LinkStatus, Step

from .factories import EMAIL, EXTERNAL_ID, USERNAME_TO_EMAIL, account, person

PEOPLE = [
    person("E1", email="alice@example.com", username="alice"),
    person("E2", email="bob@example.com", username="bob"),
    person("E3", email="shared@example.com"),
    person("E4", email="shared@example.com"),
    person("E5", email=None, username="nomail"),
]


def correlator(*rules: object) -> Correlator:
    return Correlator(IdentityIndex(PEOPLE), rules)  # type: ignore[arg-type]


def test_first_rule_with_one_match_links_and_stops() -> None:
    trail: list[Step] = []
    link = correlator(EXTERNAL_ID, EMAIL).link(
        account("a1", external_id="E2", email="alice@example.com"), trail
    )
    assert link.status is LinkStatus.LINKED
    assert link.identity is not None and link.identity.id == "E2"
    assert link.rule == EXTERNAL_ID
    assert len(trail) == 1


def test_rule_with_no_match_passes_to_the_next() -> None:
    trail: list[Step] = []
    link = correlator(EXTERNAL_ID, EMAIL).link(
        account("a1", external_id="X9", email="alice@example.com"), trail
    )
    assert link.identity is not None and link.identity.id == "E1"
    assert trail[0].matches == ()
    assert trail[1].rule == EMAIL


def test_several_matches_make_the_account_ambiguous_and_stop() -> None:
    trail: list[Step] = []
    link = correlator(EMAIL, USERNAME_TO_EMAIL).link(
        account("a1", email="shared@example.com", username="alice@example.com"), trail
    )
    assert link.status is LinkStatus.AMBIGUOUS
    assert {candidate.id for candidate in link.candidates} == {"E3", "E4"}
    assert link.identity is None
    assert len(trail) == 1, "an ambiguous rule stops: later rules must not guess"


def test_no_rule_matching_leaves_the_account_unmatched() -> None:
    link = correlator(EMAIL).link(account("a1", email="carol@example.com"))
    assert link.status is LinkStatus.UNMATCHED


def test_empty_values_never_match_even_other_empty_values() -> None:
    trail: list[Step] = []
    link = correlator(EMAIL).link(account("a1", email=None), trail)
    assert link.status is LinkStatus.UNMATCHED
    assert trail[0].probes[0].key is None
    whitespace = correlator(EMAIL).link(account("a2", email="   "))
    assert whitespace.status is LinkStatus.UNMATCHED


def test_emails_compare_trimmed_and_case_folded() -> None:
    link = correlator(EMAIL).link(account("a1", email="  ALICE@Example.COM "))
    assert link.identity is not None and link.identity.id == "E1"


def test_nfkc_folds_compatibility_forms() -> None:
    fullwidth = "ａｌｉｃｅ@example.com"  # fullwidth letters fold to ASCII under NFKC
    link = correlator(EMAIL).link(account("a1", email=fullwidth))
    assert link.identity is not None and link.identity.id == "E1"


def test_look_alike_letters_from_other_scripts_do_not_match() -> None:
    cyrillic_a = "\u0430lice@example.com"
    link = correlator(EMAIL).link(account("a1", email=cyrillic_a))
    assert link.status is LinkStatus.UNMATCHED


def test_ids_compare_exactly() -> None:
    link = correlator(EXTERNAL_ID).link(account("a1", external_id="e1"))
    assert link.status is LinkStatus.UNMATCHED
    exact = correlator(EXTERNAL_ID).link(account("a2", external_id="E1"))
    assert exact.identity is not None and exact.identity.id == "E1"


def test_username_rule_against_identity_emails_case_folds_both_sides() -> None:
    link = correlator(USERNAME_TO_EMAIL).link(account("a1", username="Bob@Example.com"))
    assert link.identity is not None and link.identity.id == "E2"
