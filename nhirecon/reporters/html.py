"""One self-contained HTML page for the nightly mail or the archive.

This module turns a report into plain values (strings and numbers, sorted as the page
shows them); ``templates/report.html.j2`` lays them out, escaping every one of them (see
:mod:`nhirecon.reporters.html_page`). Everything is inline (CSS, an SVG trend chart, a
small script), and a Content Security Policy forbids every fetch, so the page never
reaches the network. It reads completely without JavaScript (tables come sorted by
severity, targets fold with ``<details>``); the script only adds click-to-sort headers and
a filter box.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from nhirecon.core.model import KIND_INFO, SEVERITY_ORDER, Finding, FindingKind, Record, Severity
from nhirecon.core.report import Report
from nhirecon.core.values import format_datetime
from nhirecon.reporters import html_page, overview
from nhirecon.reporters.base import Reporter


@dataclass(frozen=True, slots=True)
class Tile:
    """A number on the summary: neutral (``zero``) when there is nothing to count."""

    key: str
    count: int
    label: str
    css: str
    hint: str = ""
    """A tooltip: what a finding kind means."""


@dataclass(frozen=True, slots=True)
class Row:
    """One finding as a table row."""

    fingerprint: str
    kind: str
    severity: str
    rank: int
    target: str
    flags: tuple[tuple[str, str], ...]
    """Badges as (CSS class, text): NEW, BASELINED, EXCEPTION EXPIRED."""
    subject: str
    subject_name: str
    """The account's (or the identity's) display name, as a tooltip."""
    identity: str
    identity_name: str
    message: str
    age: str
    first_seen: str
    remediation: str


@dataclass(frozen=True, slots=True)
class Place:
    """The source or a target, with its findings."""

    name: str
    count: int
    new: int | None
    """How many are new, when history is kept."""
    rows: tuple[Row, ...]


def title(report: Report) -> str:
    """What was audited and when, in words: the page's title and heading."""
    count = len(report.targets)
    places = report.source_name
    if count:
        places += f" and {count} target{'s' if count != 1 else ''}"
    return f"nhirecon audit of {places} — {html_page.spoken_instant(report.generated_at)}"


def _tile(key: str, count: int, label: str, css: str = "", hint: str = "") -> Tile:
    # A zero is good news: it never wears the colour of what it counts.
    return Tile(key, count, label, css if count else "zero", hint)


def _label(finding: Finding) -> str:
    subject = finding.account or finding.identity
    return subject.label if subject else "-"


def _name(record: Record | None) -> str:
    return (record.display_name or "") if record else ""


def _flags(report: Report, finding: Finding) -> tuple[tuple[str, str], ...]:
    flags = []
    seen = report.seen(finding)
    if seen is not None and seen.new:
        flags.append(("new", "NEW"))
    if report.is_baselined(finding):
        flags.append(("baselined", "BASELINED"))
    if finding.expired_exception is not None:
        flags.append(("expired", "EXCEPTION EXPIRED"))
    return tuple(flags)


def _row(report: Report, finding: Finding) -> Row:
    seen = report.seen(finding)
    subject = finding.account or finding.identity
    linked = finding.identity if finding.account else None
    return Row(
        fingerprint=finding.fingerprint,
        kind=finding.kind.value,
        severity=finding.severity.value,
        rank=finding.severity.rank,
        target=finding.target,
        flags=_flags(report, finding),
        subject=_label(finding),
        subject_name=_name(subject),
        identity=linked.label if linked else "",
        identity_name=_name(linked),
        message=finding.message,
        age=str(seen.age_days) if seen else "",
        first_seen=format_datetime(seen.first_seen)[:10] if seen else "",
        remediation=finding.remediation.value,
    )


def _rows(report: Report, findings: Iterable[Finding]) -> tuple[Row, ...]:
    return tuple(_row(report, finding) for finding in findings)


def _is_new(report: Report, finding: Finding) -> bool:
    seen = report.seen(finding)
    return seen is not None and seen.new


def _summary(report: Report) -> list[list[Tile]]:
    counts = [_tile("total", len(report.findings), "findings")]
    if report.history is not None:
        new = sum(1 for finding in report.findings if _is_new(report, finding))
        counts.append(_tile("new", new, "new since last run", "new"))
        counts.append(_tile("resolved", len(report.history.resolved), "resolved", "resolved"))
    counts.append(_tile("excepted", len(report.excepted), "excepted"))
    if report.baseline is not None:
        counts.append(_tile("baselined", len(report.baseline.accepted), "baselined"))
    severities = Counter(finding.severity for finding in report.findings)
    by_severity = [
        _tile(f"severity-{level.value}", severities[level], level.value, f"sev-{level.value}")
        for level in SEVERITY_ORDER
        if severities[level] or level in (Severity.CRITICAL, Severity.HIGH)
    ]
    kinds = Counter(finding.kind for finding in report.findings)
    by_kind = [
        _tile(
            f"kind-{kind.value}",
            kinds[kind],
            kind.value,
            f"sev-{KIND_INFO[kind].severity.value}",
            KIND_INFO[kind].summary,
        )
        for kind in FindingKind
        if kinds[kind]
    ]
    return [counts, by_severity, by_kind]


def _kinds_shown(report: Report) -> list[tuple[str, str]]:
    """Every kind the page names, in the README's order, with what it means."""
    shown = {finding.kind for finding in report.findings}
    shown |= {finding.kind for finding, _ in report.excepted}
    if report.history is not None:
        shown |= {item.kind for item in report.history.resolved}
    if report.baseline is not None:
        shown |= {entry.kind for entry in report.baseline.stale}
    return [(kind.value, KIND_INFO[kind].summary) for kind in FindingKind if kind in shown]


def _places(report: Report) -> list[Place]:
    names = [report.source_name, *(stats.name for stats in report.targets)]
    places = []
    for name in names:
        found = [finding for finding in report.findings if finding.target == name]
        new = sum(1 for finding in found if _is_new(report, finding))
        counted_new = new if report.history is not None else None
        places.append(Place(name, len(found), counted_new, _rows(report, found)))
    return places


def _history(report: Report) -> dict[str, object]:
    if report.history is None:
        return {"history": None}
    view = report.history
    previous = view.previous_run
    return {
        "history": view,
        "chart": html_page.chart(view.trend) if len(view.trend) >= 2 else None,
        "since": f"since {format_datetime(previous)}" if previous else "(first recorded run)",
        "new_rows": _rows(report, (f for f in report.findings if _is_new(report, f))),
        "resolved": [
            {
                "fingerprint": item.fingerprint,
                "kind": item.kind.value,
                "target": item.target,
                "label": item.label,
                "id": item.account_id or item.identity_id or "",
                "first_seen": format_datetime(item.first_seen)[:10],
                "last_seen": format_datetime(item.last_seen)[:10],
            }
            for item in view.resolved
        ],
    }


def _excepted(report: Report) -> list[dict[str, str]]:
    return [
        {
            "fingerprint": finding.fingerprint,
            "kind": finding.kind.value,
            "target": finding.target,
            "subject": _label(finding),
            "reason": rule.reason,
            "owner": rule.owner,
            "expires": rule.expires.isoformat(),
        }
        for finding, rule in report.excepted
    ]


def _baseline(report: Report) -> dict[str, object] | None:
    view = report.baseline
    if view is None:
        return None
    return {
        "path": view.path,
        "entries": view.entries,
        "matched": len(view.accepted),
        "stale": [
            {
                "fingerprint": entry.fingerprint,
                "kind": entry.kind.value,
                "target": entry.target,
                "label": entry.label or entry.account or "",
                "note": entry.note,
            }
            for entry in view.stale
        ],
    }


def _finding_heads(report: Report, *, target_column: bool) -> list[str]:
    heads = ["severity", "kind", *(["target"] if target_column else []), "account", "identity"]
    heads.append("message")
    if report.history is not None:
        heads += ["age (days)", "first seen"]
    heads.append("remediation")
    return heads


def context(report: Report) -> dict[str, object]:
    """Everything the template shows, as plain values; the template escapes them all."""
    return {
        "title": title(report),
        "script_hash": html_page.script_hash(),
        "tool_version": report.tool_version,
        "source_name": report.source_name,
        "identities": report.identities,
        "target_count": len(report.targets),
        "gate": report.gate,
        "tiles": _summary(report),
        "kinds": _kinds_shown(report),
        "hints": {kind.value: info.summary for kind, info in KIND_INFO.items()},
        **_history(report),
        "heads": _finding_heads(report, target_column=False),
        "heads_with_target": _finding_heads(report, target_column=True),
        "target_heads": overview.TARGET_HEADERS,
        "target_rows": [[str(value) for value in row] for row in overview.target_rows(report)],
        "places": _places(report),
        "excepted": _excepted(report),
        "allowlist": [
            {
                "list": entry.list.value,
                "target": entry.target,
                "entry": entry.entry,
                "accounts": ", ".join(entry.accounts),
                "effect": entry.effect,
            }
            for entry in report.allowlist
        ],
        "not_evaluated": [
            {
                "rule": item.rule.value,
                "place": place if item.input is None else f"{place}: {item.input}",
                "reason": item.reason,
            }
            for place, item in overview.skipped(report)
        ],
        "baseline": _baseline(report),
    }


class HtmlReporter(Reporter):
    name = "html"
    description = "One self-contained HTML page: summary tiles, trend chart, tables by target."
    extensions = (".html", ".htm")

    def render(self, report: Report) -> str:
        page = html_page.environment().get_template(html_page.PAGE)
        return page.render(context(report))
