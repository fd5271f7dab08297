"""The fixed parts of the HTML page, and its trend chart.

The style sheet and the script are inline, and the Content Security Policy allows only
that script (by its hash), so the page never reaches the network. The chart is an inline
SVG drawn from the recorded runs.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from html import escape
from typing import Final

from nhirecon.core.report import RunTrend
from nhirecon.core.values import format_datetime

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


def chart(runs: Sequence[RunTrend]) -> str:
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
            f'data-new="{run.new}" data-resolved="{run.resolved}"><title>{escape(label)}</title>'
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
