"""``plan`` and ``apply``: remediation behind the safety rails (SPEC §8)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from nhirecon.cli.common import (
    is_terminal,
    load_config,
    log,
    parse_now,
    progress_bars,
    run,
    say,
    say_error,
    setup_logging,
    stderr,
)
from nhirecon.cli.options import (
    AcceptDropOption,
    Color,
    ColorOption,
    ConfigOption,
    MaxActionsOption,
    NowOption,
    QuietOption,
    TargetOption,
    VerboseOption,
    YesOption,
)
from nhirecon.exit_codes import ExitCode

if TYPE_CHECKING:
    from nhirecon.remediation import apply as remediation
    from nhirecon.remediation import plan as planning
    from nhirecon.remediation.actions import ApplyResult


def confirmer() -> remediation.Confirm | None:
    """Ask on a terminal: stdin and stderr both one, asked of the streams themselves
    (``FORCE_COLOR`` makes rich take any stderr for a terminal). Without one there is
    nobody to ask (``--yes`` is then needed)."""
    console = stderr()
    if not (is_terminal(sys.stdin) and is_terminal(console.file)):
        return None

    def ask(actions: Sequence[planning.Action]) -> bool:
        from nhirecon.cli import remediation_view

        # Each value in the list is inert (remediation_view): none can rewrite the list
        # on the terminal before the question is asked.
        listing = remediation_view.actions_text(actions)
        console.print(listing, markup=False, emoji=False, end="")
        try:
            return typer.confirm(
                f"Write these {len(actions)} changes to the targets?", default=False, err=True
            )
        except typer.Abort:  # Ctrl-C or Ctrl-D at the question: no answer is not a yes
            console.print()
            return False

    return ask


def tell(result: ApplyResult, quiet: bool) -> None:
    from nhirecon.cli import remediation_view
    from nhirecon.remediation.actions import Outcome

    for item in result.results:
        if item.outcome is Outcome.FAILED:
            log.error("%s", remediation_view.result_line(item))
        elif item.outcome is Outcome.SKIPPED:
            log.warning("%s", remediation_view.result_line(item))
    if result.results and not quiet:
        say(result.summary())
    stopped(result)


def stopped(result: ApplyResult) -> None:
    """Why the run stopped before its last action, and which actions were made but are
    not in the audit log (their lines could not be written): shown even with ``-q``."""
    from nhirecon.cli import remediation_view

    if not result.stopped:
        return
    for item in result.unlogged:
        log.error("not in the audit log: %s", remediation_view.result_line(item))
    say_error(result.stopped)


def plan_command(
    output: Annotated[
        Path,
        typer.Option("--output", "-o", metavar="FILE", help="The plan file to write."),
    ],
    config_path: ConfigOption = None,
    target: TargetOption = None,
    max_actions: MaxActionsOption = None,
    accept_source_drop: AcceptDropOption = False,
    now: NowOption = None,
    quiet: QuietOption = False,
    verbose: VerboseOption = False,
    color: ColorOption = Color.auto,
) -> None:
    """Compute the remediation actions and write them to a plan file, writing to no target.

    The plan records the config's digest, each target's URL and the version of each
    account; `nhirecon apply` refuses it if any of them no longer holds.

    Example: nhirecon plan -o plan.json && nhirecon apply plan.json
    """
    setup_logging(quiet, verbose, color)

    def body() -> None:
        from datetime import UTC, datetime

        from nhirecon import pipeline
        from nhirecon.cli import destinations, remediation_view
        from nhirecon.output import write_all
        from nhirecon.remediation import apply as remediation
        from nhirecon.remediation import plan as planning
        from nhirecon.remediation import plan_file as plan_files
        from nhirecon.state import tracking

        destinations.not_a_dash(output, "a plan is written to a file")

        instant = parse_now(now)
        loaded = load_config(config_path)
        destinations.check([output], destinations.own_files(loaded, None), "plan")
        previous = tracking.previous_source_count(loaded, instant)
        with progress_bars(not quiet) as progress:
            report = pipeline.audit(loaded, now=instant, only=list(target or []), progress=progress)
        made = planning.build(loaded, report, created_at=datetime.now(UTC).replace(microsecond=0))
        remediation.guard(
            loaded,
            report,
            made.actions,
            previous_source=previous,
            accepted_drop=accept_source_drop,
            max_actions=max_actions,
        )
        write_all([(output, plan_files.to_json(made))])
        if not quiet:
            sys.stdout.write(remediation_view.plan_text(made, str(output)))

    run(body)


def apply_command(
    plan_file: Annotated[
        Path,
        typer.Argument(metavar="PLAN", help="A plan file written by `nhirecon plan`."),
    ],
    config_path: ConfigOption = None,
    yes: YesOption = False,
    max_age: Annotated[
        str,
        typer.Option(
            "--max-age", metavar="AGE", help="Refuse a plan older than this (24h, 30m, 2d)."
        ),
    ] = "24h",
    max_actions: MaxActionsOption = None,
    accept_source_drop: AcceptDropOption = False,
    now: NowOption = None,
    quiet: QuietOption = False,
    verbose: VerboseOption = False,
    color: ColorOption = Color.auto,
) -> None:
    """Apply a reviewed plan, re-checking every action against live state.

    Refused (exit 4) when the config or a target URL changed since the plan, when the
    plan is older than --max-age, or when it holds actions the config would not take.

    Example: nhirecon apply plan.json --yes
    """
    setup_logging(quiet, verbose, color)

    def body() -> ExitCode:
        from nhirecon.cli import remediation_view
        from nhirecon.remediation import apply as remediation
        from nhirecon.remediation import plan_file as plan_files
        from nhirecon.remediation import rails
        from nhirecon.state import tracking

        instant = parse_now(now)
        age = rails.parse_duration(max_age)
        loaded = load_config(config_path)
        made = plan_files.read(plan_file)
        previous = tracking.previous_source_count(loaded, instant)
        with progress_bars(not quiet) as progress:
            result = remediation.apply_plan(
                loaded,
                made,
                now=instant,
                previous_source=previous,
                accepted_drop=accept_source_drop,
                max_age=age,
                max_actions=max_actions,
                yes=yes,
                confirm=confirmer(),
                progress=progress,
            )
        if not quiet:
            sys.stdout.write(remediation_view.results_text(result))
            stopped(result)
        else:
            tell(result, quiet=True)
        return result.exit_code

    raise typer.Exit(int(run(body)))
