"""One self-contained HTML page for the nightly mail or the archive.

Everything is inline (CSS, an SVG trend chart, a small script), and a Content Security
Policy forbids every fetch, so the page never reaches the network. It reads completely
without JavaScript (tables come sorted by severity, targets fold with ``<details>``); the
script only adds click-to-sort headers and a filter box. Every piece of text that comes
from a source, a target or the config is HTML-escaped.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from html import escape

from nhirecon.core.model import KIND_INFO, SEVERITY_ORDER, Finding, FindingKind, Severity
from nhirecon.core.report import Report
from nhirecon.core.values import format_datetime
from nhirecon.reporters import html_page, overview
from nhirecon.reporters.base import Reporter


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _tile(key: str, count: int, label: str, css: str = "") -> str:
    classes = f"tile {css}".strip()
    return (
        f'<div class="{classes}" id="tile-{_e(key)}"><span class="n" data-count="{count}">'
        f'{count}</span><span class="l">{_e(label)}</span></div>'
    )


def _subject(finding: Finding) -> str:
    subject = finding.account or finding.identity
    return subject.label if subject else "-"


def _flags(report: Report, finding: Finding) -> str:
    parts = []
    seen = report.seen(finding)
    if seen is not None and seen.new:
        parts.append('<span class="flag new">NEW</span>')
    if report.is_baselined(finding):
        parts.append('<span class="flag baselined">BASELINED</span>')
    if finding.expired_exception is not None:
        parts.append('<span class="flag expired">EXCEPTION EXPIRED</span>')
    return "".join(parts)


def _finding_rows(report: Report, findings: Iterable[Finding], *, target_column: bool) -> str:
    rows = []
    for finding in findings:
        seen = report.seen(finding)
        identity = finding.identity.label if finding.identity and finding.account else ""
        cells = [
            f'<td data-sort="{finding.severity.rank}"><span class="sev '
            f'{finding.severity.value}">{finding.severity.value}</span></td>',
            f"<td>{_e(finding.kind.value)}</td>",
        ]
        if target_column:
            cells.append(f"<td>{_e(finding.target)}</td>")
        cells += [
            f"<td>{_flags(report, finding)}{_e(_subject(finding))}</td>",
            f"<td>{_e(identity)}</td>",
            f'<td class="msg">{_e(finding.message)}</td>',
        ]
        if report.history is not None:
            age = seen.age_days if seen else ""
            first = format_datetime(seen.first_seen)[:10] if seen else ""
            cells.append(f'<td class="num">{age}</td><td class="date">{first}</td>')
        cells.append(f"<td>{_e(finding.remediation.value)}</td>")
        rows.append(
            f'<tr data-fingerprint="{_e(finding.fingerprint)}" data-kind="{finding.kind.value}">'
            + "".join(cells)
            + "</tr>"
        )
    return "\n".join(rows)


def _finding_table(
    report: Report, findings: Sequence[Finding], *, target_column: bool, css: str = "findings"
) -> str:
    if not findings:
        return '<p class="empty">None.</p>'
    heads = ["severity", "kind", *(["target"] if target_column else []), "account", "identity"]
    heads.append("message")
    if report.history is not None:
        heads += ["age (days)", "first seen"]
    heads.append("remediation")
    head = "".join(
        f'<th class="num">{_e(h)}</th>' if h == "age (days)" else f"<th>{_e(h)}</th>" for h in heads
    )
    body = _finding_rows(report, findings, target_column=target_column)
    return (
        f'<div class="scroll"><table class="{css}"><thead><tr>{head}</tr></thead>'
        f"<tbody>\n{body}\n</tbody></table></div>"
    )


class HtmlReporter(Reporter):
    name = "html"
    description = "One self-contained HTML page: summary tiles, trend chart, tables by target."
    extensions = (".html", ".htm")

    def render(self, report: Report) -> str:
        when = format_datetime(report.generated_at)
        title = f"nhirecon audit of {report.source_name}, {when}"
        out = [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f'<meta http-equiv="Content-Security-Policy" content="{html_page.CSP}">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            '<meta name="referrer" content="no-referrer">',
            f"<title>{_e(title)}</title>",
            f"<style>{html_page.STYLE}</style></head>",
            "<body><main>",
            f"<h1>{_e(title)}</h1>",
            f'<p class="meta">nhirecon {_e(report.tool_version)} · source '
            f"<strong>{_e(report.source_name)}</strong> ({report.identities} identities) · "
            f"{len(report.targets)} target{'s' if len(report.targets) != 1 else ''}</p>",
            self._gate(report),
            self._summary(report),
        ]
        if report.history is not None:
            out.append(self._trend(report))
            out.append(self._changes(report))
        out.append(self._targets(report))
        out.append(self._findings(report))
        out.append(self._excepted(report))
        out.append(self._allowlist(report))
        if report.baseline is not None:
            out.append(self._baseline(report))
        out.append(
            "<footer>Generated by nhirecon from the data its connectors pulled; "
            "fingerprints identify a finding across runs.</footer>"
        )
        out.append(f"</main><script>{html_page.SCRIPT}</script></body></html>")
        return "\n".join(out) + "\n"

    def _gate(self, report: Report) -> str:
        if not report.gate.outcomes:
            return '<p class="gate passed" id="gate" data-passed="true">Gate: no rules</p>'
        passed = report.gate.passed
        items = "".join(
            f"<li>{'ok' if o.passed else 'FAIL'} <code>{_e(o.rule.text)}</code> "
            f'(count <span data-rule-count="{o.count}">{o.count}</span>)</li>'
            for o in report.gate.outcomes
        )
        verdict = "passed" if passed else "FAILED"
        return (
            f'<div class="gate {"passed" if passed else "failed"}" id="gate" '
            f'data-passed="{str(passed).lower()}">Gate {verdict}<ul>{items}</ul></div>'
        )

    def _summary(self, report: Report) -> str:
        tiles = [_tile("total", len(report.findings), "findings")]
        if report.history is not None:
            new = sum(1 for f in report.findings if (s := report.seen(f)) and s.new)
            tiles.append(_tile("new", new, "new since last run", "new"))
            tiles.append(_tile("resolved", len(report.history.resolved), "resolved", "resolved"))
        tiles.append(_tile("excepted", len(report.excepted), "excepted"))
        if report.baseline is not None:
            tiles.append(_tile("baselined", len(report.baseline.accepted), "baselined"))
        severities = Counter(finding.severity for finding in report.findings)
        severity_tiles = [
            _tile(f"severity-{level.value}", severities[level], level.value, f"sev-{level.value}")
            for level in SEVERITY_ORDER
            if severities[level] or level in (Severity.CRITICAL, Severity.HIGH)
        ]
        kinds = Counter(finding.kind for finding in report.findings)
        kind_tiles = [
            _tile(f"kind-{kind.value}", kinds[kind], kind.value, f"sev-{kind_severity(kind)}")
            for kind in FindingKind
            if kinds[kind]
        ]
        return (
            '<section id="summary"><h2>Summary</h2>'
            f'<div class="tiles">{"".join(tiles)}</div>'
            f'<div class="tiles">{"".join(severity_tiles)}</div>'
            f'<div class="tiles">{"".join(kind_tiles)}</div></section>'
        )

    def _trend(self, report: Report) -> str:
        assert report.history is not None
        runs = report.history.trend
        if len(runs) < 2:
            return (
                '<section id="trend"><h2>Trend</h2><p class="empty">The first recorded run: '
                "the trend starts with the next one.</p></section>"
            )
        legend = (
            '<p class="legend"><span class="key" style="background:#9fb3c8"></span>findings '
            '<span class="key" style="background:#c53030"></span>of which new '
            '<span class="key" style="background:#2f855a"></span>resolved (below the line)</p>'
        )
        return (
            f'<section id="trend"><h2>Trend, last {len(runs)} runs</h2>{html_page.chart(runs)}'
            f"{legend}</section>"
        )

    def _changes(self, report: Report) -> str:
        assert report.history is not None
        new = [f for f in report.findings if (s := report.seen(f)) and s.new]
        previous = report.history.previous_run
        since = f" since {format_datetime(previous)}" if previous else " (first recorded run)"
        parts = [
            f'<section id="new"><h2>New{_e(since)}: {len(new)}</h2>',
            _finding_table(report, new, target_column=True, css="findings new"),
            "</section>",
            f'<section id="resolved"><h2>Resolved: {len(report.history.resolved)}</h2>',
        ]
        if report.history.resolved:
            rows = "\n".join(
                f'<tr data-fingerprint="{_e(item.fingerprint)}"><td>{_e(item.kind.value)}</td>'
                f"<td>{_e(item.target)}</td><td>{_e(item.label)}</td>"
                f"<td>{_e(item.account_id or item.identity_id or '')}</td>"
                f"<td>{format_datetime(item.first_seen)[:10]}</td>"
                f"<td>{format_datetime(item.last_seen)[:10]}</td></tr>"
                for item in report.history.resolved
            )
            parts.append(
                '<table class="resolved"><thead><tr><th>kind</th><th>target</th><th>account</th>'
                "<th>id</th><th>first seen</th><th>last seen</th></tr></thead>"
                f"<tbody>\n{rows}\n</tbody></table>"
            )
        else:
            parts.append('<p class="empty">None.</p>')
        parts.append("</section>")
        return "".join(parts)

    def _targets(self, report: Report) -> str:
        rows = []
        for row in overview.target_rows(report):
            cells = "".join(
                f"<td>{_e(value)}</td>" if index < 2 else f'<td class="num">{_e(value)}</td>'
                for index, value in enumerate(row)
            )
            rows.append(f'<tr data-place="{_e(row[0])}">{cells}</tr>')
        heads = "".join(
            f"<th>{_e(h)}</th>" if index < 2 else f'<th class="num">{_e(h)}</th>'
            for index, h in enumerate(overview.TARGET_HEADERS)
        )
        return (
            '<section id="targets"><h2>Source and targets</h2><div class="scroll">'
            f'<table class="targets"><thead><tr>{heads}</tr></thead><tbody>{"".join(rows)}'
            "</tbody></table></div></section>"
        )

    def _findings(self, report: Report) -> str:
        places = [report.source_name, *(stats.name for stats in report.targets)]
        parts = ['<section id="findings"><h2>Findings by target</h2>']
        for place in places:
            found = [f for f in report.findings if f.target == place]
            new = sum(1 for f in found if (s := report.seen(f)) and s.new)
            extra = f", {new} new" if report.history is not None else ""
            parts.append(
                f'<details open data-place="{_e(place)}"><summary>{_e(place)}: '
                f'<span data-count="{len(found)}">{len(found)}</span> '
                f"finding{'s' if len(found) != 1 else ''}{extra}</summary>"
                f"{_finding_table(report, found, target_column=False)}</details>"
            )
        parts.append("</section>")
        return "".join(parts)

    def _excepted(self, report: Report) -> str:
        if not report.excepted:
            return ""
        rows = "\n".join(
            f'<tr data-fingerprint="{_e(f.fingerprint)}"><td>{_e(f.kind.value)}</td>'
            f"<td>{_e(f.target)}</td><td>{_e(_subject(f))}</td><td>{_e(rule.reason)}</td>"
            f"<td>{_e(rule.owner)}</td><td>{rule.expires.isoformat()}</td></tr>"
            for f, rule in report.excepted
        )
        return (
            f'<section id="excepted"><h2>Excepted: {len(report.excepted)}</h2>'
            '<table class="excepted"><thead><tr><th>kind</th><th>target</th><th>account</th>'
            "<th>reason</th><th>owner</th><th>expires</th></tr></thead>"
            f"<tbody>\n{rows}\n</tbody></table></section>"
        )

    def _allowlist(self, report: Report) -> str:
        if not report.allowlist:
            return ""
        rows = "\n".join(
            f"<tr><td>{_e(entry.list.value)}</td><td>{_e(entry.target)}</td>"
            f"<td>{_e(entry.entry)}</td><td>{_e(', '.join(entry.accounts))}</td>"
            f"<td>{_e(entry.effect)}</td></tr>"
            for entry in report.allowlist
        )
        return (
            '<section id="allowlist"><h2>Allowlist entries that name several accounts</h2>'
            '<table class="allowlist"><thead><tr><th>list</th><th>target</th><th>entry</th>'
            "<th>accounts</th><th>effect</th></tr></thead>"
            f"<tbody>\n{rows}\n</tbody></table></section>"
        )

    def _baseline(self, report: Report) -> str:
        assert report.baseline is not None
        view = report.baseline
        parts = [
            f'<section id="baseline"><h2>Baseline</h2><p><code>{_e(view.path)}</code>: '
            f"{view.entries} entries, {len(view.accepted)} matched this run, "
            f"{len(view.stale)} stale (match nothing: prune them with "
            "<code>nhirecon baseline -o FILE</code>).</p>"
        ]
        if view.stale:
            rows = "\n".join(
                f'<tr data-fingerprint="{_e(entry.fingerprint)}"><td>{_e(entry.kind.value)}</td>'
                f"<td>{_e(entry.target)}</td><td>{_e(entry.label or entry.account or '')}</td>"
                f"<td>{_e(entry.note)}</td></tr>"
                for entry in view.stale
            )
            parts.append(
                '<table class="stale"><thead><tr><th>kind</th><th>target</th><th>account</th>'
                f"<th>note</th></tr></thead><tbody>\n{rows}\n</tbody></table>"
            )
        parts.append("</section>")
        return "".join(parts)


def kind_severity(kind: FindingKind) -> str:
    return KIND_INFO[kind].severity.value
