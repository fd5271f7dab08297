"""One self-contained HTML page for the nightly mail or the archive.

Everything is inline (CSS, an SVG trend chart, a small script), and a Content Security
Policy forbids every fetch, so the page never reaches the network. It reads completely
without JavaScript (tables come sorted by severity, targets fold with ``<details>``); the
script only adds click-to-sort headers and a filter box. Every piece of text that comes
from a source, a target or the config is HTML-escaped.
"""

from __future__ import annotations

import base64
import hashlib
from collections import Counter
from collections.abc import Iterable, Sequence
from html import escape
from typing import Final

from nhirecon.core.model import KIND_INFO, SEVERITY_ORDER, Finding, FindingKind, Severity
from nhirecon.core.report import Report, RunTrend
from nhirecon.core.values import format_datetime
from nhirecon.reporters import overview
from nhirecon.reporters.base import Reporter

STYLE: Final = """
:root{--ink:#1f2933;--muted:#616e7c;--line:#d9e2ec;--bg:#f5f7fa;--card:#fff;
--critical:#8a1c1c;--high:#c53030;--medium:#b7791f;--low:#2b6cb0;--info:#718096;
--new:#c53030;--resolved:#2f855a}
*{box-sizing:border-box}
body{margin:0;padding:24px;font:14px/1.45 -apple-system,"Segoe UI",Roboto,Helvetica,Arial,
sans-serif;color:var(--ink);background:var(--bg)}
main{max-width:1200px;margin:0 auto}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 10px}
.meta{color:var(--muted);margin:0 0 12px}
.gate{display:inline-block;padding:6px 12px;border-radius:6px;font-weight:600}
.gate.passed{background:#e6f4ea;color:#1e4620}.gate.failed{background:#fdecea;color:#7a1c1c}
.gate ul{margin:4px 0 0;padding-left:18px;font-weight:400}
.tiles{display:flex;flex-wrap:wrap;gap:10px;margin:8px 0}
.tile{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:10px 14px;
min-width:118px}
.tile .n{display:block;font-size:24px;font-weight:700}
.tile .l{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.04em}
.tile.sev-critical{border-left:5px solid var(--critical)}.tile.sev-high{border-left:5px solid
var(--high)}.tile.sev-medium{border-left:5px solid var(--medium)}.tile.sev-low{border-left:5px
solid var(--low)}.tile.sev-info{border-left:5px solid var(--info)}
.tile.new{border-left:5px solid var(--new)}.tile.resolved{border-left:5px solid var(--resolved)}
table{border-collapse:collapse;width:100%;background:var(--card);border:1px solid var(--line)}
th,td{text-align:left;padding:6px 8px;border-bottom:1px solid var(--line);vertical-align:top}
th{background:#eef2f7;font-size:12px;text-transform:uppercase;letter-spacing:.03em}
td.msg{min-width:16em}td.date{white-space:nowrap}
td.num,th.num{text-align:right}
tr:last-child td{border-bottom:0}
.sev{display:inline-block;padding:1px 7px;border-radius:10px;color:#fff;font-size:12px;
font-weight:600}
.sev.critical{background:var(--critical)}.sev.high{background:var(--high)}
.sev.medium{background:var(--medium)}.sev.low{background:var(--low)}
.sev.info{background:var(--info)}
.flag{display:inline-block;padding:0 6px;border-radius:4px;font-size:11px;font-weight:700;
margin-right:4px}
.flag.new{background:#fdecea;color:var(--new)}.flag.baselined{background:#edf2f7;color:#4a5568}
.flag.expired{background:#fff4e5;color:#8a4b08}
details{margin:10px 0}summary{cursor:pointer;font-weight:600;padding:4px 0}
.empty{color:var(--muted);font-style:italic}
code{font-size:12px;color:var(--muted)}
svg{max-width:100%;height:auto}svg text{font:11px sans-serif;fill:var(--muted)}
.scroll{overflow-x:auto}
.filter{margin:6px 0 10px;padding:6px 8px;width:320px;max-width:100%;border:1px solid
var(--line);border-radius:6px}
th[data-sortable]{cursor:pointer}th[aria-sort=ascending]::after{content:" \\25B2"}
th[aria-sort=descending]::after{content:" \\25BC"}
.legend{color:var(--muted);font-size:12px;margin:2px 0}
.key{display:inline-block;width:10px;height:10px;margin:0 4px 0 10px;vertical-align:middle}
footer{margin-top:32px;color:var(--muted);font-size:12px}
"""

SCRIPT: Final = """
(function () {
  function key(cell) {
    var raw = cell.getAttribute("data-sort");
    var text = raw === null ? cell.textContent.trim() : raw;
    var number = Number(text);
    return text !== "" && !isNaN(number) ? number : text.toLowerCase();
  }
  document.querySelectorAll("table.findings").forEach(function (table) {
    var headers = table.querySelectorAll("thead th");
    headers.forEach(function (th, column) {
      th.setAttribute("data-sortable", "");
      th.addEventListener("click", function () {
        var ascending = th.getAttribute("aria-sort") !== "ascending";
        headers.forEach(function (other) { other.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = key(a.cells[column]), y = key(b.cells[column]);
          var order = x < y ? -1 : x > y ? 1 : 0;
          return ascending ? order : -order;
        });
        rows.forEach(function (row) { body.appendChild(row); });
      });
    });
  });
  var section = document.getElementById("findings");
  if (section) {
    var box = document.createElement("input");
    box.type = "search";
    box.className = "filter";
    box.placeholder = "Filter findings (kind, account, message...)";
    box.setAttribute("aria-label", "Filter findings");
    box.addEventListener("input", function () {
      var words = box.value.toLowerCase().split(/\\s+/).filter(Boolean);
      section.querySelectorAll("tbody tr").forEach(function (row) {
        var text = row.textContent.toLowerCase();
        row.hidden = !words.every(function (word) { return text.indexOf(word) >= 0; });
      });
    });
    section.insertBefore(box, section.children[1] || null);
  }
  document.body.setAttribute("data-enhanced", "yes");
})();
"""

SCRIPT_HASH: Final = base64.b64encode(hashlib.sha256(SCRIPT.encode()).digest()).decode()
CSP: Final = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    f"script-src 'sha256-{SCRIPT_HASH}'; base-uri 'none'; form-action 'none'"
)

CHART_WIDTH: Final = 720
CHART_HEIGHT: Final = 200
CHART_TOP: Final = 16
CHART_AXIS: Final = 130
"""The y of the zero line: totals grow up from it, resolved counts grow down."""
CHART_LEFT: Final = 40


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


def _chart(runs: Sequence[RunTrend]) -> str:
    """Bars of findings per run (new ones on top, in red), resolved ones below the line."""
    if not runs:
        return ""
    top = max(max(run.total for run in runs), 1)
    down = max(max(run.resolved for run in runs), 1)
    plot_width = CHART_WIDTH - CHART_LEFT - 8
    slot = plot_width / len(runs)
    bar = max(min(slot * 0.7, 40), 2)
    # One scale above and below the line, so that bar heights compare honestly.
    scale = min((CHART_AXIS - CHART_TOP) / top, (CHART_HEIGHT - 24 - CHART_AXIS) / down)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{CHART_WIDTH}" '
        f'height="{CHART_HEIGHT}" viewBox="0 0 {CHART_WIDTH} {CHART_HEIGHT}" '
        'aria-labelledby="trend-title"><title id="trend-title">Findings per run: total '
        "(new in red) above the line, resolved (green) below</title>",
        f'<line x1="{CHART_LEFT}" y1="{CHART_AXIS}" x2="{CHART_WIDTH - 4}" y2="{CHART_AXIS}" '
        'stroke="#9aa5b1"/>',
        f'<text x="{CHART_LEFT - 6}" y="{CHART_AXIS - top * scale + 4:.1f}" '
        f'text-anchor="end">{top}</text>',
        f'<text x="{CHART_LEFT - 6}" y="{CHART_AXIS + 4}" text-anchor="end">0</text>',
    ]
    for index, run in enumerate(runs):
        x = CHART_LEFT + index * slot + (slot - bar) / 2
        height = run.total * scale
        new_height = min(run.new, run.total) * scale
        gone = run.resolved * scale
        label = (
            f"{format_datetime(run.at)}: {run.total} findings, {run.new} new, "
            f"{run.resolved} resolved"
        )
        parts.append(
            f'<g class="run" data-at="{format_datetime(run.at)}" data-total="{run.total}" '
            f'data-new="{run.new}" data-resolved="{run.resolved}"><title>{_e(label)}</title>'
            f'<rect x="{x:.1f}" y="{CHART_AXIS - height:.1f}" width="{bar:.1f}" '
            f'height="{height:.1f}" fill="#9fb3c8"/>'
            f'<rect x="{x:.1f}" y="{CHART_AXIS - height:.1f}" width="{bar:.1f}" '
            f'height="{new_height:.1f}" fill="#c53030"/>'
            f'<rect x="{x:.1f}" y="{CHART_AXIS:.1f}" width="{bar:.1f}" height="{gone:.1f}" '
            'fill="#2f855a"/></g>'
        )
    first, last = format_datetime(runs[0].at)[:10], format_datetime(runs[-1].at)[:10]
    parts.append(f'<text x="{CHART_LEFT}" y="{CHART_HEIGHT - 4}">{first}</text>')
    if len(runs) > 1:
        parts.append(
            f'<text x="{CHART_WIDTH - 4}" y="{CHART_HEIGHT - 4}" text-anchor="end">{last}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


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
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            '<meta name="referrer" content="no-referrer">',
            f"<title>{_e(title)}</title>",
            f"<style>{STYLE}</style></head>",
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
        if report.baseline is not None:
            out.append(self._baseline(report))
        out.append(
            "<footer>Generated by nhirecon from the data its connectors pulled; "
            "fingerprints identify a finding across runs.</footer>"
        )
        out.append(f"</main><script>{SCRIPT}</script></body></html>")
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
            f'<section id="trend"><h2>Trend, last {len(runs)} runs</h2>{_chart(runs)}'
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
