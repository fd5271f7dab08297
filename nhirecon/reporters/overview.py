"""The summary every human-facing format opens with: targets, then kinds by target.

The counts are always the whole run's, also for a report :func:`~.select.select` narrowed:
only its lists of findings are shorter, and :func:`change_lines` says by how much.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from nhirecon.core.evidence import NotEvaluated
from nhirecon.core.model import SEVERITY_ORDER, Finding, FindingKind
from nhirecon.core.report import Report
from nhirecon.core.values import format_datetime
from nhirecon.reporters.select import Selection, whole

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


def numbered(count: int, noun: str, nouns: str = "") -> str:
    """``1 finding``, ``2 findings``, ``0 findings``; ``nouns`` when the plural is not
    ``noun`` + ``s`` (``identity``, ``identities``)."""
    return f"{count} {noun if count == 1 else nouns or noun + 's'}"


def counted(total: int, listed: int) -> str:
    """``7 findings``, or ``7 findings, 2 shown`` when a limit lists fewer."""
    count = numbered(total, "finding")
    return count if listed == total else f"{count}, {listed} shown"


NARROWER = (
    "; --kind and --severity narrow the list (--target the run); -f json, csv or html reports"
    " every one"
)
"""How else to see the findings a limit left out of a list."""


def left_out(listed: int, total: int, what: str, how: str = "") -> str:
    """The line closing a list a limit cut: ``… and 4 more findings: --limit 0 lists all
    54`` and, after it, ``how`` (:data:`NARROWER`)."""
    return f"… and {numbered(total - listed, f'more {what}')}: --limit 0 lists all {total}{how}"


def headline(report: Report, shown: Shown = _as_is) -> str:
    run = whole(report)
    identities = numbered(run.identities, "identity", "identities")
    return (
        f"nhirecon {run.tool_version} audit of {format_datetime(run.generated_at)}: "
        f"{numbered(len(run.findings), 'finding')}, {len(run.excepted)} excepted; "
        f"source {shown(run.source_name)} ({identities})"
    )


def target_rows(report: Report) -> list[list[object]]:
    report = whole(report)
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
    report = whole(report)
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


def gate_summary(report: Report, shown: Shown = _as_is) -> str:
    """The verdict on one line: the rules that failed with what each counted, then those
    that passed (``gate FAILED: orphan>0 counted 17; passed: leaver>2 counted 1``)."""
    outcomes = report.gate.outcomes
    if not outcomes:
        return "gate: no rules"

    def listed(passed: bool) -> str:
        return "; ".join(
            f"{shown(outcome.rule.text)} counted {outcome.count}"
            for outcome in outcomes
            if outcome.passed is passed
        )

    if report.gate.passed:
        return f"gate passed: {listed(True)}"
    passing = listed(True)
    return f"gate FAILED: {listed(False)}" + (f"; passed: {passing}" if passing else "")


def _selection_lines(report: Report) -> list[str]:
    """How much of the run a narrowed report shows, and by what (nothing for a whole run)."""
    if not isinstance(report, Selection):
        return []
    by = []
    if report.kinds != frozenset(FindingKind):
        by.append("kind " + ", ".join(kind.value for kind in FindingKind if kind in report.kinds))
    if len(report.severities) != len(SEVERITY_ORDER):
        chosen = (severity.value for severity in SEVERITY_ORDER if severity in report.severities)
        by.append("severity " + ", ".join(chosen))
    return [
        f"showing {'; '.join(by)}: {len(report.findings)} of"
        f" {numbered(len(report.whole.findings), 'finding')},"
        f" {len(report.excepted)} of {len(report.whole.excepted)} excepted"
    ]


def change_lines(report: Report, shown: Shown = _as_is) -> list[str]:
    """What a selection, the history and the baseline add to the headline, the allowlist
    entries that name several accounts or none, and the rules not evaluated for want of
    data (nothing without them)."""
    lines = _selection_lines(report)
    run = whole(report)
    if report.history is not None:
        new = sum(1 for finding in run.findings if (seen := run.seen(finding)) and seen.new)
        previous = report.history.previous_run
        since = f"since {format_datetime(previous)}" if previous else "first recorded run"
        lines.append(f"{since}: {new} new, {len(report.history.resolved)} resolved")
    if report.baseline is not None:
        path = shown(str(report.baseline.path))
        accepted = numbered(len(report.baseline.accepted), "finding")
        stale = numbered(len(report.baseline.stale), "stale entry", "stale entries")
        lines.append(f"baseline {path}: {accepted} accepted (not counted by the gate), {stale}")
    lines.extend(shown(entry.message) for entry in report.allowlist)
    lines.extend(_skipped_lines(report, shown))
    return lines


def skipped(report: Report) -> list[tuple[str, NotEvaluated]]:
    """The rules not evaluated for want of data (SPEC §3.2), each with its place: the
    source's first, then each target's, in order."""
    evidence = [
        (report.source_name, report.source_evidence),
        *((stats.name, stats.evidence) for stats in report.targets),
    ]
    return [(place, item) for place, found in evidence for item in found.not_evaluated]


def _skipped_lines(report: Report, shown: Shown) -> list[str]:
    """:func:`skipped`, each rule with the places it was not evaluated for, on one line;
    nothing when every rule was."""
    places: dict[FindingKind, list[str]] = {}
    for place, item in skipped(report):
        where = shown(place) if item.input is None else f"{shown(place)}: {item.input}"
        places.setdefault(item.rule, []).append(where)
    if not places:
        return []
    rules = [f"{kind.value} ({', '.join(places[kind])})" for kind in FindingKind if kind in places]
    return ["not evaluated for want of data: " + "; ".join(rules)]


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
