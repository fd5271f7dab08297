"""Links made by compatibility folding are flagged, and several accounts of one target
linked to one identity are reported as ``duplicate-account`` (SPEC §4, §5)."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nhirecon.core.correlate import SIGNS, Correlator, IdentityIndex, LinkStatus
from nhirecon.core.duplicates import Duplicates
from nhirecon.core.findings import account_findings, lookalike_note
from nhirecon.core.model import FindingKind, Origin, Remediation
from tests.factories import ACTIVE, CLOCK, EMAIL, account, person, rules

Write = Callable[[str, str], Path]
ALICE = person("E1", email="alice@corp.example", username="alice")
INDEX = IdentityIndex([ALICE, person("E2", email="bob@corp.example")])


@pytest.mark.parametrize(
    "email",
    ["ⓐlice@corp.example", "ａlice@corp.example", "alice@corp.example", "ALICE@Corp.Example"],
)
def test_compatibility_folded_links_are_kept_and_flagged(email: str) -> None:
    link = Correlator(INDEX, [EMAIL]).link(account("a1", email=email))
    assert link.status is LinkStatus.LINKED and link.identity is ALICE
    if email.casefold() == "alice@corp.example":
        assert link.lookalike is None  # case alone is not a look-alike
    else:
        assert link.lookalike is not None
        assert link.lookalike.as_detail() == {
            "field": "email",
            "account_value": email,
            "identity_value": "alice@corp.example",
        }


@pytest.mark.parametrize(
    ("theirs", "ours", "flagged"),
    [
        ("finance@corp.example", "\ufb01nance@corp.example", True),  # the ligature ﬁ
        ("smith@corp.example", "\u017fmith@corp.example", True),  # the long ſ
        ("strasse@corp.example", "stra\u00dfe@corp.example", True),  # ß folds to ss
        ("stra\u00dfe@corp.example", "STRA\u00dfE@corp.example", False),  # case alone
        ("zo\u00e9@corp.example", "ZO\u00c9@CORP.EXAMPLE", False),  # case alone
        # Case alone, though lower() writes it otherwise: a final sigma before a dot,
        # and capitals with no composed form (J̌, T̈, Ω͂) that lower-case decomposed.
        ("νίκος.παπάς@corp.example", "ΝΊΚΟΣ.ΠΑΠΆΣ@corp.example", False),
        ("ΟΔΟΣ.Α@corp.example", "οδος.α@corp.example", False),
        ("\u01f0os\u00e9@corp.example", "J\u030cOS\u00c9@corp.example", False),
        ("\u1e97om@corp.example", "T\u0308OM@corp.example", False),
        ("\u1ff6ρα@corp.example", "\u03a9\u0342ΡΑ@corp.example", False),
        # Signs NFC turns into the letters they look like.
        ("kelvin@corp.example", "\u212aelvin@corp.example", True),  # the Kelvin sign
        ("\u212aelvin@corp.example", "\u212aELVIN@corp.example", False),  # the same sign
        # Punctuation NFC replaces by ASCII: the Greek question mark and the varia.
        ("a;b@corp.example", "a\u037eb@corp.example", True),
        ("a`b@corp.example", "a\u1fefb@corp.example", True),
        ("ab\u03b9@corp.example", "ab\u1fbe@corp.example", True),  # the prosgegrammeni
        ("ωmega@corp.example", "\u2126mega@corp.example", True),  # the Ohm sign
        ("\u00e5ngstr\u00f6m@corp.example", "\u212bngstr\u00f6m@corp.example", True),
        ("θeo@corp.example", "\u03f4eo@corp.example", True),  # ϴ lower-cases to θ
        ("\u03f4eo@corp.example", "\u03f4EO@corp.example", False),
        # Other canonical singletons are another spelling of the same text: Greek with
        # oxia against tonos (and a change of case of it), a CJK compatibility ideograph.
        ("\u03acnna@corp.example", "\u1f71nna@corp.example", False),
        ("\u1f71nna@corp.example", "\u1fbbNNA@corp.example", False),
        ("\u674e@corp.example", "\uf9e1@corp.example", False),
        # Folded alone, ΐ is decomposed; the key composes it, so its capital finds it.
        ("να\u0390ς@corp.example", "ΝΑ\u03aa\u0301Σ@corp.example", False),
    ],
)
def test_a_link_beyond_a_change_of_case_is_a_lookalike(
    theirs: str, ours: str, flagged: bool
) -> None:
    """Full case folding (the key) also folds ſ, ß and ligatures, and NFC or lower case
    turn a few signs into letters: a person reads neither as a change of case. A change
    of case however ``lower`` writes it, or another spelling of the same text, is not."""
    identity = person("E7", email=theirs)
    link = Correlator(IdentityIndex([identity]), [EMAIL]).link(account("a1", email=ours))
    assert link.status is LinkStatus.LINKED and link.identity is identity
    assert (link.lookalike is not None) is flagged
    if flagged:
        assert link.lookalike is not None and link.lookalike.account_value == ours


def _bicameral() -> list[str]:
    """Letters a change of case takes there and back (upper case, then lower case and
    composed, gives the letter again) and which NFKC leaves alone: over a thousand, in
    Latin, Greek, Cyrillic, Armenian, Cherokee and more."""
    found = []
    for code in range(0x10000):
        letter = chr(code)
        upper = letter.upper()
        if (
            letter.isalpha()
            and upper != letter
            and unicodedata.normalize("NFKC", letter) == letter
            and unicodedata.normalize("NFC", unicodedata.normalize("NFC", upper).lower()) == letter
        ):
            found.append(letter)
    return found


BICAMERAL = _bicameral()


@settings(max_examples=300, deadline=None)
@given(
    st.text(st.sampled_from([*BICAMERAL, ".", "-", "1"]), min_size=1, max_size=12),
    st.sampled_from([str.upper, str.title, str.swapcase]),
)
def test_a_change_of_case_alone_is_never_a_lookalike(
    local: str, change: Callable[[str], str]
) -> None:
    identity = person("E8", email=f"{local}@corp.example")
    ours = change(local) + "@corp.example"
    link = Correlator(IdentityIndex([identity]), [EMAIL]).link(account("a1", email=ours))
    assert link.status is LinkStatus.LINKED and link.identity is identity
    assert link.lookalike is None, (local, ours)


def test_the_signs_are_what_lower_case_or_nfc_would_hide() -> None:
    """Every character that NFKC changes while its lower case is a letter NFKC keeps, and
    every character NFC replaces by another (a singleton) but the CJK compatibility
    ideographs and the Greek letters with oxia: the plain form would turn it into what it
    looks like, so the comparison keeps it aside."""
    characters = [chr(point) for point in range(0x110000) if not 0xD800 <= point <= 0xDFFF]
    letter_like = {
        character
        for character in characters
        if character.lower() != character
        and unicodedata.normalize("NFKC", character) != character
        and unicodedata.normalize("NFKC", character.lower()) == character.lower()
    }
    singletons = {
        character
        for character in characters
        if len(composed := unicodedata.normalize("NFC", character)) == 1
        and composed != character
        and not unicodedata.name(character).startswith("CJK COMPATIBILITY IDEOGRAPH")
        and not (  # a Greek letter with oxia (the spacing accents themselves are signs)
            unicodedata.category(character).startswith("L")
            and "OXIA" in unicodedata.name(character)
        )
    }
    assert letter_like | singletons == SIGNS


def test_canonically_equivalent_forms_are_not_lookalikes() -> None:
    index = IdentityIndex([person("E3", email="zoé@corp.example")])
    decomposed = "zoe\u0301@corp.example"
    link = Correlator(index, [EMAIL]).link(account("a1", email=decomposed))
    assert link.status is LinkStatus.LINKED and link.lookalike is None


def test_a_multi_valued_field_is_a_lookalike_only_when_no_value_matches_plainly() -> None:
    def several(*emails: str) -> object:
        return account("a1", email=emails[0], multi_values={"email": emails})

    correlator = Correlator(INDEX, [EMAIL])
    plain = correlator.link(several("ａlice@corp.example", "alice@corp.example"))  # type: ignore[arg-type]
    assert plain.status is LinkStatus.LINKED and plain.lookalike is None
    folded = correlator.link(several("x@else.example", "ａlice@corp.example"))  # type: ignore[arg-type]
    assert folded.lookalike is not None
    assert folded.lookalike.account_value == "ａlice@corp.example"


def test_every_finding_of_a_lookalike_link_carries_the_flag() -> None:
    shadow = account("a9", email="ａlice@corp.example", origin=Origin.JIT)
    link = Correlator(INDEX, [EMAIL]).link(shadow)
    [finding] = account_findings(rules(), shadow, link, "hr", CLOCK, ACTIVE)
    assert finding.kind is FindingKind.UNMANAGED
    assert finding.detail["lookalike"]["account_value"] == "ａlice@corp.example"
    assert "look-alike" in finding.message


@pytest.mark.parametrize(
    ("ours", "theirs", "named"),
    [
        ("\u212aelvin@x", "kelvin@x", "; U+212A KELVIN SIGN]"),  # looks exactly like K
        ("\u03f4eo@x", "\u03b8eo@x", "; U+03F4 GREEK CAPITAL THETA SYMBOL]"),
        ("stra\u00dfe@x", "STRASSE@x", "; U+00DF LATIN SMALL LETTER SHARP S]"),
        ("\ufb01n@x", "fin@x", "; U+FB01 LATIN SMALL LIGATURE FI]"),
        ("\u017f\u017fa@x", "ssa@x", "; U+017F LATIN SMALL LETTER LONG S]"),  # each once
        # Either side: the source's value may hold the odd character.
        ("kelvin@x", "\u212aelvin@x", "; U+212A KELVIN SIGN]"),
        # A character both values hold sets nothing apart.
        ("\u212a\uff41@x", "\u212aa@x", "; U+FF41 FULLWIDTH LATIN SMALL LETTER A]"),
        (
            "\uff41\uff42\uff43\uff44@x",
            "abcd@x",
            "; U+FF41 FULLWIDTH LATIN SMALL LETTER A, U+FF42 FULLWIDTH LATIN SMALL LETTER B,"
            " U+FF43 FULLWIDTH LATIN SMALL LETTER C, and 1 more]",
        ),
        ("e\u0301@x", "\u00e9@x", "in the source]"),  # two spellings of one accent
    ],
)
def test_a_lookalike_note_names_the_characters_that_set_the_values_apart(
    ours: str, theirs: str, named: str
) -> None:
    """Values that look the same on a screen (``\u212aelvin`` and ``kelvin``) are told
    apart by the characters NFKC or full case folding changed, named by code point."""
    note = lookalike_note({"field": "email", "account_value": ours, "identity_value": theirs})
    assert note.startswith(f"[linked by a look-alike email: {ours!r} here, {theirs!r}")
    assert note.endswith(named)


def test_a_finding_of_a_kelvin_sign_link_names_the_sign() -> None:
    shadow = account("a9", email="\u212aelvin@corp.example", origin=Origin.JIT)
    index = IdentityIndex([person("E9", email="kelvin@corp.example")])
    link = Correlator(index, [EMAIL]).link(shadow)
    [finding] = account_findings(rules(), shadow, link, "hr", CLOCK, ACTIVE)
    assert finding.message.endswith("in the source; U+212A KELVIN SIGN]")


def test_several_active_accounts_of_one_identity_are_each_reported() -> None:
    correlator = Correlator(INDEX, [EMAIL])
    duplicates = Duplicates()
    records = [
        account("a1", email="alice@corp.example"),
        account("a2", email="ａlice@corp.example", origin=Origin.JIT),
        account("a3", email="ALICE@corp.example", active=False),  # disabled: not access
        account("b1", email="bob@corp.example"),
        account("x1", email="nobody@corp.example"),
    ]
    for record in records:
        duplicates.see(record, correlator.link(record))
    found = duplicates.findings(
        rules(
            remediate={FindingKind.UNMANAGED: Remediation.DISABLE}, can_write=frozenset({"disable"})
        )
    )
    assert [(f.kind, f.account.id if f.account else None) for f in found] == [
        (FindingKind.DUPLICATE_ACCOUNT, "a1"),
        (FindingKind.DUPLICATE_ACCOUNT, "a2"),
    ]
    assert all(f.detail["accounts"] == ["a1", "a2"] for f in found)
    assert all(f.identity is ALICE for f in found)
    assert all(f.remediation is Remediation.MANUAL for f in found)
    assert "lookalike" not in found[0].detail
    assert found[1].detail["lookalike"]["account_value"] == "ａlice@corp.example"
    assert found[0].fingerprint != found[1].fingerprint


def test_one_account_per_identity_is_no_duplicate() -> None:
    duplicates = Duplicates()
    correlator = Correlator(INDEX, [EMAIL])
    for record in (
        account("a1", email="alice@corp.example"),
        account("b1", email="bob@corp.example"),
    ):
        duplicates.see(record, correlator.link(record))
    assert duplicates.findings(rules()) == []
