"""The summary every human-facing format opens with: targets, then kinds by target."""

from __future__ import annotations

from collections import Counter

from nhirecon.model import FindingKind, Report
from nhirecon.values import format_datetime

TARGET_HEADERS = (
    "target",
    "connector",
    "accounts",
    "linked",
    "unmatched",
    "ambiguous",
    "inactive",
    "findings",
)


def headline(report: Report) -> str:
    total = len(report.findings)
    return (
        f"nhirecon {report.tool_version} audit of {format_datetime(report.generated_at)}: "
        f"{total} finding{'s' if total != 1 else ''}, {len(report.excepted)} excepted; "
        f"source {report.source_name} ({report.identities} identities)"
    )


def target_rows(report: Report) -> list[list[object]]:
    per_target = Counter(finding.target for finding in report.findings)
    rows: list[list[object]] = [
        [
            report.source_name,
            report.source_connector,
            "-",
            "-",
            "-",
            "-",
            "-",
            per_target[report.source_name],
        ]
    ]
    for stats in report.targets:
        rows.append(
            [
                stats.name,
                stats.connector,
                stats.accounts,
                stats.linked,
                stats.unmatched,
                stats.ambiguous,
                stats.inactive,
                per_target[stats.name],
            ]
        )
    return rows


def kind_matrix(report: Report) -> tuple[list[str], list[list[object]]]:
    """Rows: the kinds found; columns: each place with findings, then the total."""
    places = [report.source_name, *(stats.name for stats in report.targets)]
    counts = Counter((finding.kind, finding.target) for finding in report.findings)
    used = [place for place in places if any(counts[(kind, place)] for kind in FindingKind)]
    rows: list[list[object]] = []
    for kind in FindingKind:
        row = [counts[(kind, place)] for place in used]
        if any(row):
            rows.append([kind.value, *row, sum(row)])
    return ["kind", *used, "total"], rows


def gate_lines(report: Report) -> list[str]:
    if not report.gate.outcomes:
        return ["gate: no rules"]
    verdict = "passed" if report.gate.passed else "FAILED"
    lines = [f"gate: {verdict}"]
    for outcome in report.gate.outcomes:
        mark = "ok  " if outcome.passed else "FAIL"
        lines.append(f"  {mark} {outcome.rule.text} (count {outcome.count})")
    return lines
