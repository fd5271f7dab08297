"""Markdown, for pull requests, wikis and tickets.

Every value from data or config is inert: it renders as the text it is, never as a link,
image, HTML, emphasis, code, a table cell break, a mention or an issue reference (SPEC §6).
"""

from __future__ import annotations

import string

from tabulate import tabulate

from nhirecon.core.report import Report
from nhirecon.core.text import inert
from nhirecon.reporters import overview
from nhirecon.reporters.base import Reporter

_PUNCTUATION = frozenset(string.punctuation)
"""ASCII punctuation: what CommonMark lets a backslash escape (CommonMark 0.31 §2.4)."""
_BREAK = "&#8203;"
"""U+200B ZERO WIDTH SPACE, as an entity so that the Markdown source shows it."""


def _escape(value: object) -> str:
    """``value`` as Markdown inline text that renders exactly as the value reads.

    - Control characters and line breaks are shown escaped (``\\x1b``, ``\\r``: see
      :func:`nhirecon.core.text.inert`), so one value is one line and one table row.
    - Every ASCII punctuation character is backslash-escaped (CommonMark §2.4), so no
      link, image, raw HTML, entity, autolink, emphasis, code span, strikethrough, math
      or cell break (``\\|``, GFM §4.10) can start. The escapes also keep ``www.``,
      ``https://`` and ``a@b.c`` from being seen by the GFM autolink extension, which
      matches them in the source.
    - GitHub finds mentions (``@team``), issue references (``#123``, ``GH-123``) and, on
      some renderers, URLs in the rendered text, after the escapes are gone: a zero-width
      space follows every ``@`` and ``#``, the ``-`` of ``GH-`` before a digit, and the
      ``:`` of ``://``. The text reads the same; the JSON and CSV reports keep the exact
      value for copying.

    A backslash is itself escaped only where it would escape what follows (before ASCII
    punctuation, or at the end); elsewhere CommonMark shows it as it is (``\\x1b``).
    """
    text = inert(str(value))
    if text.isalnum():
        return text
    out: list[str] = []
    for index, char in enumerate(text):
        following = text[index + 1 : index + 2]
        if char == "\\" and following and following not in _PUNCTUATION:
            out.append(char)
        elif char in _PUNCTUATION:
            out.append("\\" + char)
        else:
            out.append(char)
        if (
            char in "@#"
            or (char == ":" and text.startswith("//", index + 1))
            or (char == "-" and following.isdigit() and text[index - 2 : index].lower() == "gh")
        ):
            out.append(_BREAK)
    return "".join(out)


def _cells(row: list[object]) -> list[object]:
    """A row of the summary tables: names escaped; counts and ``-`` as they are."""
    return [cell if isinstance(cell, int) or cell == "-" else _escape(cell) for cell in row]


class MarkdownReporter(Reporter):
    name = "markdown"
    description = "Markdown tables: summary, then one row per finding."
    extensions = (".md", ".markdown")

    def render(self, report: Report) -> str:
        parts = [f"# nhirecon audit\n\n{overview.headline(report, _escape)}\n"]
        changes = overview.change_lines(report, _escape)
        if changes:
            parts.append("\n".join(f"- {line}" for line in changes))
            parts.append("")
        parts.append("## Targets\n")
        targets = [_cells(row) for row in overview.target_rows(report)]
        parts.append(tabulate(targets, overview.TARGET_HEADERS, tablefmt="github") + "\n")
        headers, rows = overview.kind_matrix(report)
        parts.append("## Findings by kind\n")
        matrix = tabulate(rows, [_escape(header) for header in headers], tablefmt="github")
        parts.append((matrix if rows else "None.") + "\n")
        parts.append("## Gate\n")
        gate = overview.gate_lines(report, _escape)
        parts.append("\n".join(f"- {line.strip()}" for line in gate) + "\n")
        parts.append("## Findings\n")
        if report.findings:
            table = [
                [
                    finding.severity.value,
                    finding.kind.value,
                    _escape(finding.target),
                    _escape(finding.account.label) if finding.account else "-",
                    _escape(finding.identity.label) if finding.identity else "-",
                    _escape(finding.message),
                    *([overview.age(report, finding)] if overview.shows_age(report) else []),
                    finding.remediation.value,
                ]
                for finding in report.findings
            ]
            headers_ = [
                "severity",
                "kind",
                "target",
                "account",
                "identity",
                "message",
                *(["age"] if overview.shows_age(report) else []),
                "remediation",
            ]
            parts.append(tabulate(table, headers_, tablefmt="github", disable_numparse=True) + "\n")
        else:
            parts.append("None.\n")
        if report.history is not None and report.history.resolved:
            parts.append("## Resolved since the last run\n")
            resolved = [
                [
                    item.kind.value,
                    _escape(item.target),
                    _escape(item.label),
                    _escape(item.account_id) if item.account_id else "-",
                ]
                for item in report.history.resolved
            ]
            parts.append(
                tabulate(
                    resolved,
                    ["kind", "target", "account", "account id"],
                    tablefmt="github",
                    disable_numparse=True,
                )
                + "\n"
            )
        if report.excepted:
            parts.append("## Excepted\n")
            table = [
                [
                    finding.kind.value,
                    _escape(finding.target),
                    _escape(finding.subject_id),
                    _escape(rule.reason),
                    _escape(rule.owner),
                    rule.expires.isoformat(),
                ]
                for finding, rule in report.excepted
            ]
            parts.append(
                tabulate(
                    table,
                    ["kind", "target", "subject", "reason", "owner", "expires"],
                    tablefmt="github",
                    disable_numparse=True,
                )
                + "\n"
            )
        return "\n".join(parts)
