"""``audit`` and ``explain``: pull, correlate, report, gate; or show one account's trail."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from nhirecon import pipeline
from nhirecon.cli import explain_view
from nhirecon.cli.common import (
    AcceptDropOption,
    ConfigOption,
    MaxActionsOption,
    NowOption,
    QuietOption,
    TargetOption,
    VerboseOption,
    YesOption,
    load_config,
    log,
    parse_now,
    progress_bars,
    run,
    setup_logging,
)
from nhirecon.cli.remediate import confirmer, tell
from nhirecon.core.gate import parse_rule
from nhirecon.core.model import GateRule
from nhirecon.core.report import Report
from nhirecon.errors import UsageError
from nhirecon.exit_codes import ExitCode, combine
from nhirecon.output import write_all
from nhirecon.remediation import apply as remediation
from nhirecon.reporters import FORMATS, for_path
from nhirecon.reporters.table import TableReporter
from nhirecon.state import baseline as baselines
from nhirecon.state import tracking


def audit(
    config_path: ConfigOption = None,
    format_: Annotated[
        list[str] | None,
        typer.Option("--format", "-f", help=f"Report format ({', '.join(FORMATS)}); repeatable."),
    ] = None,
    output: Annotated[
        list[Path] | None,
        typer.Option("--output", "-o", help="Write the matching -f format here; repeatable."),
    ] = None,
    target: TargetOption = None,
    fail_on: Annotated[
        list[str] | None,
        typer.Option("--fail-on", help="Gate rule SELECTOR OP N, e.g. 'orphan>0'; repeatable."),
    ] = None,
    baseline: Annotated[
        Path | None,
        typer.Option(
            "--baseline",
            help="Baseline file (from `nhirecon baseline`): its findings do not count.",
            show_default=False,
        ),
    ] = None,
    no_history: Annotated[
        bool, typer.Option("--no-history", help="Neither read nor record the history.")
    ] = False,
    no_notify: Annotated[
        bool, typer.Option("--no-notify", help="Do not post to the configured webhook.")
    ] = False,
    apply_: Annotated[
        bool,
        typer.Option("--apply", help="Also remediate (disable/delete) behind the safety rails."),
    ] = False,
    yes: YesOption = False,
    max_actions: MaxActionsOption = None,
    accept_source_drop: AcceptDropOption = False,
    now: NowOption = None,
    quiet: QuietOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Pull, correlate, report and evaluate the gate; with --apply, also remediate.

    Example: nhirecon audit -c nhirecon.yaml -f json -o report.json --fail-on 'orphan>0'
    """
    setup_logging(quiet, verbose)

    def body() -> ExitCode:
        instant = parse_now(now)
        rules = _gate_rules(fail_on)
        pairs = _outputs(list(format_ or []), list(output or []))
        if quiet and not format_ and not output:
            pairs = []
        loaded = load_config(config_path)
        accepted = baselines.load(baseline) if baseline else None
        skip_check = accept_source_drop or (no_history and not apply_)
        previous = None if skip_check else tracking.previous_source_count(loaded)
        with progress_bars(not quiet) as progress:
            report = pipeline.audit(
                loaded, now=instant, only=list(target or []), gate_rules=rules, progress=progress
            )
        tracking.check_source_drop(loaded, report, previous)
        pending = (
            remediation.prepare(
                loaded, report, previous_identities=previous, max_actions=max_actions
            )
            if apply_
            else ()
        )
        if apply_:
            remediation.refuse_unconfirmable(pending, yes=yes, confirm=confirmer())
        keep = not no_history
        # Recorded in the history only once the reports are written.
        with tracking.tracked(report, loaded, accepted=accepted, keep_history=keep) as report:
            for line in baselines.stale_lines(report.baseline) if report.baseline else ():
                log.warning("%s", line)
            _emit(report, pairs)
        if quiet and not pairs:
            sys.stdout.write(_verdict(report) + "\n")
        if loaded.notify is not None and not no_notify:
            from nhirecon.http import webhook

            webhook.send(loaded.notify, report, os.environ)
        code = ExitCode.OK if report.gate.passed else ExitCode.GATE_FAILED
        if apply_:
            with progress_bars(not quiet) as progress:
                result = remediation.apply_actions(
                    loaded, pending, yes=yes, confirm=confirmer(), progress=progress
                )
            tell(result, quiet)
            code = combine(code, result.exit_code)
        return code

    raise typer.Exit(int(run(body)))


def _emit(report: Report, pairs: list[tuple[str, Path | None]]) -> None:
    """Render every requested format, write the files all or none, then print stdout's."""
    to_terminal = sys.stdout.isatty()
    rendered = [(path, _render(name, report, to_terminal and path is None)) for name, path in pairs]
    write_all([(path, text) for path, text in rendered if path is not None])
    for path, text in rendered:
        if path is None:
            sys.stdout.write(text)
        else:
            log.info("wrote %s", path)


def _verdict(report: Report) -> str:
    failed = [o for o in report.gate.outcomes if not o.passed]
    if not failed:
        return f"gate passed ({len(report.findings)} findings)"
    return "gate failed: " + ", ".join(f"{o.rule.text} (count {o.count})" for o in failed)


def _gate_rules(fail_on: list[str] | None) -> list[GateRule] | None:
    if not fail_on:
        return None
    try:
        return [parse_rule(text) for text in fail_on]
    except ValueError as exc:
        raise UsageError(f"--fail-on: {exc}") from None


def explain(
    target: Annotated[str, typer.Argument(help="The target's name in the config.")],
    account: Annotated[str, typer.Argument(help="The account's id, username or email.")],
    config_path: ConfigOption = None,
    now: NowOption = None,
    quiet: QuietOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Show how one account was correlated (each rule tried) and its findings.

    Example: nhirecon explain crm alice@example.com
    """
    setup_logging(quiet, verbose)

    def body() -> None:
        instant = parse_now(now)
        result = pipeline.explain(load_config(config_path), target, account, now=instant)
        sys.stdout.write(explain_view.render(result))

    run(body)


def _outputs(formats: list[str], outputs: list[Path]) -> list[tuple[str, Path | None]]:
    """Pair ``-f`` and ``-o`` in order; a format without an output goes to stdout."""
    pairs: list[tuple[str, Path | None]] = []
    for index, path in enumerate(outputs):
        if index < len(formats):
            pairs.append((formats[index], path))
            continue
        implied = for_path(str(path))
        if implied is None:
            raise UsageError(f"-o {path}: no -f for it and its suffix names no format")
        pairs.append((implied, path))
    pairs.extend((name, None) for name in formats[len(outputs) :])
    for name, _ in pairs:
        if name not in FORMATS:
            raise UsageError(f"unknown format {name!r} (formats: {', '.join(FORMATS)})")
    if sum(1 for _, path in pairs if path is None) > 1:
        raise UsageError("only one format can go to stdout; give the others an -o PATH")
    return pairs or [("table", None)]


def _render(name: str, report: Report, to_terminal: bool) -> str:
    if name == "table":
        console = Console()
        if to_terminal:
            return TableReporter(width=console.width, color=True).render(report)
        return TableReporter().render(report)
    return FORMATS[name]().render(report)
