"""``history`` and ``baseline``: past runs from the history store, and accepted findings."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from nhirecon.cli.common import (
    config_file,
    load_config,
    parse_now,
    progress_bars,
    run,
    setup_logging,
)
from nhirecon.cli.options import (
    AcceptDropOption,
    Color,
    ColorOption,
    ConfigOption,
    HistoryFormat,
    NowOption,
    QuietOption,
    TargetOption,
    VerboseOption,
    choices,
)


def baseline_command(
    output: Annotated[
        Path,
        typer.Option("--output", "-o", metavar="FILE", help="The baseline file to write (JSON)."),
    ],
    config_path: ConfigOption = None,
    note: Annotated[
        str,
        typer.Option(
            "--note", metavar="REASON", help="Why these findings are accepted (kept per entry)."
        ),
    ] = "",
    target: TargetOption = None,
    accept_source_drop: AcceptDropOption = False,
    now: NowOption = None,
    quiet: QuietOption = False,
    verbose: VerboseOption = False,
    color: ColorOption = Color.auto,
) -> None:
    """Write the current findings as an accepted baseline for `audit --baseline`.

    Entries already in the file keep their note and date; entries that match nothing any
    more are dropped.

    Example: nhirecon baseline -o .nhirecon-baseline.json --note "known, SEC-12"
    """
    setup_logging(quiet, verbose, color)

    def body() -> None:
        from nhirecon import pipeline
        from nhirecon.cli import destinations
        from nhirecon.output import check_destination, write_all
        from nhirecon.state import baseline as baselines
        from nhirecon.state import tracking

        destinations.not_a_dash(output, "a baseline is written to a file")
        instant = parse_now(now)
        loaded = load_config(config_path)
        destinations.check([output], destinations.own_files(loaded, None), "baseline")
        check_destination(output)
        previous = baselines.load(output, checked=False) if output.exists() else None
        identities = tracking.previous_source_count(loaded, instant)
        with progress_bars(not quiet) as progress:
            report = pipeline.audit(
                loaded, now=instant, only=list(target or []), gate_rules=(), progress=progress
            )
        # A truncated source would make every account of the people cut out an orphan to
        # accept: the baseline is refused as an audit would be.
        tracking.check_source_drop(loaded, report, identities, accepted=accept_source_drop)
        accepted = baselines.build(report, note=note, previous=previous)
        write_all([(output, baselines.dumps(accepted))])
        if not quiet:
            sys.stdout.write(f"wrote {output}: {len(accepted.entries)} accepted findings\n")

    run(body)


def history_command(
    config_path: ConfigOption = None,
    file: Annotated[
        Path | None,
        typer.Option(
            "--file",
            metavar="FILE",
            help="Read this history file instead of the config's.",
            show_default=False,
        ),
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", min=1, metavar="N", help="How many recent runs.")
    ] = 30,
    format_: Annotated[
        HistoryFormat,
        typer.Option(
            "--format",
            "-f",
            case_sensitive=False,
            metavar=choices(HistoryFormat),
            help="What to print (table is another name for text).",
        ),
    ] = HistoryFormat.text,
    now: NowOption = None,
    quiet: QuietOption = False,
    verbose: VerboseOption = False,
    color: ColorOption = Color.auto,
) -> None:
    """Show past runs from the history store: counts by kind, new and resolved, per run.

    Example: nhirecon history -c nhirecon.yaml --limit 14
    """
    setup_logging(quiet, verbose, color)

    def body() -> None:
        from nhirecon.cli import history_view
        from nhirecon.state import history, history_db, tracking

        if file is not None:
            from nhirecon.errors import UsageError

            if not file.exists() and not file.is_symlink():  # a typo, not an empty history
                raise UsageError(f"{file}: no such history file")
            path = file
        elif config_path is None and not config_file(None).exists():
            path = history_db.default_path()
        else:
            path = tracking.history_path(load_config(config_path))
        runs = history.trend(path, limit=limit)
        shown = "json" if format_ is HistoryFormat.json else "table"
        sys.stdout.write(history_view.render(runs, shown, path=path))

    run(body)
