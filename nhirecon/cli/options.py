"""The options of the command line: the common ones every command takes, before its name
or after it, and the choices the others offer.

This module is imported to build the command line, so it imports nothing but typer and
the standard library: ``nhirecon --version`` and ``--help`` never pay for a connector, a
reporter or the history. The names of the report formats are therefore written out here
(the reporters import jinja2 and more); ``tests/test_cli_options.py`` checks them against
``nhirecon.reporters.FORMATS``.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Final

import typer

CONFIG_ENV: Final = "NHIRECON_CONFIG"
"""The environment variable naming the config (``nhirecon.config.CONFIG_ENV``)."""

_SEEN: Final = "nhirecon.common"
"""Where, in the context's ``meta`` (shared by the command and the root), the common
options given before the command are kept."""


class ReportFormat(StrEnum):
    """The report formats ``audit -f`` takes (``nhirecon.reporters.FORMATS``)."""

    table = "table"
    json = "json"
    csv = "csv"
    markdown = "markdown"
    html = "html"
    sarif = "sarif"
    junit = "junit"
    ocsf = "ocsf"


class Color(StrEnum):
    """When the output is in colour."""

    auto = "auto"
    always = "always"
    never = "never"


class Engine(StrEnum):
    """How ``audit`` and ``explain`` read rows (``nhirecon.pipeline.Engine``)."""

    auto = "auto"
    columnar = "columnar"
    python = "python"


class TextOrJson(StrEnum):
    """What ``validate``, ``explain`` and ``connectors`` print."""

    text = "text"
    json = "json"


class HistoryFormat(StrEnum):
    """What ``history`` prints; ``table`` is the former name of ``text``."""

    text = "text"
    table = "table"
    json = "json"


def choices(values: type[StrEnum]) -> str:
    """A choice list as help shows it: ``[auto|always|never]``."""
    return "[" + "|".join(values) + "]"


def _given(ctx: typer.Context, name: str) -> bool:
    source = ctx.get_parameter_source(name)
    return source is not None and source.name == "COMMANDLINE"


def _common(ctx: typer.Context, param: typer.CallbackParam, value: Any) -> Any:
    """One common option, given before the command (``nhirecon -v audit``) or after it
    (``nhirecon audit -v``). Before the command, the root keeps it; after it, the command
    takes its own value when given on the command line, else the one given before it, else
    its own (from the environment, or the default). So the one after the command wins."""
    name = param.name or ""
    seen: dict[str, Any] = ctx.meta.setdefault(_SEEN, {})
    if ctx.parent is None:  # the root: before the command
        if _given(ctx, name):
            seen[name] = value
        return value
    if _given(ctx, name) or name not in seen:
        return value
    return seen[name]


ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        envvar=CONFIG_ENV,
        metavar="PATH",
        show_default=False,
        callback=_common,
        help="The config file (default nhirecon.yaml).",
    ),
]
NowOption = Annotated[
    str | None,
    typer.Option(
        "--now",
        metavar="ISO-8601",
        show_default=False,
        callback=_common,
        help="Evaluate as of this instant, so that reports are reproducible.",
    ),
]
QuietOption = Annotated[
    bool, typer.Option("--quiet", "-q", callback=_common, help="Log only errors.")
]
VerboseOption = Annotated[
    bool, typer.Option("--verbose", "-v", callback=_common, help="Log more, and tracebacks.")
]
ColorOption = Annotated[
    Color,
    typer.Option(
        "--color",
        case_sensitive=False,
        metavar=choices(Color),
        callback=_common,
        help="Colour in the output: auto (on a terminal, unless NO_COLOR is set), always or never.",
    ),
]

EngineOption = Annotated[
    Engine,
    typer.Option(
        "--engine",
        case_sensitive=False,
        metavar=choices(Engine),
        help="How rows are read: auto (DuckDB triages a large estate of CSV exports),"
        " columnar (whenever the inputs allow) or python (every row mapped into a"
        " record, e.g. to compare). The result is the same.",
    ),
]
YesOption = Annotated[
    bool, typer.Option("--yes", help="Do not ask before writing (needed without a terminal).")
]
MaxActionsOption = Annotated[
    int | None,
    typer.Option(
        "--max-actions",
        min=0,
        metavar="N",
        show_default=False,
        help="Override policy.max_actions for this run (after review).",
    ),
]
AcceptDropOption = Annotated[
    bool,
    typer.Option(
        "--accept-source-drop",
        help="Accept, for this run, a source (or an input of it) that shrank more than"
        " policy.max_source_drop_percent since the last recorded run.",
    ),
]
AcceptEmptyTargetOption = Annotated[
    bool,
    typer.Option(
        "--accept-empty-target",
        help="Accept, for this run, a target that returns no accounts where the last"
        " recorded run read some.",
    ),
]
TargetOption = Annotated[
    list[str] | None,
    typer.Option("--target", metavar="NAME", help="Only this target; repeatable."),
]
TextOrJsonOption = Annotated[
    TextOrJson,
    typer.Option(
        "--format", "-f", case_sensitive=False, metavar=choices(TextOrJson), help="What to print."
    ),
]
