"""Tables for people at a terminal: summary first, then the findings, the excepted
findings and the gate.

- Every value from data or config is shown :func:`~nhirecon.core.text.inert` and given to
  rich as :class:`~rich.text.Text`, never as markup: no value can move the cursor, write
  the clipboard, hide a link (OSC 8 or rich's ``[link=...]``), or forge a line (SPEC §6).
- Names are never cut or broken: a severity, kind, target, account, owner or rule stays
  whole on one line, and a column is as wide as its widest value. Only free text (a
  finding's message, an exception's reason, the summary lines) wraps, at spaces, to the
  width. A name wider than the width makes its line wider, never shorter.
- No line ends in spaces, and colour comes only from ``color=True``: the console is
  configured explicitly, so neither the environment (``NO_COLOR``, ``FORCE_COLOR``,
  ``TERM``, ``COLUMNS``) nor where the text goes changes the bytes.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import groupby, pairwise

from rich.cells import cell_len
from rich.console import Console
from rich.text import Text

from nhirecon.core.model import Finding, Severity
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
GAP = "  "
"""Between two columns, and before the rows of a section."""
RULE = "─"
NARROWEST_TEXT = 30
"""Free text under a row starts below its account when that leaves it this many cells;
otherwise closer to the margin."""
SPACES = re.compile(r" +")
"""Where free text breaks: an inert value holds no other space or line break."""
PHRASES = re.compile(r"(?<=[,;:]) +")
"""Where a summary line breaks first: between its phrases."""
RULES = re.compile(r"(?<=;) +")
"""Where the gate's line breaks: between its rules."""


def _text(value: object, style: str = "") -> Text:
    """A value as plain text for rich: inert, and never read as markup."""
    return Text(inert(str(value)), style=style)


def _cuts(plain: str, width: int, at: re.Pattern[str]) -> list[int]:
    """Where lines of ``plain`` may start: after each match of ``at``, and after any
    space inside a stretch between two of those that is wider than ``width``."""
    cuts = [match.end() for match in at.finditer(plain)]
    if at is not SPACES:
        bounds = [0, *cuts, len(plain)]
        for start, end in pairwise(bounds):
            if cell_len(plain[start:end].rstrip(" ")) > width:
                cuts += [match.end() for match in SPACES.finditer(plain, start, end)]
    margin = len(plain) - len(plain.lstrip(" "))
    return sorted(cut for cut in set(cuts) if margin < cut < len(plain))


def _wrap(text: Text, width: int, indent: int = 0, at: re.Pattern[str] = SPACES) -> list[Text]:
    """``text`` in lines of at most ``width`` cells, broken where ``at`` matches (at
    spaces when those leave a stretch too wide); lines after the first start ``indent``
    spaces in. A stretch with no break that is wider than that keeps a longer line."""
    plain = text.plain
    pieces: list[Text] = []
    start = end = 0
    for cut in [*_cuts(plain, width - indent, at), len(plain)]:
        room = width - (indent if pieces else 0)
        if end > start and cell_len(plain[start:cut].rstrip(" ")) > room:
            pieces.append(text[start:end])
            start = end
        end = cut
    pieces.append(text[start:end])
    for piece in pieces:
        piece.rstrip()
    return [pieces[0], *(Text(" " * indent) + piece for piece in pieces[1:])]


@dataclass(frozen=True, slots=True)
class _Columns:
    """Aligned columns, each as wide as its widest cell or header; names are never cut."""

    headers: tuple[str, ...]
    widths: tuple[int, ...]
    right: tuple[bool, ...]
    """Flush right (counts) or left (names)."""
    indent: str = ""

    @classmethod
    def fit(
        cls,
        headers: Sequence[str],
        rows: Sequence[Sequence[Text]],
        right: Sequence[bool] = (),
        indent: str = "",
    ) -> _Columns:
        widths = [cell_len(inert(header)) for header in headers]
        for row in rows:
            widths = [max(width, cell.cell_len) for width, cell in zip(widths, row, strict=True)]
        flush = tuple(right) or (False,) * len(headers)
        return cls(tuple(headers), tuple(widths), flush, indent)

    def offset(self, column: int) -> int:
        """Where a column starts, in cells from the margin."""
        return len(self.indent) + sum(self.widths[:column]) + len(GAP) * column

    def line(self, cells: Sequence[Text]) -> Text:
        """One row, padded with unstyled spaces, with no trailing space."""
        line = Text(self.indent)
        for index, cell in enumerate(cells):
            pad = " " * (self.widths[index] - cell.cell_len)
            if index:
                line.append(GAP)
            line.append_text(
                Text.assemble(pad, cell) if self.right[index] else Text.assemble(cell, pad)
            )
        line.rstrip()
        return line

    def heading(self, title: str, width: int) -> list[Text]:
        """The section's title, the column headers, and a rule under them (no wider than
        ``width``: it is no name)."""
        span = self.offset(len(self.widths)) - len(GAP)
        rule = RULE * (min(span, width) - len(self.indent))
        return [
            _text(title, "bold"),
            self.line([_text(header, "bold") for header in self.headers]),
            Text(self.indent + rule),
        ]


def _table(
    title: str,
    headers: Sequence[str],
    rows: Sequence[Sequence[object]],
    right: Sequence[bool],
    width: int,
) -> list[Text]:
    cells = [[_text(value) for value in row] for row in rows]
    columns = _Columns.fit(headers, cells, right, GAP)
    return [*columns.heading(title, width), *(columns.line(row) for row in cells)]


def _label(finding: Finding) -> str:
    subject = finding.account or finding.identity
    return subject.label if subject else "-"


def _subject_header(findings: Sequence[Finding]) -> str:
    """``account``, ``identity`` (findings about the source), or both when mixed."""
    about = {"account" if finding.account else "identity" for finding in findings}
    return " / ".join(sorted(about))


class TableReporter(Reporter):
    name = "table"
    description = "Tables for a terminal (the default): summary by target and kind, then findings."
    extensions = (".txt",)

    def __init__(self, *, width: int = 100, color: bool = False) -> None:
        self.width = width
        self.color = color

    def _free(self, text: Text, indent: int) -> list[Text]:
        """Free text under a row: from ``indent`` when there is room, wrapped at spaces."""
        if self.width - indent < NARROWEST_TEXT:
            indent = min(indent, 2 * len(GAP))
        return _wrap(Text(" " * indent) + text, self.width, indent)

    def _findings(self, report: Report) -> list[Text]:
        """Grouped by severity and kind, in the report's order: a row per finding, its
        account last (unpadded, so a long name lengthens only its own line), and its
        message below the account."""
        aged = overview.shows_age(report)
        rows = [
            [
                _text(finding.target),
                *([_text(overview.age(report, finding))] if aged else []),
                _text(finding.remediation.value),
                _text(_label(finding), "bold"),
            ]
            for finding in report.findings
        ]
        subject = _subject_header(report.findings)
        headers = ["target", *(["age"] if aged else []), "action", subject]
        columns = _Columns.fit(headers, rows, indent=GAP)
        lines = columns.heading("Findings", self.width)
        pairs = list(zip(report.findings, rows, strict=True))
        for index, (_, group) in enumerate(groupby(pairs, lambda pair: pair[0].sort_key()[:2])):
            members = list(group)
            first = members[0][0]
            count = overview.numbered(len(members), "finding")
            title = f"{first.severity.value} {first.kind.value}: {count}"
            lines.extend([Text()] if index else [])
            lines.append(_text(title, f"bold {SEVERITY_STYLE[first.severity]}"))
            for finding, row in members:
                lines.append(columns.line(row))
                message = finding.message.removeprefix(f"{_label(finding)}: ")
                lines.extend(self._free(_text(message), columns.offset(len(row) - 1)))
        return lines

    def _excepted(self, report: Report) -> list[Text]:
        """Each excepted finding and its exception's expiry; the owner and the reason
        below its account."""
        rows = [
            [
                _text(finding.kind.value),
                _text(finding.target),
                _text(rule.expires.isoformat()),
                _text(_label(finding), "bold"),
            ]
            for finding, rule in report.excepted
        ]
        subject = _subject_header([finding for finding, _ in report.excepted])
        columns = _Columns.fit(["kind", "target", "expires", subject], rows, indent=GAP)
        count = overview.numbered(len(rows), "finding")
        lines = columns.heading(f"Excepted: {count}", self.width)
        for (_, rule), row in zip(report.excepted, rows, strict=True):
            lines.append(columns.line(row))
            why = _text(f"owner {rule.owner}; reason: {rule.reason}")
            lines.extend(self._free(why, columns.offset(len(row) - 1)))
        return lines

    def _lines(self, report: Report) -> list[Text]:
        lines = _wrap(_text(overview.headline(report), "bold"), self.width, len(GAP), PHRASES)
        for line in overview.change_lines(report):
            lines.extend(_wrap(_text(line), self.width, len(GAP), PHRASES))
        lines.append(Text())
        headers = overview.TARGET_HEADERS
        right = [index > 1 for index in range(len(headers))]
        rows = overview.target_rows(report)
        lines.extend(_table("Targets", headers, rows, right, self.width))
        kind_headers, kind_rows = overview.kind_matrix(report)
        if kind_rows:
            lines.append(Text())
            right = [index > 0 for index in range(len(kind_headers))]
            lines.extend(_table("Findings by kind", kind_headers, kind_rows, right, self.width))
        if report.findings:
            lines.append(Text())
            lines.extend(self._findings(report))
        if report.excepted:
            lines.append(Text())
            lines.extend(self._excepted(report))
        lines.append(Text())
        verdict = "" if report.gate.passed else "bold red"
        gate = _text(overview.gate_summary(report), verdict)
        lines.extend(_wrap(gate, self.width, len(GAP), RULES))
        return lines

    def render(self, report: Report) -> str:
        out = io.StringIO()
        console = Console(
            file=out,
            width=self.width,
            force_terminal=self.color,
            force_jupyter=False,
            force_interactive=False,
            no_color=not self.color,
            color_system="standard" if self.color else None,
            highlight=False,
            markup=False,
            emoji=False,
            legacy_windows=False,
            _environ={},
        )
        for line in self._lines(report):
            console.print(line, soft_wrap=True)
        return out.getvalue()
