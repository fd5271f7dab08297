"""Exceptions and ``protected`` entries match exactly after case-folding, never a look-alike,
and an entry that names several accounts is reported (SPEC §5)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest

from nhirecon.core.allowlist import BroadEntry, ListName, Tally, entry_key, names
from nhirecon.core.correlate import UNMATCHED
from nhirecon.core.exceptions import Exceptions
from nhirecon.core.findings import account_findings
from nhirecon.core.model import ExceptionRule, FindingKind, Origin, Remediation
from tests.factories import ACTIVE, CLOCK, NOW, account, rules

Write = Callable[[str, str], Path]


@pytest.mark.parametrize(
    "name",
    [
        "BreakGlass",
        " breakglass ",
        "BREAKGLASS",
    ],
)
def test_an_entry_names_its_account_in_any_case(name: str) -> None:
    assert entry_key("breakglass") in names(account("a1", username=name))


@pytest.mark.parametrize(
    ("entry", "name"),
    [
        ("stra\u00dfe", "STRA\u00dfE"),
        ("stra\u00dfe", "STRA\u1e9eE"),  # the capital ẞ
        ("ΟΔΟΣ", "οδος"),  # a final sigma
        ("\u01f0os\u00e9", "J\u030cOS\u00c9"),  # a capital with no composed form
    ],
)
def test_an_entry_names_its_account_in_any_case_in_any_script(entry: str, name: str) -> None:
    assert entry_key(entry) in names(account("a1", username=name))


@pytest.mark.parametrize(
    ("entry", "name"),
    [
        ("jos\u00e9-admin", "jose\u0301-admin"),  # composed entry, decomposed account
        ("jose\u0301-admin", "JOS\u00c9-ADMIN"),  # decomposed entry, composed account
        ("\uac00", "\u1100\u1161"),  # a Hangul syllable and its jamo
        ("\u0958ila", "\u0915\u093cila"),  # excluded from composition: stays decomposed
    ],
)
def test_an_entry_names_its_account_however_its_accents_are_encoded(entry: str, name: str) -> None:
    """NFC and NFD are the same text (canonical equivalence, UAX #15): a `protected` entry
    typed in one form must cover an account stored in the other, or the account is open
    to --apply while the config says it is protected."""
    assert entry_key(entry) in names(account("a1", username=name))


@pytest.mark.parametrize(("sign", "letter"), [("\u212b", "\u00c5"), ("\u2126", "\u03a9")])
def test_a_sign_nfc_would_make_a_letter_is_not_that_letter(sign: str, letter: str) -> None:
    """The Angstrom and Ohm signs are canonically the letters Å and Ω, as the Kelvin sign is
    K; composing accents does not make them the same entry."""
    assert entry_key(f"lab-{letter}") not in names(account("a1", username=f"lab-{sign}"))
    assert entry_key(f"lab-{sign}") in names(account("a1", username=f"lab-{sign}"))


@pytest.mark.parametrize(
    "lookalike",
    [
        "ｂｒｅａｋｇｌａｓｓ",  # full width
        "ⓑreakglass",  # circled
        "breakglaſs",  # long s: Unicode case folding alone maps it to s
        "brea\u212aglass",  # Kelvin sign: case folding alone maps it to k
        "break\u200bglass",  # zero-width space
        "breakglass\u0307",  # combining dot
        "breakgla\u00df",  # ß: full case folding alone makes it ss
    ],
)
def test_a_lookalike_is_never_the_entry(lookalike: str) -> None:
    assert entry_key("breakglass") not in names(account("a1", username=lookalike))
    # an entry written with the same characters names it exactly
    assert entry_key(lookalike) in names(account("a1", username=lookalike))


def test_an_email_field_that_is_not_an_address_names_nothing() -> None:
    planted = account("a7", username="mallory", email="breakglass")
    assert names(planted) == {"a7", "mallory"}
    assert "ops@corp.example" in names(account("a8", email="Ops@Corp.example"))


def _orphan(id: str, **fields: object) -> list[object]:
    target = rules(
        remediate={FindingKind.ORPHAN: Remediation.DISABLE},
        can_write=frozenset({"disable"}),
        protected=frozenset({"breakglass"}),
    )
    return list(account_findings(target, account(id, **fields), UNMATCHED, "hr", CLOCK, ACTIVE))


@pytest.mark.parametrize(
    ("fields", "protected"),
    [
        ({"username": "BreakGlass"}, True),
        ({"username": "ｂｒｅａｋｇｌａｓｓ"}, False),
        ({"username": "mallory", "email": "breakglass"}, False),
        ({"username": "mallory", "email": "ｂｒｅａｋｇｌａｓｓ@corp.example"}, False),
    ],
)
def test_protected_covers_the_account_and_no_lookalike(
    fields: dict[str, object], protected: bool
) -> None:
    [finding] = _orphan("a1", **fields)
    assert finding.remediation is (Remediation.NONE if protected else Remediation.DISABLE)  # type: ignore[attr-defined]


def _exception(account_name: str) -> ExceptionRule:
    return ExceptionRule("app", account_name, None, "deploys", "sec@corp.example", date(2027, 1, 1))


def test_an_exception_that_names_several_accounts_suppresses_none() -> None:
    tally = Tally("app", [(ListName.EXCEPTIONS, "deploy-bot")])
    bot, shadow = (
        account("a1", username="deploy-bot"),
        account("a2", username="DEPLOY-BOT", origin=Origin.JIT),
    )
    for record in (bot, shadow, account("a3", username="someone")):
        tally.see(record)
    broad = tally.broad()
    assert broad == [BroadEntry(ListName.EXCEPTIONS, "app", "deploy-bot", ("a1", "a2"))]
    found = [*_orphan("a1", username="deploy-bot"), *_orphan("a2", username="DEPLOY-BOT")]
    counted, excepted = Exceptions([_exception("deploy-bot")], NOW, broad).split(found)  # type: ignore[arg-type]
    assert excepted == [] and len(counted) == 2
    assert all("names 2 accounts" in finding.message for finding in counted)
    assert all(finding.detail["exception_names_several"] == ["a1", "a2"] for finding in counted)
    # the same exception, naming one account, suppresses it
    counted, excepted = Exceptions([_exception("deploy-bot")], NOW).split(found[:1])  # type: ignore[arg-type]
    assert counted == [] and len(excepted) == 1


def test_one_account_named_twice_by_an_entry_is_one_account() -> None:
    tally = Tally("app", [(ListName.PROTECTED, "ops@corp.example")])
    tally.see(account("ops@corp.example", username="ops@corp.example", email="OPS@corp.example"))
    assert tally.broad() == []


def test_an_entry_that_names_no_account_is_idle() -> None:
    entries = [
        (ListName.PROTECTED, "breakglas"),  # misspelt
        (ListName.PROTECTED, "BreakGlass"),
        (ListName.EXCEPTIONS, "ｂｒｅａｋｇｌａｓｓ"),  # full width: never breakglass
    ]
    tally = Tally("app", entries)
    tally.see(account("a1", username="breakglass"))
    assert tally.idle() == [
        BroadEntry(ListName.PROTECTED, "app", "breakglas", ()),
        BroadEntry(ListName.EXCEPTIONS, "app", "ｂｒｅａｋｇｌａｓｓ", ()),
    ]
    assert tally.broad() == []
    assert tally.idle()[0].effect == "protects nothing"
    assert tally.idle()[1].message == (
        "exceptions entry 'ｂｒｅａｋｇｌａｓｓ' on app names no account: suppresses nothing"
    )
