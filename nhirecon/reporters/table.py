"""A rich table for people at a terminal: summary first, then the findings.

Every value from data or config is shown :func:`~nhirecon.core.text.inert` and given to
rich as :class:`~rich.text.Text`, never as markup: no value can move the cursor, write the
clipboard, hide a link (OSC 8 or rich's ``[link=...]``), or forge a line (SPEC §6).
"""

from __future__ import annotations

import io

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from nhirecon.core.model import Severity
from nhirecon.core.report import Report
from nhirecon.core.text import inert
from nhirecon.reporters import overview
from nhirecon.reporters.base import Reporter

SEVERITY_STYLE = {
    Severity.CRITICAL: "bold red",
    Severity.HIGH: "red",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "cyan",
    Severity.INFO: "dim",
}


def _text(value: object, style: str = "") -> Text:
    """A value as plain text for rich: inert, and never read as markup."""
    return Text(inert(str(value)), style=style)


def _table(title: str, headers: list[str] | tuple[str, ...], rows: list[list[object]]) -> Table:
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    for index, header in enumerate(headers):
        table.add_column(_text(header), justify="left" if index == 0 else "right")
    for row in rows:
        table.add_row(*(_text(value) for value in row))
    return table


class TableReporter(Reporter):
    name = "table"
    description = "Tables for a terminal (the default): summary by target and kind, then findings."
    extensions = (".txt",)

    def __init__(self, *, width: int = 100, color: bool = False) -> None:
        self.width = width
        self.color = color

    def render(self, report: Report) -> str:
        out = io.StringIO()
        console = Console(
            file=out,
            width=self.width,
            force_terminal=self.color,
            no_color=not self.color,
            color_system="standard" if self.color else None,
            highlight=False,
            emoji=False,
            legacy_windows=False,
        )
        console.print(_text(overview.headline(report), "bold"))
        for line in overview.change_lines(report):
            console.print(_text(line))
        console.print()
        console.print(_table("Targets", overview.TARGET_HEADERS, overview.target_rows(report)))
        headers, rows = overview.kind_matrix(report)
        if rows:
            console.print(_table("Findings by kind", headers, rows))
        if report.findings:
            findings = Table(
                title="Findings",
                title_justify="left",
                box=box.SIMPLE_HEAD,
                pad_edge=False,
                expand=True,
            )
            findings.add_column("severity", no_wrap=True)
            findings.add_column("kind", no_wrap=True)
            findings.add_column("target", no_wrap=True)
            findings.add_column("account / finding", ratio=1, overflow="fold")
            aged = overview.shows_age(report)
            if aged:
                findings.add_column("age", no_wrap=True)
            findings.add_column("action", no_wrap=True)
            for finding in report.findings:
                subject = finding.account or finding.identity
                label = subject.label if subject else "-"
                message = finding.message.removeprefix(f"{label}: ")
                findings.add_row(
                    _text(finding.severity.value, SEVERITY_STYLE[finding.severity]),
                    _text(finding.kind.value),
                    _text(finding.target),
                    Text.assemble(_text(label, "bold"), "\n", _text(message)),
                    *([Text(overview.age(report, finding).replace(", ", "\n"))] if aged else []),
                    _text(finding.remediation.value),
                )
            console.print(findings)
        for line in overview.gate_lines(report):
            console.print(_text(line, "" if report.gate.passed else "bold red"))
        return out.getvalue()
