"""The summary every human-facing format opens with: targets, then kinds by target."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from nhirecon.core.model import Finding, FindingKind
from nhirecon.core.report import Report
from nhirecon.core.values import format_datetime

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


Shown = Callable[[str], str]
"""How a format shows a value from data or config (a name, a path, a rule's text) inside
a line of its own words: Markdown escapes it for CommonMark, leaving its own punctuation
as it is. The default shows it as is (the table makes its whole lines inert instead)."""


def _as_is(text: str) -> str:
    return text


def headline(report: Report, shown: Shown = _as_is) -> str:
    total = len(report.findings)
    return (
        f"nhirecon {report.tool_version} audit of {format_datetime(report.generated_at)}: "
        f"{total} finding{'s' if total != 1 else ''}, {len(report.excepted)} excepted; "
        f"source {shown(report.source_name)} ({report.identities} identities)"
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


def gate_lines(report: Report, shown: Shown = _as_is) -> list[str]:
    if not report.gate.outcomes:
        return ["gate: no rules"]
    verdict = "passed" if report.gate.passed else "FAILED"
    lines = [f"gate: {verdict}"]
    for outcome in report.gate.outcomes:
        mark = "ok  " if outcome.passed else "FAIL"
        lines.append(f"  {mark} {shown(outcome.rule.text)} (count {outcome.count})")
    return lines


def change_lines(report: Report, shown: Shown = _as_is) -> list[str]:
    """What the history and the baseline add to the headline, and the allowlist entries
    that name several accounts (nothing without them)."""
    lines = []
    if report.history is not None:
        new = sum(1 for finding in report.findings if (seen := report.seen(finding)) and seen.new)
        previous = report.history.previous_run
        since = f"since {format_datetime(previous)}" if previous else "first recorded run"
        lines.append(f"{since}: {new} new, {len(report.history.resolved)} resolved")
    if report.baseline is not None:
        path = shown(str(report.baseline.path))
        lines.append(
            f"baseline {path}: {len(report.baseline.accepted)} findings accepted"
            f" (not counted by the gate), {len(report.baseline.stale)} stale entries"
        )
    lines.extend(shown(entry.message) for entry in report.allowlist)
    return lines


def age(report: Report, finding: Finding) -> str:
    """``new`` or ``N d`` from the history, and ``baselined``; empty without either."""
    parts = []
    seen = report.seen(finding)
    if seen is not None:
        parts.append("new" if seen.new else f"{seen.age_days} d")
    if report.is_baselined(finding):
        parts.append("baselined")
    return ", ".join(parts)


def shows_age(report: Report) -> bool:
    return report.history is not None or report.baseline is not None
