"""The ``table`` report reads well at a terminal, at any width, and is the same bytes
whatever the environment says; ``select`` narrows what it lists, never the run."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from nhirecon import config, pipeline
from nhirecon.core.findings import make
from nhirecon.core.gate import evaluate, parse_rule
from nhirecon.core.model import ExceptionRule, Finding, FindingKind, Remediation, Severity
from nhirecon.core.report import BaselineEntry, BaselineView, HistoryView, Report, TargetStats
from nhirecon.reporters.markdown import MarkdownReporter
from nhirecon.reporters.select import Selection, select, whole
from nhirecon.reporters.table import TableReporter

from .conftest import NOW, ROOT, Run
from .factories import account, person

AT = datetime(2026, 11, 28, tzinfo=UTC)
WIDTHS = (80, 100, 160)
GATE = ("orphan,jit-orphan>0", "leaver>0", "severity:critical>=10")
SGR = re.compile(r"\x1b\[[0-9;]*m")


@pytest.fixture(scope="module")
def example() -> Report:
    """The example estate, as ``nhirecon audit -c config.sample.yaml --now ...`` sees it."""
    loaded = config.load(ROOT / "config.sample.yaml")
    return pipeline.audit(loaded, now=AT, gate_rules=[parse_rule(rule) for rule in GATE])


def _label(finding: Finding) -> str:
    subject = finding.account or finding.identity
    assert subject is not None
    return subject.label


def _message_lines(lines: list[str], row: int) -> list[str]:
    """The lines under a finding's row that hold its message: indented more than rows."""
    found = []
    for line in lines[row + 1 :]:
        if not line.startswith("    ") or not line.strip():
            break
        found.append(line.strip())
    return found


def _row_of(lines: list[str], finding: Finding, start: int = 0) -> int:
    """The index of the first row, from ``start``, naming the finding's target and ending
    with its account, both whole."""
    target, label = re.escape(finding.target), re.escape(_label(finding))
    pattern = re.compile(rf"^  {target}  .*  {label}$")
    for index in range(start, len(lines)):
        if pattern.search(lines[index]):
            return index
    raise AssertionError(f"no row for {finding.target} {_label(finding)}")


def _check_findings(text: str, report: Report, width: int) -> None:
    """Each finding's target and account are whole on its row, and its message, wrapped
    at spaces only, reads back exactly below it, in lines no wider than ``width`` unless
    one word is."""
    assert "…" not in text
    lines = text.splitlines()
    row = 0
    for finding in report.findings:
        row = _row_of(lines, finding, row)
        message = finding.message.removeprefix(f"{_label(finding)}: ")
        below = _message_lines(lines, row)
        assert " ".join(below) == message, (finding.message, below)
        for line in lines[row + 1 : row + 1 + len(below)]:
            assert len(line) <= width or " " not in line.strip(), line


# 1. names are never cut or broken; only the message wraps ---------------------------------


@pytest.mark.parametrize("width", WIDTHS)
def test_the_example_estate_fits_the_width_with_every_name_whole(
    example: Report, width: int
) -> None:
    text = TableReporter(width=width).render(example)
    _check_findings(text, example, width)
    too_wide = [line for line in text.splitlines() if len(line) > width]
    assert not too_wide, too_wide
    for stats in example.targets:
        assert re.search(rf"^  {stats.name} +{stats.connector} ", text, re.MULTILINE)


LONG_TARGET = "payroll-and-benefits-eu-production-tenant"
LONG_EMAIL = "a.very.long.service.account.name@subsidiary-holdings.example.co.uk"
LONG_MESSAGE = (
    "owner 'someone.with.a.remarkably.long.address@subsidiary-holdings.example.co.uk' is"
    " not active in hr (status 'terminated'), and the credential was last rotated long ago"
)
UNBROKEN = "x" * 120
"""A word wider than any terminal in a message: kept whole on a line of its own."""


def _long_names() -> Report:
    findings = (
        make(
            FindingKind.LEAVER,
            LONG_TARGET,
            account("A1", email=LONG_EMAIL),
            person("E1", username="ann"),
            LONG_MESSAGE,
            {},
            (Remediation.MANUAL, "by hand"),
        ),
        make(
            FindingKind.ORPHAN,
            LONG_TARGET,
            account("A2", username="short"),
            None,
            f"owned by no identity in hr: {UNBROKEN} end",
            {},
            (Remediation.NONE, ""),
        ),
    )
    rule = ExceptionRule(LONG_TARGET, "A3", None, LONG_MESSAGE, LONG_EMAIL, date(2027, 1, 31))
    excepted = make(
        FindingKind.DORMANT,
        LONG_TARGET,
        account("A3", username="dormant-but-accepted-account"),
        None,
        "last used long ago",
        {},
        (Remediation.NONE, ""),
    )
    return Report(
        tool_version="0.1.0",
        generated_at=AT,
        source_name="hr",
        source_connector="csv",
        identities=1,
        targets=(TargetStats(LONG_TARGET, "scim", 3, 1, 2, 0, 0),),
        findings=findings,
        excepted=((excepted, rule),),
        gate=evaluate([parse_rule("any>0")], findings),
    )


@pytest.mark.parametrize("width", WIDTHS)
def test_long_names_stay_whole_and_only_free_text_wraps(width: int) -> None:
    report = _long_names()
    text = TableReporter(width=width).render(report)
    _check_findings(text, report, width)
    lines = text.splitlines()
    assert UNBROKEN in lines[_row_of(lines, report.findings[1]) + 2]
    excepted = next(line for line in lines if "dormant-but-accepted-account" in line)
    source = next(line for line in lines if line.startswith("  hr "))
    target = next(line for line in lines if line.startswith(f"  {LONG_TARGET} "))
    assert source.index(" csv ") == target.index(" scim "), "columns stay aligned"
    names = ["dormant", LONG_TARGET, "2027-01-31", "dormant-but-accepted-account"]
    assert excepted.split() == names
    reason = _message_lines(lines, lines.index(excepted))
    assert " ".join(reason) == f"owner {LONG_EMAIL}; reason: {LONG_MESSAGE}"
    reason = lines[lines.index(excepted) + 1 : lines.index(excepted) + 1 + len(reason)]
    for line in lines:  # only a row of names, or a word, may be wider than the width
        assert len(line) <= width or "  " in line.strip() or " " not in line.strip(), line


# 2. the gate, on one line -----------------------------------------------------------------


def test_the_gate_line_names_each_rule_and_what_it_counted(example: Report) -> None:
    gate = (
        "gate FAILED: orphan,jit-orphan>0 counted 17; leaver>0 counted 5;"
        " passed: severity:critical>=10 counted 5"
    )
    assert TableReporter(width=160).render(example).splitlines()[-1] == gate
    assert TableReporter(width=80).render(example).splitlines()[-2:] == [
        "gate FAILED: orphan,jit-orphan>0 counted 17; leaver>0 counted 5;",
        "  passed: severity:critical>=10 counted 5",
    ], "wrapped between rules, never inside one"


def test_a_passing_gate_names_its_rules_and_no_rules_says_so(example: Report) -> None:
    passing = replace(example, gate=evaluate([parse_rule("any>100")], example.findings))
    assert TableReporter().render(passing).endswith("\ngate passed: any>100 counted 54\n")
    none = replace(example, gate=evaluate([], example.findings))
    assert TableReporter().render(none).endswith("\ngate: no rules\n")


# 3. excepted findings are listed ----------------------------------------------------------


def test_excepted_findings_are_listed_with_their_exception(example: Report) -> None:
    lines = TableReporter(width=80).render(example).splitlines()
    start = lines.index("Excepted: 1 finding")
    [(finding, rule)] = example.excepted
    row = next(line for line in lines[start:] if _label(finding) in line)
    assert row.split() == ["orphan", "crm", "2027-01-31", _label(finding)]
    below = _message_lines(lines, lines.index(row))
    assert " ".join(below) == f"owner {rule.owner}; reason: {rule.reason}"


# 4. piped: no trailing space, no colour ---------------------------------------------------


def test_piped_output_has_no_trailing_space_and_no_colour(run: Run) -> None:
    """Through the installed command, its output a pipe (whether ``FORCE_COLOR`` colours a
    pipe is the command's choice, see ``--color``; the reporter's is tested below)."""
    environment = {"COLUMNS": "80", "TERM": "xterm-256color", "NO_COLOR": ""}
    result = run("audit", "-c", str(ROOT / "config.sample.yaml"), "--now", NOW, env=environment)
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stdout
    assert "Excepted: 1 finding" in result.stdout and "\nhigh orphan: 9 findings\n" in result.stdout
    trailing = [line for line in result.stdout.splitlines() if line != line.rstrip()]
    assert not trailing, trailing


@pytest.mark.parametrize("color", [False, True])
@pytest.mark.parametrize("width", WIDTHS)
def test_no_line_ends_in_spaces_at_any_width(example: Report, width: int, color: bool) -> None:
    history = HistoryView(previous_run=None, seen={}, resolved=(), trend=())
    text = TableReporter(width=width, color=color).render(replace(example, history=history))
    trailing = [line for line in SGR.sub("", text).splitlines() if line != line.rstrip()]
    assert not trailing, trailing
    assert text.endswith("\n") and not text.endswith("\n\n")


# 5. singular and plural -------------------------------------------------------------------


def _tiny(findings: int) -> Report:
    made = tuple(
        make(
            FindingKind.ORPHAN,
            "app",
            account(f"A{n}", username=f"user{n}"),
            None,
            "owned by no identity in hr",
            {},
            (Remediation.NONE, ""),
        )
        for n in range(findings)
    )
    accepted = make(
        FindingKind.DORMANT, "app", account("B1"), None, "unused", {}, (Remediation.NONE, "")
    )
    rule = ExceptionRule("app", "B1", None, "accepted", "ann@example.com", date(2027, 1, 1))
    entry = BaselineEntry("fp", FindingKind.ORPHAN, "app", "Z", "Z", "", None)
    return Report(
        tool_version="0.1.0",
        generated_at=AT,
        source_name="hr",
        source_connector="csv",
        identities=findings,
        targets=tuple(
            TargetStats(name, "csv", findings, 0, findings, 0, 0)
            for name in ("app", "crm")[:findings]
        ),
        findings=made,
        excepted=((accepted, rule),),
        gate=evaluate([], made),
        baseline=BaselineView(
            "base.json", findings, frozenset(f.fingerprint for f in made), (entry,) * findings
        ),
    )


def test_one_of_each_is_singular() -> None:
    report = _tiny(1)
    text = TableReporter(width=160).render(report)
    headline = text.splitlines()[0]
    assert headline.endswith(": 1 finding, 1 excepted; source hr (1 identity)"), headline
    assert (
        "baseline base.json: 1 finding accepted (not counted by the gate), 1 stale entry\n" in text
    )
    assert "\nhigh orphan: 1 finding\n" in text and "\nExcepted: 1 finding\n" in text
    assert ": 1 finding, 1 excepted; source hr (1 identity)\n" in MarkdownReporter().render(report)


def test_two_of_each_is_plural() -> None:
    report = _tiny(2)
    text = TableReporter(width=160).render(report)
    assert ": 2 findings, 1 excepted; source hr (2 identities)\n" in text
    assert ": 2 findings accepted (not counted by the gate), 2 stale entries\n" in text
    assert "\nhigh orphan: 2 findings\n" in text
    assert ": 2 findings, 1 excepted; source hr (2 identities)\n" in MarkdownReporter().render(
        report
    )


# 6. select --------------------------------------------------------------------------------


def test_select_keeps_the_kinds_and_severities_asked_for(example: Report) -> None:
    orphans = select(example, kinds=["orphan", FindingKind.JIT_ORPHAN])
    assert [f.kind for f in orphans.findings] == [FindingKind.JIT_ORPHAN] * 8 + [
        FindingKind.ORPHAN
    ] * 9
    assert orphans.findings == tuple(
        f for f in example.findings if f.kind in (FindingKind.ORPHAN, FindingKind.JIT_ORPHAN)
    )
    assert orphans.excepted == example.excepted  # an excepted orphan
    medium = select(example, severities=[Severity.MEDIUM])
    assert medium.findings and {f.severity for f in medium.findings} == {Severity.MEDIUM}
    assert medium.excepted == ()
    both = select(example, kinds=["orphan", "dormant"], severities=["high"])
    assert {f.kind for f in both.findings} == {FindingKind.ORPHAN}
    critical = select(example, severities=["critical"])
    assert len(critical.findings) == 5, "a severity is matched exactly, not and above"


def test_select_leaves_the_run_as_it_was(example: Report) -> None:
    before = replace(example)
    chosen = select(example, kinds=["dormant"])
    assert isinstance(chosen, Selection) and whole(chosen) is example
    assert chosen.gate == example.gate and not chosen.gate.passed
    for name in ("targets", "history", "baseline", "allowlist", "identities", "source_name"):
        assert getattr(chosen, name) == getattr(example, name), name
    assert example == before and len(example.findings) == 54
    assert select(example) is example, "no filter: the report itself"
    assert whole(example) is example


def test_select_narrows_a_selection_against_the_same_run(example: Report) -> None:
    narrowed = select(select(example, kinds=["orphan", "leaver"]), severities=["critical"])
    assert isinstance(narrowed, Selection) and narrowed.whole is example
    assert {f.kind for f in narrowed.findings} == {FindingKind.LEAVER}
    assert narrowed.kinds == {FindingKind.ORPHAN, FindingKind.LEAVER}
    assert narrowed.severities == {Severity.CRITICAL}
    nothing = select(select(example, kinds=["orphan"]), kinds=["leaver"])
    assert nothing.findings == () and nothing.excepted == ()


def test_select_refuses_an_unknown_kind_or_severity(example: Report) -> None:
    with pytest.raises(ValueError, match=r"unknown finding kind 'orphans' \(kinds: jit-orphan"):
        select(example, kinds=["orphans"])
    with pytest.raises(ValueError, match=r"unknown severity 'severe' \(one of critical, high"):
        select(example, severities=["severe"])


def test_a_narrowed_table_shows_the_whole_run_and_the_true_gate(example: Report) -> None:
    text = TableReporter(width=80).render(select(example, kinds=["dormant"]))
    lines = text.splitlines()
    assert "54 findings, 1 excepted" in lines[0]
    assert "showing kind dormant: 7 of 54 findings, 0 of 1 excepted" in text
    assert "\nmedium dormant: 7 findings\n" in text and "orphan:" not in text
    assert "Excepted" not in text
    assert re.search(r"^  slack +json +252 +244 +7 +1 +15 +16$", text, re.MULTILINE)
    assert re.search(r"^  jit-orphan +0 +4 +2 +2 +0 +8$", text, re.MULTILINE)
    assert lines[-2].startswith("gate FAILED: orphan,jit-orphan>0 counted 17;")
    high = TableReporter().render(select(example, severities=["high", "critical"]))
    assert "showing severity critical, high: 34 of 54 findings, 1 of 1 excepted" in high


# 7. colour only when asked, whatever the environment says ---------------------------------


def test_colour_comes_only_from_the_reporter(
    example: Report, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain, coloured = TableReporter().render(example), TableReporter(color=True).render(example)
    for name, value in {"FORCE_COLOR": "1", "TERM": "xterm-256color", "COLUMNS": "40"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("NO_COLOR", raising=False)
    forced = TableReporter(color=False).render(example)
    assert "\x1b" not in forced and forced == plain
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("TERM", "dumb")
    again = TableReporter(color=True).render(example)
    assert again == coloured and SGR.search(again)
    assert "\x1b[1;31mgate FAILED: " in again
    assert SGR.sub("", again) == plain, "colour changes the look, never the text"


def test_the_same_report_gives_the_same_bytes(example: Report) -> None:
    assert TableReporter(width=80).render(example) == TableReporter(width=80).render(example)
