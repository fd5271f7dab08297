"""JSON read as RFC 8259 defines it: Python's ``json`` in every way, except that ``NaN``,
``Infinity``, ``-Infinity`` and numbers beyond a 64-bit float are refused at their line
and column."""

from __future__ import annotations

import json
import math
import subprocess
import sys
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


@pytest.mark.parametrize(
    "text",
    [
        '[{"id": "1"},\n{"id": "2", "n": NaNx}]',
        '[{"id": "1"},\n{"id": "2", "n": 1e400L}]',
        '[{"id": "NaN", "a\\"NaN": "\\\\"},\n{"id": "2", "n": -Infinity1}]',
    ],
)
def test_a_refused_value_is_placed_where_it_stands_whatever_follows(text: str) -> None:
    with pytest.raises(json.JSONDecodeError) as raised:
        strict_json.loads(text)
    at = text.index('"n": ') + len('"n": ')
    assert (raised.value.lineno, raised.value.colno) == (2, at - text.index("\n"))


def test_placing_a_refused_value_stays_linear_in_the_text() -> None:
    """A refused value run into letters, before a run of escaped quotes that never closes:
    a search that missed the value went on through the rest of the text, trying each
    quote as the start of a string again (188 s on 160 KB; hours on these 2 MB), and
    then placed it at the start. It is found where it stands, in milliseconds. Run apart,
    so that a regression fails on the time limit instead of holding the suite."""
    code = (
        "import json\n"
        "from nhirecon.core import strict_json\n"
        "try:\n"
        "    strict_json.loads('[NaNx, \"' + '\\\\\"' * 1_000_000)\n"
        "except json.JSONDecodeError as exc:\n"
        "    print(exc.lineno, exc.colno)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout == "1 2\n"
