"""The ASCII shortcuts of normalisation give exactly what the full Unicode path gives."""

from __future__ import annotations

import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from nhirecon.core.compare import _comparable
from nhirecon.core.values import normalise

TEXT = st.one_of(
    st.text(alphabet=st.characters(max_codepoint=127)),
    st.text(),
    st.sampled_from(["  Alice@Example.COM ", "\tBob\n", "ＡＬＩＣＥ", "Straße", "K", "ſ", ""]),
)


def reference_normalise(value: str, casefold: bool) -> str:
    value = unicodedata.normalize("NFKC", value.strip())
    return value.casefold() if casefold else value


def reference_comparable(value: str) -> str | None:
    return " ".join(unicodedata.normalize("NFKC", value).split()).casefold() or None


@given(TEXT, st.booleans())
def test_normalise_is_nfkc_then_casefold(value: str, casefold: bool) -> None:
    assert normalise(value, casefold=casefold) == reference_normalise(value, casefold)


@given(TEXT)
def test_compared_values_are_nfkc_spaces_collapsed_and_casefolded(value: str) -> None:
    assert _comparable(value) == reference_comparable(value)


def test_ascii_shortcut_keeps_case_only_when_not_folding() -> None:
    assert normalise(" MixedCase ", casefold=False) == "MixedCase"
    assert normalise(" MixedCase ", casefold=True) == "mixedcase"
    assert _comparable("  Sales   EMEA ") == "sales emea"
