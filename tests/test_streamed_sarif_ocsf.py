"""SARIF and OCSF made and written a result at a time: joined, the pieces are the text each
gave when it was made whole (``json.dumps`` of the whole SARIF log, and of each OCSF event
on its line), byte for byte; and the first result is written before the next is made."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given, settings

from nhirecon.core.model import Finding
from nhirecon.core.report import Report
from nhirecon.reporters import json as json_reporter
from nhirecon.reporters import ocsf, sarif, serialize
from nhirecon.reporters.json import BATCH, compact, stream
from nhirecon.reporters.ocsf import OcsfReporter
from nhirecon.reporters.sarif import SarifReporter

from .conftest import Run
from .test_report_stream import VALUES, reports, synthetic


def materialised(value: Any) -> Any:
    """``value`` with every :class:`serialize.Items` made into the list it stands for."""
    if isinstance(value, serialize.Items):
        return [materialised(item) for item in value]
    if type(value) is dict:
        return {key: materialised(item) for key, item in value.items()}
    if type(value) is list:
        return [materialised(item) for item in value]
    return value


def whole_sarif(report: Report) -> str:
    """The SARIF log as it was written before streaming: one ``json.dumps``."""
    document = materialised(sarif.document(report))
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def counted(monkeypatch: pytest.MonkeyPatch, module: ModuleType, name: str) -> list[Finding]:
    """The findings ``module.name`` (called with a report and a finding) is called with,
    listed as the calls are made."""
    made: list[Finding] = []
    original = getattr(module, name)

    def counting(value: Report, item: Finding, *rest: Any) -> Any:
        made.append(item)
        return original(value, item, *rest)

    monkeypatch.setattr(module, name, counting)
    return made


def standard_compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


# ---------------------------------------------------------------- the encoder


@settings(deadline=None, max_examples=1000)
@given(VALUES)
def test_compact_writes_the_standard_librarys_text(value: Any) -> None:
    assert compact(value) == standard_compact(value)


@pytest.mark.parametrize(
    "value",
    [
        "".join(map(chr, range(0x20))) + '\x7f\u2028\u2029\U0001f600"\\/',
        {"a": {}, "b": [], "c": [{}], "d": [[]]},
        [1e-07, 1e16, 1e22, float("nan"), float("inf"), -0.0, 0.1],
        [2**63, 2**64 - 1, 2**64, -(2**63) - 1, 10**40],
        {"id": "bad\ud800name", "pair": "\ud83d\ude00"},
        {1: "one", None: "nothing", 2.5: "half"},
    ],
)
def test_compact_writes_awkward_values_as_the_standard_library_does(value: Any) -> None:
    assert compact(value) == standard_compact(value)


def test_compact_takes_the_fast_path_for_plain_values(monkeypatch: pytest.MonkeyPatch) -> None:
    class Refuse(json.JSONEncoder):
        def encode(self, o: Any) -> str:
            raise AssertionError(f"the standard library was asked for {o!r}")

    plain = {"a": [1, -(2**63), True, None, "zoë 山"], "b": {"c": []}}
    expected = standard_compact(plain)
    monkeypatch.setattr(json_reporter, "_COMPACT", Refuse())
    assert compact(plain) == expected


@pytest.mark.parametrize(
    "value",
    [
        {"runs": [{"results": "ITEMS", "n": 1}], "after": [1, 2]},
        {"runs": [], "x": ["ITEMS"]},
        ["ITEMS", {"deep": [[{"in": "ITEMS"}]]}, []],
        {"empty": [{"results": "NONE"}]},
    ],
)
def test_a_list_holding_items_at_any_depth_streams_as_the_whole_text(value: Any) -> None:
    """Items inside lists inside dicts (SARIF's ``runs[0].results``) are made lazily and
    written as ``json.dumps`` writes the lists they stand for, at every depth."""

    def lazy(node: Any) -> Any:
        if node == "ITEMS":
            return serialize.Items(lambda: iter([{"a": 1, "b": ["x", "ü"]}, 2, None]))
        if node == "NONE":
            return serialize.Items(lambda: iter([]))
        if type(node) is dict:
            return {key: lazy(item) for key, item in node.items()}
        if type(node) is list:
            return [lazy(item) for item in node]
        return node

    built = lazy(value)
    expected = json.dumps(materialised(built), indent=2, ensure_ascii=False)
    for level in (0, 2):
        pieces = list(stream(built, level))
        assert "".join(pieces) == expected.replace("\n", "\n" + "  " * level)


# ---------------------------------------------------------------- SARIF


@settings(deadline=None, max_examples=150)
@given(reports())
def test_the_streamed_sarif_report_is_the_whole_document_it_was(report: Report) -> None:
    expected = whole_sarif(report)
    pieces = list(SarifReporter().chunks(report))
    assert "".join(pieces) == expected
    assert SarifReporter().render(report) == expected
    assert len(pieces) >= len(report.findings) + len(report.excepted)


def test_a_large_sarif_report_is_made_a_batch_of_results_at_a_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    report = synthetic(3000)
    made = counted(monkeypatch, sarif, "_result")
    pieces = SarifReporter().chunks(report)
    head = ""
    while '"ruleId"' not in head:
        head += next(pieces)
    assert len(made) == BATCH, "the first batch is written before the others are made"
    rest = list(pieces)
    assert len(made) == 3000
    made.clear()
    assert head + "".join(rest) == whole_sarif(report)


# ---------------------------------------------------------------- OCSF


@settings(deadline=None, max_examples=150)
@given(reports())
def test_the_streamed_ocsf_report_is_each_event_on_its_line(report: Report) -> None:
    expected = [standard_compact(event) + "\n" for event in ocsf.events(report)]
    pieces = list(OcsfReporter().chunks(report))
    assert pieces == expected
    assert OcsfReporter().render(report) == "".join(expected)


def test_a_large_ocsf_report_is_made_one_event_at_a_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    report = synthetic(3000)
    made = counted(monkeypatch, ocsf, "_finding")
    pieces = OcsfReporter().chunks(report)
    first = next(pieces)
    assert len(made) == 1 and first.endswith("\n")
    assert 1 + len(list(pieces)) == len(made) == 3000


# ---------------------------------------------------------------- GitHub's limit


@pytest.mark.parametrize(("count", "warned"), [(25_000, False), (25_001, True)])
def test_a_sarif_run_over_githubs_limit_is_warned_of(count: int, warned: bool) -> None:
    note = sarif.github_limit_note(synthetic(count))
    assert (note is not None) is warned
    if note is not None:
        assert "25,001 results" in note and "25,000" in note


def test_the_audit_command_warns_of_githubs_limit_and_writes_every_result(
    run: Run, tmp_path: Path
) -> None:
    """25,001 orphans: the SARIF file holds them all, the exit code is the gate's, and
    stderr says why GitHub would refuse the file; the JSON report alone says nothing."""
    (tmp_path / "hr.csv").write_text("id,email\nE1,one@example.com\n", encoding="utf-8")
    rows = "".join(f"u{n},user{n}@example.com\n" for n in range(25_001))
    (tmp_path / "app.csv").write_text("id,email\n" + rows, encoding="utf-8")
    (tmp_path / "nhirecon.yaml").write_text(
        "version: 1\n"
        "source: {name: hr, connector: csv, path: hr.csv, map: {id: id, email: email}}\n"
        "targets:\n"
        "  - {name: app, connector: csv, path: app.csv, map: {id: id, email: email},\n"
        "     correlate: [{account: email, identity: email}]}\n",
        encoding="utf-8",
    )
    common = ["audit", "-c", "nhirecon.yaml", "--no-history", "--fail-on", "orphan>0"]
    result = run(*common, "-f", "sarif", "-o", "out.sarif")
    assert result.returncode == 1, result.stderr
    assert "GitHub code scanning rejects a run of more than 25,000" in result.stderr
    document = json.loads((tmp_path / "out.sarif").read_text(encoding="utf-8"))
    assert len(document["runs"][0]["results"]) == 25_001
    quiet = run(*common, "-f", "json", "-o", "out.json")
    assert quiet.returncode == 1 and "GitHub" not in quiet.stderr, quiet.stderr
