"""The ``table`` stays usable with a large run: the summary, then at most ``limit``
findings (most severe first), then how many more and how to see them; a terminal gets
:data:`~nhirecon.reporters.table.DEFAULT_LIMIT` rows unless ``--limit`` says otherwise, a
pipe or a file gets every row, and laying the table out costs as much as the rows shown."""

from __future__ import annotations

import csv
import io
import os
import re
import subprocess
import threading
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from nhirecon.core.findings import make
from nhirecon.core.gate import evaluate, parse_rule
from nhirecon.core.model import ExceptionRule, Finding, FindingKind, Record, Remediation
from nhirecon.core.report import Report, TargetStats
from nhirecon.reporters import table
from nhirecon.reporters.select import select
from nhirecon.reporters.table import DEFAULT_LIMIT, TableReporter

from .conftest import NOW, ROOT, Run, nhirecon_command

AT = datetime(2026, 11, 28, tzinfo=UTC)
LARGE = 100_000
KINDS = (FindingKind.LEAVER, FindingKind.ORPHAN, FindingKind.DORMANT)
"""Critical, high and medium: a third of the findings each."""
TARGETS = ("crm", "payroll")
ROW = re.compile(r"^  (crm|payroll) +(none|manual) +(svc-\d{6})$")
"""A finding's row: target, action, account (the account is last and unpadded)."""
AUDIT = ["audit", "-c", str(ROOT / "config.sample.yaml"), "--now", NOW, "--no-history"]
SAMPLE_FINDINGS = 54


def _finding(number: int, kind: FindingKind | None = None) -> Finding:
    label = f"svc-{number:06d}"
    return make(
        kind or KINDS[number % len(KINDS)],
        TARGETS[number % len(TARGETS)],
        Record(id=f"A{number:06d}", location=f"app.csv:{number + 2}", username=label),
        None,
        f"{label}: owned by no active identity in hr, unused for {number % 400} days and"
        " rotated long ago, so its credential is an open door",
        {},
        (Remediation.NONE if number % 2 else Remediation.MANUAL, ""),
    )


def _report(size: int, excepted: int = 0) -> Report:
    """``size`` findings in the report's order, and ``excepted`` excepted ones."""
    findings = tuple(sorted((_finding(n) for n in range(size)), key=Finding.sort_key))
    rule = ExceptionRule("crm", "*", None, "accepted", "ann@example.com", date(2027, 1, 31))
    return Report(
        tool_version="0.1.0",
        generated_at=AT,
        source_name="hr",
        source_connector="csv",
        identities=size,
        targets=tuple(TargetStats(name, "csv", size, 0, size, 0, 0) for name in TARGETS),
        findings=findings,
        excepted=tuple((_finding(size + n, FindingKind.DORMANT), rule) for n in range(excepted)),
        gate=evaluate([parse_rule("orphan>0")], findings),
    )


@pytest.fixture(scope="module")
def large() -> Report:
    """100,000 findings and 60 excepted, built in memory (about a second)."""
    return _report(LARGE, excepted=60)


def _rows(text: str) -> list[str]:
    """The accounts of the findings' rows, in order."""
    return [match[3] for line in text.splitlines() if (match := ROW.match(line))]


def _label(finding: Finding) -> str:
    assert finding.account is not None
    return finding.account.label


# the reporter ------------------------------------------------------------------------------


def test_a_limit_shows_the_summary_then_the_most_severe_rows_then_how_many_more(
    large: Report,
) -> None:
    text = TableReporter(limit=50).render(large)
    lines = text.splitlines()
    headline = " ".join(line.strip() for line in lines[:2])  # wrapped between its phrases
    assert headline.endswith(": 100000 findings, 60 excepted; source hr (100000 identities)")
    order = [lines.index(title) for title in ("Targets", "Findings by kind", "Findings")]
    assert order == sorted(order), "the summary comes first"
    assert re.search(r"^  leaver +16667 +16667 +33334$", text, re.MULTILINE), "whole-run counts"
    assert _rows(text) == [_label(finding) for finding in large.findings[:50]]
    leavers = sum(finding.kind is FindingKind.LEAVER for finding in large.findings)
    assert f"\ncritical leaver: {leavers} findings, 50 shown\n" in text
    assert "high orphan" not in text, "a group the limit leaves out gets no title"
    more = (
        "  … and 99950 more findings: --limit 0 lists all 100000;\n"
        "  --kind and --severity narrow the list (--target the run);"
        " -f json, csv or html reports every one\n"
    )
    assert more in text
    assert "\nExcepted: 60 findings, 50 shown\n" in text
    assert "\n  … and 10 more excepted findings: --limit 0 lists all 60\n" in text
    assert lines[-1] == "gate FAILED: orphan>0 counted 33333", "the gate stays last"


def test_limit_zero_lists_every_finding(large: Report) -> None:
    text = TableReporter(limit=0).render(large)
    assert _rows(text) == [_label(finding) for finding in large.findings]
    assert "… and" not in text and "shown" not in text
    assert "\nExcepted: 60 findings\n" in text


def test_the_limit_counts_the_findings_the_filters_leave(large: Report) -> None:
    orphans = [finding for finding in large.findings if finding.kind is FindingKind.ORPHAN]
    text = TableReporter(limit=7).render(select(large, kinds=["orphan"]))
    assert f"showing kind orphan: {len(orphans)} of 100000 findings, 0 of 60 excepted" in text
    assert _rows(text) == [_label(finding) for finding in orphans[:7]]
    assert f"\nhigh orphan: {len(orphans)} findings, 7 shown\n" in text
    assert f"  … and {len(orphans) - 7} more findings: --limit 0 lists all {len(orphans)};" in text
    assert "Excepted" not in text


def test_a_limit_the_findings_fit_in_changes_nothing() -> None:
    dormant = select(_report(300), kinds=["dormant"], severities=["medium"])
    assert len(dormant.findings) == 100
    every = TableReporter(limit=0).render(dormant)
    assert TableReporter(limit=100).render(dormant) == every
    assert TableReporter(limit=101).render(dormant) == every
    one_less = TableReporter(limit=99).render(dormant)
    assert "\nmedium dormant: 100 findings, 99 shown\n" in one_less
    assert "\n  … and 1 more finding: --limit 0 lists all 100;" in one_less


def test_laying_out_a_limited_table_costs_as_much_as_the_rows_shown(
    large: Report, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same 50 rows out of 1,000 findings or out of 100,000: as many values made inert
    and as many texts wrapped (only the summary's counts read every finding)."""
    calls: dict[str, int] = {}

    def counted(name: str, function: Callable[..., object]) -> Callable[..., object]:
        def wrapper(*args: object, **kwargs: object) -> object:
            calls[name] = calls.get(name, 0) + 1
            return function(*args, **kwargs)

        return wrapper

    for name in ("inert", "_wrap", "_rstrip"):
        monkeypatch.setattr(table, name, counted(name, getattr(table, name)))
    TableReporter(limit=50).render(large)
    on_large = dict(calls)
    calls.clear()
    TableReporter(limit=50).render(_report(1_000, excepted=60))
    assert on_large == calls and max(calls.values()) < 1_000, calls


def test_a_limit_is_zero_or_more() -> None:
    with pytest.raises(ValueError, match="limit must be 0"):
        TableReporter(limit=-1)


# the command -------------------------------------------------------------------------------


def test_a_pipe_and_a_file_get_every_finding(run: Run, tmp_path: Path) -> None:
    result = run(*AUDIT, "-f", "table", "-o", "report.txt", "-f", "table")
    assert result.returncode == 0, result.stderr
    assert result.stdout == (tmp_path / "report.txt").read_text()
    assert f": {SAMPLE_FINDINGS} findings, 1 excepted;" in result.stdout
    assert "… and" not in result.stdout and "shown" not in result.stdout


def test_limit_applies_to_a_pipe_and_a_file_alike_and_after_the_filters(
    run: Run, tmp_path: Path
) -> None:
    argv = ["--kind", "orphan", "--limit", "3", "-f", "table", "-o", "t.txt", "-f", "csv"]
    result = run(*AUDIT, *argv)
    assert result.returncode == 0, result.stderr
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert len(rows) == 1 + SAMPLE_FINDINGS, "CSV lists every finding"
    text = (tmp_path / "t.txt").read_text()
    assert "\nhigh orphan: 9 findings, 3 shown\n" in text
    assert "\n  … and 6 more findings: --limit 0 lists all 9;" in text
    assert "--kind and --severity narrow the list (--target the run)" in " ".join(text.split())
    piped = run(*AUDIT, "--kind", "orphan", "--limit", "3")
    assert piped.returncode == 0 and piped.stdout == text


def test_a_negative_limit_is_a_usage_error(run: Run) -> None:
    result = run(*AUDIT, "--limit", "-1")
    assert result.returncode == 2 and result.stdout == ""


def test_the_help_gives_the_default_limit(run: Run) -> None:
    shown = run("audit", "--help")
    assert shown.returncode == 0
    text = " ".join(shown.stdout.split())
    assert "--limit N The table lists at most N findings, most severe first" in text
    assert f"Default {DEFAULT_LIMIT} on a terminal; all in a pipe or a file." in text


def _on_a_terminal(tmp_path: Path, *argv: str) -> str:
    """What ``nhirecon`` prints with its stdout a terminal 100 columns wide."""
    import pty

    terminal, stdout_end = pty.openpty()
    environment = {
        **os.environ,
        "COLUMNS": "100",
        "NO_COLOR": "1",
        "HOME": str(tmp_path / "home"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
    }
    process = subprocess.Popen(
        [nhirecon_command(), *argv],
        cwd=tmp_path,
        env=environment,
        stdin=subprocess.DEVNULL,
        stdout=stdout_end,
        stderr=subprocess.DEVNULL,
    )
    os.close(stdout_end)
    chunks: list[bytes] = []

    def drain() -> None:  # read while it runs, so a full terminal buffer never blocks it
        while True:
            try:
                chunk = os.read(terminal, 65536)
            except OSError:  # the other end is closed: all read
                return
            if not chunk:
                return
            chunks.append(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    assert process.wait(timeout=120) == 0
    reader.join(timeout=30)
    os.close(terminal)
    return b"".join(chunks).decode().replace("\r\n", "\n")


def test_a_terminal_gets_the_default_limit_unless_limit_says_otherwise(tmp_path: Path) -> None:
    assert DEFAULT_LIMIT < SAMPLE_FINDINGS, "the example estate shows the limit at work"
    left_out = SAMPLE_FINDINGS - DEFAULT_LIMIT
    shown = _on_a_terminal(tmp_path, *AUDIT)
    assert f": {SAMPLE_FINDINGS} findings, 1 excepted;" in shown.splitlines()[0]
    more = f"  … and {left_out} more findings: --limit 0 lists all {SAMPLE_FINDINGS};"
    assert f"\n{more}" in shown
    assert "\nExcepted: 1 finding\n" in shown and shown.endswith("gate: no rules\n")
    every = _on_a_terminal(tmp_path, *AUDIT, "--limit", "0")
    assert "… and" not in every and "shown" not in every
    assert len(every.splitlines()) > len(shown.splitlines())
