"""JSON read as RFC 8259 defines it: Python's ``json`` in every way, except that ``NaN``,
``Infinity`` and ``-Infinity`` are refused at their line and column."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nhirecon.core import strict_json

SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


def _not_finite(value: Any) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, dict):
        return any(_not_finite(item) for item in value.values())
    if isinstance(value, list):
        return any(_not_finite(item) for item in value)
    return False


@given(VALUES.filter(lambda value: not _not_finite(value)), st.booleans())
def test_json_reads_as_the_standard_library_reads_it(value: Any, ascii_only: bool) -> None:
    text = json.dumps(value, ensure_ascii=ascii_only, indent=1)
    assert strict_json.loads(text) == json.loads(text)
    assert strict_json.loads(text.encode("utf-8")) == json.loads(text.encode("utf-8"))


@given(
    st.lists(
        st.sampled_from(
            [
                *("NaN", "Infinity", "-Infinity", '"NaN"', '"a\\"NaN"', "1", "null"),
                *("1e400", "-2E+308", "1.5e308", '"1e400"', "11e400"),
            ]
        ),
        min_size=1,
        max_size=8,
    ),
    st.lists(st.sampled_from(["", "\n", " "]), min_size=8, max_size=8),
)
def test_a_constant_is_refused_where_it_stands(items: list[str], gaps: list[str]) -> None:
    text = "[" + ",".join(gap + item for gap, item in zip(gaps, items, strict=False)) + "]"
    value = json.loads(text)
    if not _not_finite(value):
        assert strict_json.loads(text) == value
        return
    first = next(
        (position, item) for position, item in enumerate(items) if _not_finite(json.loads(item))
    )
    offset = len("[") + sum(
        len(gap) + len(item) + 1 for gap, item in zip(gaps, items[: first[0]], strict=False)
    )
    offset += len(gaps[first[0]])
    with pytest.raises(json.JSONDecodeError) as raised:
        strict_json.loads(text)
    assert raised.value.pos == offset
    why = "is not JSON (RFC 8259" if first[1][-1] in "yN" else "is a number too large to read"
    assert raised.value.msg.startswith(f"{first[1]} {why}")
    assert raised.value.lineno == text.count("\n", 0, offset) + 1


def test_what_the_standard_library_refuses_is_refused_the_same_way() -> None:
    for text in ("\ufeff{}", "{", "[1,]", "nan", "1" * 5000):
        with pytest.raises(ValueError) as ours:
            strict_json.loads(text)
        with pytest.raises(ValueError) as theirs:
            json.loads(text)
        assert type(ours.value) is type(theirs.value) and str(ours.value) == str(theirs.value)


def test_bytes_are_decoded_as_the_standard_library_decodes_them() -> None:
    text = '{"name": "Zoë", "score": NaN}'
    for encoding in ("utf-8", "utf-16", "utf-32"):
        with pytest.raises(json.JSONDecodeError, match="NaN is not JSON") as raised:
            strict_json.loads(text.encode(encoding))
        assert raised.value.colno == text.index("NaN") + 1
    assert strict_json.loads('{"name": "Zoë"}'.encode("utf-16")) == {"name": "Zoë"}
    with pytest.raises(UnicodeDecodeError):
        strict_json.loads(b'{"name": "\xff"}')
