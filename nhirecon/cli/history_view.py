"""``nhirecon history``: recorded runs as a table for people or JSON for machines."""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from rich import box
from rich.console import Console
from rich.table import Table

from nhirecon.core.report import RunTrend
from nhirecon.core.values import format_datetime
from nhirecon.reporters.serialize import trend_point

FORMATS: Final = ("table", "json")


def render(runs: Sequence[RunTrend], format_: str, *, path: Path, width: int = 100) -> str:
    if format_ == "json":
        document = {"history": str(path), "runs": [trend_point(run) for run in runs]}
        return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    if not runs:
        return f"{path}: no runs recorded yet\n"
    table = Table(
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        expand=True,
    )
    table.add_column("run (--now)", no_wrap=True)
    for header in ("total", "new", "resolved", "excepted"):
        table.add_column(header, justify="right", no_wrap=True)
    table.add_column("by kind", ratio=1)
    for run in runs:
        table.add_row(
            format_datetime(run.at),
            str(run.total),
            str(run.new),
            str(run.resolved),
            str(run.excepted),
            ", ".join(f"{kind.value}:{count}" for kind, count in run.by_kind.items()) or "-",
        )
    out = io.StringIO()
    console = Console(
        file=out, width=width, no_color=True, color_system=None, highlight=False, emoji=False
    )
    console.print(table)
    # The title as it is (a path is not wrapped or padded), and no line padded to the
    # width with spaces, which a pipe, a diff or a mail would carry.
    title = f"{len(runs)} run{'s' if len(runs) != 1 else ''} recorded in {path}\n"
    return title + "".join(line.rstrip() + "\n" for line in out.getvalue().splitlines())
