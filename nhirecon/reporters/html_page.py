"""The page's template environment, its script's hash, its date in words, its trend chart.

The page is ``templates/report.html.j2``, shipped inside the package with its inline style
sheet (``report.css``) and script (``report.js``). The environment escapes every value
(``autoescape=True``), so text from a source, a target or the config can only ever be
text; nothing in the templates is marked safe, and no value is ever parsed as a template,
so ``{{ 7*7 }}`` in a username reads ``{{ 7*7 }}``. A missing value is an error
(``StrictUndefined``), never an empty cell.

The Content Security Policy allows only the page's own script, by the hash of exactly
what the template writes between ``<script>`` and ``</script>``.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Final

from markupsafe import Markup

from nhirecon.core.report import RunTrend
from nhirecon.core.text import inert
from nhirecon.core.values import as_utc, format_datetime

if TYPE_CHECKING:
    from jinja2 import Environment

PAGE: Final = "report.html.j2"
SCRIPT: Final = "report.js"

MONTHS: Final = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
"""English month names, fixed here so that the page never depends on the locale."""


def _visible(value: object) -> object:
    """Every value a template writes, with control and formatting characters shown escaped
    (``\\x1b``, ``\\u202e``): they are not valid HTML text (WHATWG HTML, "control
    characters"), a terminal that prints the file would obey them, and a bidirectional
    override would show a name reversed. Printable text is written exactly (and escaped for
    HTML by autoescape)."""
    if isinstance(value, Markup):  # the output of a macro of the template: already safe
        return value
    return inert(value) if isinstance(value, str) else value


@cache
def environment() -> Environment:
    """The one template environment: packaged templates, everything escaped (jinja2 is
    imported here, when a page is rendered, not by every command that lists the formats)."""
    from jinja2 import Environment, PackageLoader, StrictUndefined

    return Environment(
        loader=PackageLoader("nhirecon.reporters", "templates"),
        autoescape=True,
        finalize=_visible,
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )


@cache
def script_hash() -> str:
    """The CSP hash (base64 SHA-256) of the script exactly as the page includes it."""
    text = environment().get_template(SCRIPT).render()
    return base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


def spoken_instant(moment: datetime) -> str:
    """``28 November 2026, 00:00 UTC``: the instant in words, the same on every machine."""
    at = as_utc(moment)
    clock = f"{at:%H:%M}" if at.second == 0 else f"{at:%H:%M:%S}"
    return f"{at.day} {MONTHS[at.month - 1]} {at.year}, {clock} UTC"


CHART_WIDTH: Final = 720
CHART_HEIGHT: Final = 200
CHART_TOP: Final = 16
CHART_AXIS: Final = 130
"""The y of the zero line: totals grow up from it, resolved counts grow down."""
CHART_LEFT: Final = 40


@dataclass(frozen=True, slots=True)
class Bar:
    """One run of the trend chart, its geometry already written as SVG numbers."""

    at: str
    total: int
    new: int
    resolved: int
    x: str
    width: str
    top: str
    """The y where the run's bar (and its new part) starts."""
    height: str
    new_height: str
    resolved_height: str


@dataclass(frozen=True, slots=True)
class Chart:
    """The trend chart: numbers and dates only, drawn by the template."""

    width: int
    height: int
    left: int
    axis: int
    base: str
    """The zero line's y, where the resolved bars start."""
    peak: int
    """The largest total, written at the top of the scale."""
    peak_y: str
    bars: tuple[Bar, ...]
    first: str
    last: str


def chart(runs: Sequence[RunTrend]) -> Chart:
    """Bars of findings per run (new ones on top, in red), resolved ones below the line."""
    top = max((run.total for run in runs), default=0) or 1
    down = max((run.resolved for run in runs), default=0) or 1
    slot = (CHART_WIDTH - CHART_LEFT - 8) / max(len(runs), 1)
    bar = max(min(slot * 0.7, 40), 2)
    # One scale above and below the line, so that bar heights compare honestly.
    scale = min((CHART_AXIS - CHART_TOP) / top, (CHART_HEIGHT - 24 - CHART_AXIS) / down)
    bars = tuple(
        Bar(
            at=format_datetime(run.at),
            total=run.total,
            new=run.new,
            resolved=run.resolved,
            x=f"{CHART_LEFT + index * slot + (slot - bar) / 2:.1f}",
            width=f"{bar:.1f}",
            top=f"{CHART_AXIS - run.total * scale:.1f}",
            height=f"{run.total * scale:.1f}",
            new_height=f"{min(run.new, run.total) * scale:.1f}",
            resolved_height=f"{run.resolved * scale:.1f}",
        )
        for index, run in enumerate(runs)
    )
    return Chart(
        width=CHART_WIDTH,
        height=CHART_HEIGHT,
        left=CHART_LEFT,
        axis=CHART_AXIS,
        base=f"{CHART_AXIS:.1f}",
        peak=top,
        peak_y=f"{CHART_AXIS - top * scale + 4:.1f}",
        bars=bars,
        first=bars[0].at[:10] if bars else "",
        last=bars[-1].at[:10] if bars else "",
    )
