"""YAML is read with libyaml's parser where PyYAML has it, and with PyYAML's own otherwise
or when a document fails: a document both read must read alike, and what ``load`` says
must not change with libyaml, but for the few malformed texts only libyaml reads."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nhirecon import yamlsafe

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(
    yamlsafe._FastLoader is None, reason="PyYAML was built without libyaml"
)


def read(loader: object, text: str, as_written: bool = False) -> tuple[str, object]:
    """What one parser makes of ``text``: the document and its lines, or the error."""
    try:
        document = yamlsafe._read(loader(text), yamlsafe.MAX_NODES, as_written)  # type: ignore[operator]
    except yamlsafe.YamlError as exc:
        return "error", (str(exc), exc.line)
    except yaml.YAMLError as exc:  # PyYAML's reader, up front
        return "error", (str(exc), None)
    return "read", (document.data, document.lines)


def loaded(text: str, as_written: bool = False) -> tuple[str, object]:
    """What :func:`yamlsafe.load` makes of ``text``."""
    try:
        document = yamlsafe.load(text, as_written=as_written)
    except yamlsafe.YamlError as exc:
        return "error", (str(exc), exc.line)
    return "read", (document.data, document.lines)


def agree(text: str, *, lenient: bool = False) -> None:
    """libyaml, where it is used, reads ``text`` as PyYAML does, and ``load`` says the
    same with libyaml as without it. With ``lenient``, libyaml may also read a text that
    PyYAML refuses (a few malformed ones: ``>#``, a `` ? `` inside ``[...]`` or
    ``{...}``), but never read one differently. Each as a config is read, and as data
    (``as_written``: YAML's guesses of numbers, booleans and dates left as text)."""
    for as_written in (False, True):
        python = read(yamlsafe._Loader, text, as_written)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(yamlsafe, "_FastLoader", None)
            without = loaded(text, as_written)
        if not yamlsafe._PYTHON_ONLY.search(text):
            fast = read(yamlsafe._FastLoader, text, as_written)
            if fast[0] == "read" and python[0] == "error" and lenient:
                assert loaded(text, as_written) == fast
                continue
            if fast[0] == "read":
                assert fast == python, text
        assert loaded(text, as_written) == without, text


def yaml_files() -> list[Path]:
    found = [
        path
        for pattern in ("**/*.yaml", "**/*.yml")
        for path in ROOT.glob(pattern)
        if ".git" not in path.parts and "mutants" not in path.parts
    ]
    assert len(found) > 30
    return sorted(found)


def test_every_yaml_file_of_the_project_reads_alike() -> None:
    for path in yaml_files():
        text = path.read_bytes().decode("utf-8", errors="replace")
        agree(text)


def test_libyaml_is_what_reads_a_good_document() -> None:
    """The fast parser is really used: a document it reads is not read again."""
    text = (ROOT / "config.sample.yaml").read_text(encoding="utf-8")
    calls: list[str] = []

    class Counted(yamlsafe._Loader):
        def __init__(self, stream: str) -> None:
            calls.append("python")
            super().__init__(stream)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(yamlsafe, "_Loader", Counted)
        yamlsafe.load(text)
        assert calls == []
        with pytest.raises(yamlsafe.YamlError, match=r"found character '\\t'"):
            yamlsafe.load("a: 1\n\tb: 2\n")
        assert calls == ["python"], "a failed document is read again by PyYAML's own"


@pytest.mark.parametrize(
    "text",
    [
        "a\t",  # libyaml reads "a"; PyYAML refuses the tab
        "key: value\t# a comment\n",
        "a:\n\tb: 1\n",
        "\ufeff\ufeff",  # libyaml skips the second mark too; PyYAML reads it as text
        "a: 1\n\ufeffb: 2\n",
        "a: !\n",  # the non-specific tag on nothing: libyaml reads "", PyYAML null
        "- !\n- ! x\n",
        "! : a\n",
        "[! ]\n",
        "!\n",
        "a: \x00\n",
        "a: \ud800\n",
    ],
)
def test_what_only_pyyaml_reads_is_read_by_it(text: str) -> None:
    agree(text)


SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=12)
    | st.dates(min_value=dt.date(1, 1, 1))
    | st.sampled_from(["yes", "No", "~", "0o17", "0x1F", "1_000", "2026-02-30", ".inf", "<<"])
)
DATA = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=8) | st.integers(), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    DATA,
    st.sampled_from([None, True, False]),
    st.booleans(),
    st.integers(min_value=2, max_value=8),
    st.integers(min_value=20, max_value=100),
)
def test_dumped_documents_read_alike(
    data: object, flow: bool | None, unicode: bool, indent: int, width: int
) -> None:
    text = yaml.safe_dump(
        data, default_flow_style=flow, allow_unicode=unicode, indent=indent, width=width
    )
    agree(text)


PIECES = st.sampled_from(
    [
        "a", "b: ", "- ", "  ", "\t", "\n", ":", "'", '"', "#", "[", "]", "{", "}", ",",
        "&x ", "*x", "!!str ", "!t ", "! ", "|", ">", "? ", "%YAML 1.1\n", "---\n", "...\n",
        "\\", "é", "\ufeff", "\u2028", "\x85", "0x1", "2026-01-01", "<<: ", "~", "null",
    ]
)  # fmt: skip


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.lists(PIECES, max_size=30).map("".join))
def test_any_text_reads_alike(text: str) -> None:
    agree(text, lenient=True)


def test_a_document_with_too_many_nodes_is_refused_where_the_count_says() -> None:
    """With no alias, nothing expands, and the count is only checked when the composer
    counted more nodes than allowed: the error is the one the full check gives."""
    text = "people:\n" + "".join(f"  - {{id: {n}, mail: m{n}}}\n" for n in range(40))
    composed = yamlsafe._Loader(text).get_single_node()
    assert composed is not None
    nodes = 1 + 2 + 40 * 5  # the root, "people" and its list, and each entry's five
    with pytest.raises(yamlsafe.YamlError) as expected:
        yamlsafe._check_expansion(composed, nodes - 1, aliased=False)
    for fast in (yamlsafe._FastLoader, None):
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(yamlsafe, "_FastLoader", fast)
            assert len(yamlsafe.load(text, max_nodes=nodes).data["people"]) == 40
            with pytest.raises(yamlsafe.YamlError) as refused:
                yamlsafe.load(text, max_nodes=nodes - 1)
        assert (str(refused.value), refused.value.line) == (
            str(expected.value),
            expected.value.line,
        )
    assert "values once" not in str(refused.value)  # no alias: not "an alias bomb?"


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("a: 060\n", "'060' is 48 in YAML 1.1"),
        ("a: 1:30\n", "'1:30' is 90 in YAML 1.1"),
        ("a: 1_000\n", "'1_000' is 1000 in YAML 1.1"),
        ("a: 0b101\n", "'0b101' is 5 in YAML 1.1"),
        ("a: .nan\n", "'.nan' is not a finite number"),
        ("a: -.Inf\n", "'-.Inf' is not a finite number"),
    ],
)
def test_a_number_yaml_versions_read_differently_is_refused_by_both_parsers(
    text: str, said: str
) -> None:
    """A config's ``dormant_days: 060`` was 48 days, silently; ``.nan`` turned a rail off."""
    for fast in (yamlsafe._FastLoader, None):
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(yamlsafe, "_FastLoader", fast)
            with pytest.raises(yamlsafe.Refused, match=re.escape(said)) as refused:
                yamlsafe.load(text)
        assert refused.value.line == 1
    assert yamlsafe.load(text, as_written=True).data["a"] == text[3:-1]  # data: as written
    assert yamlsafe.load(text.replace(": ", ": '").replace("\n", "'\n")).data["a"] == text[3:-1]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        *(("a: 60", 60), ("a: -3", -3), ("a: +5", 5), ("a: 0", 0), ("a: 0x14", 20)),
        *(("a: 07", 7), ("a: 00", 0), ('a: !!int "7"', 7)),  # 7 and 0 in either version
        *((f"a: {'1' * 400}", int("1" * 400)), (f'a: !!int "{"1" * 400}"', int("1" * 400))),
        *(("a: 1.5", 1.5), ("a: 2.5e+3", 2500.0), ("a: .5", 0.5)),
    ],
)
def test_numbers_both_versions_read_alike_are_read(text: str, value: float) -> None:
    assert yamlsafe.load(text).data["a"] == value


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ('a: !!int "060"', "'060' is 48 in YAML 1.1, as read here, but 60 in YAML 1.2"),
        ("a: !!int '1_000'", "'1_000' is 1000 in YAML 1.1, as read here, but text in YAML 1.2"),
        ('a: !!float ".nan"', "'.nan' is not a finite number"),
    ],
)
def test_a_tag_does_not_get_a_number_past_the_check(text: str, said: str) -> None:
    with pytest.raises(yamlsafe.Refused, match=re.escape(said)):
        yamlsafe.load(text)
