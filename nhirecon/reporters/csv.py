"""One CSV row per finding, for spreadsheets and ticket imports."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator

from nhirecon.core.model import Finding
from nhirecon.core.report import Report
from nhirecon.core.values import format_datetime
from nhirecon.reporters.base import Reporter

COLUMNS = (
    "fingerprint",
    "severity",
    "kind",
    "target",
    "account_id",
    "account_username",
    "account_email",
    "account_origin",
    "identity_id",
    "identity_email",
    "message",
    "remediation",
    "remediation_reason",
    "controls",
    "detail",
    "first_seen",
    "age_days",
    "new",
    "baselined",
)
"""The last four are empty when no history is kept (``--no-history``) or no baseline given."""
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
ROWS = 500
"""Rows in each piece of the text (:meth:`CsvReporter.chunks`)."""


def cell(value: object) -> str:
    """A spreadsheet-safe cell: text that would start a formula, after any leading spaces
    (OWASP CSV injection), is quoted with ``'``."""
    if value is None:
        return ""
    text = str(value)
    return f"'{text}" if text.lstrip(" ").startswith(FORMULA_STARTS) else text


def _tracking(report: Report, finding: Finding) -> tuple[object, ...]:
    seen = report.seen(finding)
    return (
        format_datetime(seen.first_seen) if seen else None,
        seen.age_days if seen else None,
        ("true" if seen.new else "false") if seen else None,
        ("true" if report.is_baselined(finding) else "false") if report.baseline else None,
    )


class CsvReporter(Reporter):
    name = "csv"
    description = "One row per finding (cells that could run as spreadsheet formulas are quoted)."
    extensions = (".csv",)

    def chunks(self, report: Report) -> Iterator[str]:
        """The rows, some hundreds at a time."""
        out = io.StringIO()
        # CRLF, as RFC 4180 writes it: the csv module then quotes every cell that holds a
        # CR or an LF, so a value with a bare CR cannot end a row and start a formula.
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(COLUMNS)
        for number, finding in enumerate(report.findings, 1):
            writer.writerow(_row(report, finding))
            if number % ROWS == 0:
                yield out.getvalue()
                out.seek(0)
                out.truncate()
        if rest := out.getvalue():
            yield rest

    def render(self, report: Report) -> str:
        return "".join(self.chunks(report))


def _row(report: Report, finding: Finding) -> Iterator[str]:
    account, identity = finding.account, finding.identity
    return (
        cell(value)
        for value in (
            finding.fingerprint,
            finding.severity.value,
            finding.kind.value,
            finding.target,
            account.id if account else None,
            account.username if account else None,
            account.email if account else None,
            account.origin.value if account else None,
            identity.id if identity else None,
            identity.email if identity else None,
            finding.message,
            finding.remediation.value,
            finding.remediation_reason,
            ";".join(finding.controls),
            json.dumps(dict(finding.detail), sort_keys=True, ensure_ascii=False),
            *_tracking(report, finding),
        )
    )
