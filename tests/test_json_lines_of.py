"""The line each record of a JSON document starts on."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from nhirecon.connectors.json_lines_of import locate

values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)
records = st.lists(st.dictionaries(st.text(), values, max_size=4), max_size=6)


def element_lines(text: str, path: tuple[str, ...], expected: int) -> list[int] | None:
    """The lines :func:`locate` gives, each element's brackets checked against it."""
    found = locate(text, path, expected)
    if found is None:
        return None
    assert len(found.opened) == len(found.lines)
    return found.lines


def containers(value: Any) -> int:
    """How many objects and arrays ``value`` holds, itself included: no fewer than the
    levels it nests."""
    if isinstance(value, dict):
        return 1 + sum(containers(each) for each in value.values())
    if isinstance(value, list):
        return 1 + sum(containers(each) for each in value)
    return 0


def _starts(text: str, count: int, opening: int) -> list[int]:
    """Lines of the records in text that ``json.dumps(..., indent=1)`` wrote, found by
    decoding: record i starts where its own text does."""
    decoder = json.JSONDecoder()
    lines, at = [], opening
    for _ in range(count):
        while text[at] in " \n,":
            at += 1
        lines.append(text.count("\n", 0, at) + 1)
        _, at = decoder.raw_decode(text, at)
    return lines


@given(records)
def test_a_top_level_array(items: list[dict[str, Any]]) -> None:
    text = json.dumps(items, indent=1)
    assert element_lines(text, (), len(items)) == _starts(text, len(items), 1)
    found = locate(text, (), len(items))
    assert found is not None
    for item, opened in zip(items, found.opened, strict=True):
        brackets = sum(json.dumps(item).count(each) for each in "{[")  # those in strings too
        assert opened == brackets >= containers(item)


@given(records, st.sampled_from(["Resources", "value", 'a"b\\c', "ünï"]))
def test_an_array_under_a_member(items: list[dict[str, Any]], name: str) -> None:
    document = {"before": {name: [{"x": 1}]}, name: items, "after": [name]}
    text = json.dumps(document, indent=1)
    opening = text.index("[", text.index("\n " + json.dumps(name) + ": ["))  # top level
    expected = _starts(text, len(items), opening + 1)
    assert element_lines(text, (name,), len(items)) == expected


def test_a_nested_path_and_a_member_named_twice() -> None:
    text = '{"data": {"users": [\n{"id": 1},\n{"id": 2}]}}'
    assert element_lines(text, ("data", "users"), 2) == [2, 3]
    twice = '{"value": [{"id": 1}], "value": [\n{"id": 2}]}'
    assert element_lines(twice, ("value",), 1) == [2]  # JSON keeps the last, and so does this
    assert element_lines(twice, ("value",), 2) is None  # better unknown than wrong


def test_a_member_named_twice_never_lends_its_elements_to_the_last() -> None:
    """JSON keeps the last array; one element of the first, and one element that is not an
    object in the last, must not add up to the count of the records kept."""
    text = '{"value": [\n{"id": "X1"}\n],\n"value": [\n{"email": "b@example.com"},\n5\n]}'
    assert json.loads(text)["value"] == [{"email": "b@example.com"}, 5]
    assert locate(text, ("value",), 2) == ([5, 6], [1, 0])
    nested = '{"d": {"u": [{}, {}]}, "d": {"u": [\n{}]}}'
    assert element_lines(nested, ("d", "u"), 1) == [2]


def test_brackets_and_quotes_in_strings_and_elements_that_are_not_objects() -> None:
    """Every element is located, an object or not (one that is not is refused by the
    caller, at its line); a bracket or an escaped quote inside a string, and arrays and
    objects nested in an element, do not move the count."""
    text = (
        '{"meta": {"Resources": "[{"}, "Resources": [\n'
        '  1, "x{\\"[", [ {"in": 1} ],\n'
        '  {"a": "]}\\\\", "b": [[], {"c": "{"}]},\n'
        "\n"
        '  {"d": {"e": [{}]}}, null\n'
        '], "after": [{"f": 1}]}'
    )
    document = json.loads(text)
    assert [type(each).__name__ for each in document["Resources"]] == [
        "int", "str", "list", "dict", "dict", "NoneType"
    ]  # fmt: skip
    assert element_lines(text, ("Resources",), 6) == [2, 2, 2, 3, 5, 5]
    assert locate(text, ("Resources",), 6) == (
        [2, 2, 2, 3, 5, 5],
        [0, 2, 2, 5, 4, 0],  # brackets in a string count too: a bound, never too few
    )
    assert element_lines(text, ("after",), 1) == [6]
    assert element_lines(text, ("Resources",), 2) is None
    assert element_lines("[]", (), 0) == []
    assert element_lines('[{"a": "b"}, {}]', (), 2) == [1, 1]
