"""Tables for people at a terminal: summary first, then the findings, the excepted
findings and the gate.

- Every value from data or config is shown :func:`~nhirecon.core.text.inert` and kept as
  plain text with a style of our own, never read as markup: no value can move the cursor,
  write the clipboard, hide a link (OSC 8 or rich's ``[link=...]``), or forge a line
  (SPEC §6).
- Names are never cut or broken: a severity, kind, target, account, owner or rule stays
  whole on one line, and a column is as wide as its widest value. Only free text (a
  finding's message, an exception's reason, the summary lines) wraps, at spaces, to the
  width. A name wider than the width makes its line wider, never shorter.
- No line ends in spaces, and colour comes only from ``color=True`` (rich's SGR codes for
  the styles, as its console writes them): neither the environment (``NO_COLOR``,
  ``FORCE_COLOR``, ``TERM``, ``COLUMNS``) nor where the text goes changes the bytes.
- ``limit`` lists at most that many findings, and as many excepted findings, most severe
  first (the report's order), each list closed by a line saying how many more there are
  and how to see them. The summary and the gate are always the whole run's. Laying
  out costs as much as the rows shown: a line is plain strings with their styles, made
  and written out one at a time, never laid out by rich's console (``bench/table_bench.py``:
  every row of 100,000 findings in one to two seconds).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from itertools import groupby, pairwise

from rich.cells import cell_len
from rich.color import ColorSystem
from rich.style import Style

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
DEFAULT_LIMIT = 50
"""The findings a terminal lists when ``audit --limit`` is not given (``0``: all).
Anywhere else (a pipe, a redirect, ``-o FILE``) the table lists them all."""
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
"""Where the gate's line breaks, between its rules, and the line closing a list that
``limit`` cut, between its hints."""

Piece = tuple[str, str]
"""Text and its style (``""`` for none)."""
Line = list[Piece]
"""One line of output: its pieces in order, with no line break in any."""


def _text(value: object, style: str = "") -> Line:
    """A value as one piece of plain text: inert, and never read as markup."""
    return [(inert(str(value)), style)]


def _slice(line: Line, start: int, end: int) -> Line:
    """The characters ``start`` to ``end`` of ``line``, each keeping its style."""
    kept: Line = []
    offset = 0
    for text, style in line:
        low, high = max(start - offset, 0), min(end - offset, len(text))
        if low < high:
            kept.append((text[low:high], style))
        offset += len(text)
    return kept


def _rstrip(line: Line) -> Line:
    """``line`` without the spaces it ends in, whichever pieces hold them."""
    kept = list(line)
    while kept:
        text, style = kept[-1]
        if stripped := text.rstrip():
            kept[-1] = (stripped, style)
            break
        kept.pop()
    return kept


def _is_ascii(text: str) -> bool:
    """Printable ASCII: a cell a character (most names and messages)."""
    return text.isascii() and text.isprintable()


def _cells(text: str) -> int:
    """How many cells ``text`` takes on a terminal."""
    return len(text) if _is_ascii(text) else cell_len(text)


@cache
def _style(name: str) -> Style:
    return Style.parse(name)


def _written(line: Line, color: bool) -> str:
    """The line's characters; with ``color``, each styled piece in its SGR codes."""
    if not color:
        return "".join(text for text, _ in line)
    return "".join(
        _style(style).render(text, color_system=ColorSystem.STANDARD) if style else text
        for text, style in line
    )


def _cuts(plain: str, width: int, at: re.Pattern[str]) -> list[int]:
    """Where lines of ``plain`` may start: after each match of ``at``, and after any
    space inside a stretch between two of those that is wider than ``width``."""
    cuts = [match.end() for match in at.finditer(plain)]
    if at is not SPACES:
        bounds = [0, *cuts, len(plain)]
        for start, end in pairwise(bounds):
            if _cells(plain[start:end].rstrip(" ")) > width:
                cuts += [match.end() for match in SPACES.finditer(plain, start, end)]
    margin = len(plain) - len(plain.lstrip(" "))
    return sorted(cut for cut in set(cuts) if margin < cut < len(plain))


def _breaks(plain: str, width: int, indent: int, at: re.Pattern[str]) -> list[tuple[int, int]]:
    """Where each line of :func:`_wrap` starts and ends in ``plain``: as many stretches
    as fit in the room, and at least one."""
    if at is SPACES and _is_ascii(plain):
        return _spaced(plain, width, indent)
    bounds: list[tuple[int, int]] = []
    start = end = 0
    for cut in [*_cuts(plain, width - indent, at), len(plain)]:
        room = width - (indent if bounds else 0)
        if end > start and _cells(plain[start:cut].rstrip(" ")) > room:
            bounds.append((start, end))
            start = end
        end = cut
    return [*bounds, (start, end)]


def _spaced(plain: str, width: int, indent: int) -> list[tuple[int, int]]:
    """:func:`_breaks` at spaces in text a cell a character wide (most messages), in a
    few searches a line: each line ends after the last run of spaces that starts within
    its room, or else after the first one (a word wider than the room)."""
    words_end = len(plain.rstrip(" "))
    margin = len(plain) - len(plain.lstrip(" "))
    bounds: list[tuple[int, int]] = []
    start = 0
    while True:
        room = width - (indent if bounds else 0)
        if words_end - start <= room:
            return [*bounds, (start, len(plain))]
        after = max(start, margin)
        space = plain.rfind(" ", after, start + room + 1)
        if space < 0:
            space = plain.find(" ", after)
        run = SPACES.match(plain, space) if space >= 0 else None
        if run is None or run.end() == len(plain):  # no run of spaces before the last word
            return [*bounds, (start, len(plain))]
        bounds.append((start, run.end()))
        start = run.end()


def _wrap(text: Line, width: int, indent: int = 0, at: re.Pattern[str] = SPACES) -> list[Line]:
    """``text`` in lines of at most ``width`` cells, broken where ``at`` matches (at
    spaces when those leave a stretch too wide); lines after the first start ``indent``
    spaces in. A stretch with no break that is wider than that keeps a longer line."""
    plain = "".join([piece for piece, _ in text])
    if _cells(plain) <= width:  # the common case: one line, no cut to look for
        return [_rstrip(text)]
    bounds = _breaks(plain, width, indent, at)
    if any(style for _, style in text):
        lines = [_rstrip(_slice(text, low, high)) for low, high in bounds]
    else:
        lines = [[(plain[low:high].rstrip(), "")] for low, high in bounds]
    return [lines[0], *([(" " * indent, ""), *line] for line in lines[1:])]


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
        rows: Sequence[Sequence[Piece]],
        right: Sequence[bool] = (),
        indent: str = "",
    ) -> _Columns:
        widths = [_cells(inert(header)) for header in headers]
        for row in rows:
            widths = [max(width, _cells(cell[0])) for width, cell in zip(widths, row, strict=True)]
        flush = tuple(right) or (False,) * len(headers)
        return cls(tuple(headers), tuple(widths), flush, indent)

    def offset(self, column: int) -> int:
        """Where a column starts, in cells from the margin."""
        return len(self.indent) + sum(self.widths[:column]) + len(GAP) * column

    def line(self, cells: Sequence[Piece]) -> Line:
        """One row, padded with unstyled spaces, with no trailing space."""
        line: Line = [(self.indent, "")]
        for index, cell in enumerate(cells):
            pad = (" " * (self.widths[index] - _cells(cell[0])), "")
            if index:
                line.append((GAP, ""))
            line.extend((pad, cell) if self.right[index] else (cell, pad))
        return _rstrip(line)

    def heading(self, title: str, width: int) -> list[Line]:
        """The section's title, the column headers, and a rule under them (no wider than
        ``width``: it is no name)."""
        span = self.offset(len(self.widths)) - len(GAP)
        rule = RULE * (min(span, width) - len(self.indent))
        return [
            _text(title, "bold"),
            self.line([(inert(header), "bold") for header in self.headers]),
            [(self.indent + rule, "")],
        ]


def _table(
    title: str,
    headers: Sequence[str],
    rows: Sequence[Sequence[object]],
    right: Sequence[bool],
    width: int,
) -> list[Line]:
    cells = [[(inert(str(value)), "") for value in row] for row in rows]
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

    def __init__(self, *, width: int = 100, color: bool = False, limit: int = 0) -> None:
        """``limit``: list at most that many findings, and as many excepted findings,
        then say how many more there are; 0 (the default) lists them all."""
        if limit < 0:
            raise ValueError(f"limit must be 0 (all) or more, not {limit}")
        self.width = width
        self.color = color
        self.limit = limit

    def _free(self, text: Line, indent: int, at: re.Pattern[str] = SPACES) -> list[Line]:
        """Free text under a row: from ``indent`` when there is room, wrapped at spaces."""
        if self.width - indent < NARROWEST_TEXT:
            indent = min(indent, 2 * len(GAP))
        return _wrap([(" " * indent, ""), *text], self.width, indent, at)

    def _more(self, shown: int, total: int, what: str, how: str = "") -> list[Line]:
        """The line that closes a list the limit cut: how many more, and how to see them."""
        if shown == total:
            return []
        return [[], *self._free(_text(overview.left_out(shown, total, what, how)), len(GAP), RULES)]

    def _findings(self, report: Report) -> Iterator[Line]:
        """Grouped by severity and kind, in the report's order: a row per finding, its
        account last (unpadded, so a long name lengthens only its own line), and its
        message below the account. Only the rows shown are laid out, a line at a time; a
        group's title counts all of its findings."""
        every = report.findings
        shown = every[: self.limit] if self.limit else every
        aged = overview.shows_age(report)
        rows = [
            (
                (inert(finding.target), ""),
                *([(inert(overview.age(report, finding)), "")] if aged else []),
                (inert(finding.remediation.value), ""),
                (inert(_label(finding)), "bold"),
            )
            for finding in shown
        ]
        headers = ["target", *(["age"] if aged else []), "action", _subject_header(shown)]
        columns = _Columns.fit(headers, rows, indent=GAP)
        below = columns.offset(len(headers) - 1)
        sizes = Counter((finding.severity, finding.kind) for finding in every)
        yield from columns.heading("Findings", self.width)
        pairs = zip(shown, rows, strict=True)
        for index, (key, group) in enumerate(groupby(pairs, lambda p: (p[0].severity, p[0].kind))):
            members = list(group)
            severity, kind = key
            title = f"{severity.value} {kind.value}: {overview.counted(sizes[key], len(members))}"
            yield from [[]] if index else []
            yield _text(title, f"bold {SEVERITY_STYLE[severity]}")
            for finding, row in members:
                yield columns.line(row)
                message = finding.message.removeprefix(f"{_label(finding)}: ")
                yield from self._free(_text(message), below)
        yield from self._more(len(shown), len(every), "finding", overview.NARROWER)

    def _excepted(self, report: Report) -> Iterator[Line]:
        """Each excepted finding and its exception's expiry; the owner and the reason
        below its account."""
        every = report.excepted
        shown = every[: self.limit] if self.limit else every
        rows = [
            (
                (inert(finding.kind.value), ""),
                (inert(finding.target), ""),
                (inert(rule.expires.isoformat()), ""),
                (inert(_label(finding)), "bold"),
            )
            for finding, rule in shown
        ]
        subject = _subject_header([finding for finding, _ in shown])
        columns = _Columns.fit(["kind", "target", "expires", subject], rows, indent=GAP)
        yield from columns.heading(
            f"Excepted: {overview.counted(len(every), len(shown))}", self.width
        )
        for (_, rule), row in zip(shown, rows, strict=True):
            yield columns.line(row)
            why = _text(f"owner {rule.owner}; reason: {rule.reason}")
            yield from self._free(why, columns.offset(len(row) - 1))
        yield from self._more(len(shown), len(every), "excepted finding")

    def _lines(self, report: Report) -> Iterator[Line]:
        """The report, a line at a time: each is written out as it comes, so that even
        every row of a large run is never held as lines of pieces."""
        yield from _wrap(_text(overview.headline(report), "bold"), self.width, len(GAP), PHRASES)
        for line in overview.change_lines(report):
            yield from _wrap(_text(line), self.width, len(GAP), PHRASES)
        yield []
        headers = overview.TARGET_HEADERS
        right = [index > 1 for index in range(len(headers))]
        rows = overview.target_rows(report)
        yield from _table("Targets", headers, rows, right, self.width)
        kind_headers, kind_rows = overview.kind_matrix(report)
        if kind_rows:
            yield []
            right = [index > 0 for index in range(len(kind_headers))]
            yield from _table("Findings by kind", kind_headers, kind_rows, right, self.width)
        if report.findings:
            yield []
            yield from self._findings(report)
        if report.excepted:
            yield []
            yield from self._excepted(report)
        yield []
        verdict = "" if report.gate.passed else "bold red"
        gate = _text(overview.gate_summary(report), verdict)
        yield from _wrap(gate, self.width, len(GAP), RULES)

    def chunks(self, report: Report) -> Iterator[str]:
        """The table a line at a time, each written out as soon as it is laid out."""
        for line in self._lines(report):
            yield _written(line, self.color) + "\n"

    def render(self, report: Report) -> str:
        return "".join(self.chunks(report))
