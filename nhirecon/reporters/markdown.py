"""Markdown, for pull requests, wikis and tickets."""

from __future__ import annotations

from tabulate import tabulate

from nhirecon.core.report import Report
from nhirecon.reporters import overview
from nhirecon.reporters.base import Reporter


def _escape(value: object) -> str:
    """Text from other systems, inert in a table cell: no pipes, line breaks or HTML."""
    text = str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace("|", "\\|").replace("\n", " ")


class MarkdownReporter(Reporter):
    name = "markdown"
    description = "Markdown tables: summary, then one row per finding."
    extensions = (".md", ".markdown")

    def render(self, report: Report) -> str:
        parts = [f"# nhirecon audit\n\n{overview.headline(report)}\n"]
        if overview.change_lines(report):
            parts.append("\n".join(f"- {_escape(line)}" for line in overview.change_lines(report)))
            parts.append("")
        parts.append("## Targets\n")
        parts.append(
            tabulate(overview.target_rows(report), overview.TARGET_HEADERS, tablefmt="github")
            + "\n"
        )
        headers, rows = overview.kind_matrix(report)
        parts.append("## Findings by kind\n")
        parts.append((tabulate(rows, headers, tablefmt="github") if rows else "None.") + "\n")
        parts.append("## Gate\n")
        parts.append("\n".join(f"- {line.strip()}" for line in overview.gate_lines(report)) + "\n")
        parts.append("## Findings\n")
        if report.findings:
            table = [
                [
                    finding.severity.value,
                    finding.kind.value,
                    finding.target,
                    _escape(finding.account.label if finding.account else "-"),
                    _escape(finding.identity.label if finding.identity else "-"),
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
                [item.kind.value, item.target, _escape(item.label), _escape(item.account_id or "-")]
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
                    finding.target,
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
