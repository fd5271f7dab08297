"""``audit`` and ``explain``: pull, correlate, report, gate; or show one account's trail.

Only typer and the option definitions are imported here; each command imports what it
runs when it runs (see :mod:`nhirecon.cli.options`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from nhirecon.cli.common import (
    load_config,
    log,
    parse_now,
    progress_bars,
    run,
    setup_logging,
    use_color,
)
from nhirecon.cli.options import (
    AcceptDropOption,
    AcceptEmptyTargetOption,
    Color,
    ColorOption,
    ConfigOption,
    Engine,
    EngineOption,
    MaxActionsOption,
    NowOption,
    QuietOption,
    ReportFormat,
    TargetOption,
    TextOrJson,
    TextOrJsonOption,
    VerboseOption,
    YesOption,
    choices,
)
from nhirecon.core.model import FindingKind, Severity
from nhirecon.errors import UsageError
from nhirecon.exit_codes import ExitCode

if TYPE_CHECKING:
    from nhirecon.config import Config
    from nhirecon.core.model import GateRule
    from nhirecon.core.report import Report
    from nhirecon.output import Text


def audit(
    config_path: ConfigOption = None,
    format_: Annotated[
        list[ReportFormat] | None,
        typer.Option(
            "--format",
            "-f",
            case_sensitive=False,
            metavar=choices(ReportFormat),
            help="Report format, in any case; repeatable, paired in order with -o.",
        ),
    ] = None,
    output: Annotated[
        list[Path] | None,
        typer.Option(
            "--output", "-o", metavar="FILE", help="Write the matching -f format here; repeatable."
        ),
    ] = None,
    target: TargetOption = None,
    kind: Annotated[
        list[FindingKind] | None,
        typer.Option(
            "--kind",
            case_sensitive=False,
            metavar="KIND",
            help="The table lists only findings of this kind (orphan, leaver, ...);"
            " repeatable. Other formats, the gate and the exit code still count them all.",
        ),
    ] = None,
    severity: Annotated[
        list[Severity] | None,
        typer.Option(
            "--severity",
            case_sensitive=False,
            metavar="LEVEL",
            help=f"The table lists only findings of this severity ({', '.join(Severity)});"
            " repeatable, as --kind.",
        ),
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option(
            "--limit",
            min=0,
            metavar="N",
            show_default=False,
            help="The table lists at most N findings, most severe first, then says how many"
            " more (0: all). Default 50 on a terminal; all in a pipe or a file.",
        ),
    ] = None,
    fail_on: Annotated[
        list[str] | None,
        typer.Option(
            "--fail-on",
            metavar="RULE",
            help="Gate rule SELECTOR OP N, e.g. 'orphan>0'; repeatable.",
        ),
    ] = None,
    baseline: Annotated[
        Path | None,
        typer.Option(
            "--baseline",
            metavar="FILE",
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
    accept_empty_target: AcceptEmptyTargetOption = False,
    engine: EngineOption = Engine.auto,
    now: NowOption = None,
    quiet: QuietOption = False,
    verbose: VerboseOption = False,
    color: ColorOption = Color.auto,
) -> None:
    """Pull, correlate, report and evaluate the gate; with --apply, also remediate.

    Example: nhirecon audit -c nhirecon.yaml -f json -o report.json --fail-on 'orphan>0'
    """
    setup_logging(quiet, verbose, color)

    def body() -> ExitCode:
        from nhirecon import pipeline
        from nhirecon.cli import destinations
        from nhirecon.state import baseline as baselines
        from nhirecon.state import tracking

        instant = parse_now(now)
        rules = _gate_rules(fail_on)
        pairs = _outputs([str(name) for name in format_ or []], list(output or []))
        if quiet and not format_ and not output:
            pairs = []
        loaded = load_config(config_path)
        destinations.check(
            [path for _, path in pairs if path is not None],
            destinations.own_files(loaded, baseline),
        )
        _suffixes_agree(pairs)
        accepted = baselines.load(baseline) if baseline else None
        skip_check = no_history and not apply_
        previous = None if skip_check else tracking.previous_source_count(loaded, instant)
        covered = [each.name for each in pipeline.selected_targets(loaded, target or ())]
        had: dict[str, int] = (
            {}
            if accept_empty_target or no_history
            else tracking.previous_target_counts(loaded, covered, instant)
        )
        with progress_bars(not quiet) as progress:
            report = pipeline.audit(
                loaded,
                now=instant,
                only=list(target or []),
                gate_rules=rules,
                progress=progress,
                engine=engine.value,
            )
        tracking.check_source_drop(loaded, report, previous, accepted=accept_source_drop)
        tracking.check_emptied_targets(report, had)
        remediate = (
            _remediation(loaded, report, max_actions=max_actions, yes=yes) if apply_ else None
        )
        keep = not no_history
        # Recorded in the history only once the reports are written.
        with tracking.tracked(report, loaded, accepted=accepted, keep_history=keep) as report:
            for line in baselines.warning_lines(report.baseline) if report.baseline else ():
                log.warning("%s", line)
            table = _Table(color, kinds=kind or (), levels=severity or (), limit=limit)
            _emit(report, pairs, table)
        if quiet and not pairs:
            sys.stdout.write(_verdict(report) + "\n")
        if loaded.notify is not None and not no_notify:
            from nhirecon.http import webhook

            webhook.send(loaded.notify, report, os.environ)
        code = ExitCode.OK if report.gate.passed else ExitCode.GATE_FAILED
        return code if remediate is None else remediate(code, quiet)

    raise typer.Exit(int(run(body)))


def _remediation(
    config: Config, report: Report, *, max_actions: int | None, yes: bool
) -> Callable[[ExitCode, bool], ExitCode]:
    """``--apply``: the actions the report calls for, checked against the rails before
    anything is reported or recorded (an action that needs a confirmation ``--yes`` or the
    terminal cannot give is refused now); then a call that takes them, and returns the
    exit code that ``code`` (the gate's) and the actions' outcome make together. The
    remediation modules are imported only here, so that an audit without ``--apply``
    starts without them."""
    from nhirecon.cli.remediate import confirmer, tell
    from nhirecon.exit_codes import combine
    from nhirecon.remediation import apply as remediation

    # The source's drop was checked as the report was made (check_source_drop).
    pending = remediation.prepare(config, report, previous_source=None, max_actions=max_actions)
    remediation.refuse_unconfirmable(pending, yes=yes, confirm=confirmer())

    def remediate(code: ExitCode, quiet: bool) -> ExitCode:
        with progress_bars(not quiet) as progress:
            result = remediation.apply_actions(
                config, pending, yes=yes, confirm=confirmer(), progress=progress
            )
        tell(result, quiet)
        return combine(code, result.exit_code)

    return remediate


class _Table:
    """How the ``table`` format is shown: in colour or not, which findings it lists, and
    how many (``--limit``; ``None``: the default)."""

    def __init__(
        self,
        color: Color,
        *,
        kinds: Sequence[FindingKind],
        levels: Sequence[Severity],
        limit: int | None = None,
    ) -> None:
        self.color = color
        self.kinds = kinds
        self.levels = levels
        self.limit = limit

    def narrow(self, report: Report) -> Report:
        """The findings the table lists: those of ``--kind`` and ``--severity``; the gate
        and the counts stay the whole run's."""
        from nhirecon.reporters.select import select

        return select(report, kinds=self.kinds, severities=self.levels)

    def render(self, report: Report, *, to_stdout: bool) -> str:
        import shutil

        from nhirecon.reporters.table import DEFAULT_LIMIT, TableReporter

        report = self.narrow(report)
        terminal = to_stdout and sys.stdout.isatty()
        color = to_stdout and use_color(self.color, terminal=terminal, environ=os.environ)
        width = shutil.get_terminal_size().columns if terminal else 100
        # A terminal shows the most severe findings; a pipe or a file keeps every one.
        limit = self.limit if self.limit is not None else DEFAULT_LIMIT if terminal else 0
        return TableReporter(width=width, color=color, limit=limit).render(report)


def _emit(report: Report, pairs: list[tuple[str, Path | None]], table: _Table) -> None:
    """Write the files all or none, then print stdout's format. JSON, CSV, SARIF and OCSF
    are made and written piece by piece (a batch of findings at a time), so a large report
    is never held as text. Past GitHub's limit of SARIF results, a warning says so."""
    from nhirecon.output import write_all, write_text
    from nhirecon.reporters import FORMATS

    def text(name: str, path: Path | None) -> Text:
        if name == "table":
            return table.render(report, to_stdout=path is None)
        return FORMATS[name]().chunks(report)

    if any(name == "sarif" for name, _ in pairs):
        from nhirecon.reporters.sarif import github_limit_note

        note = github_limit_note(report)
        if note is not None:
            log.warning("%s", note)
    shown = [text(name, path) for name, path in pairs if path is None]  # at most one
    write_all([(path, text(name, path)) for name, path in pairs if path is not None])
    for _, path in pairs:
        if path is not None:
            log.info("wrote %s", path)
    for piece in shown:
        write_text(sys.stdout, piece)


def _verdict(report: Report) -> str:
    failed = [o for o in report.gate.outcomes if not o.passed]
    if not failed:
        return f"gate passed ({len(report.findings)} findings)"
    return "gate failed: " + ", ".join(f"{o.rule.text} (count {o.count})" for o in failed)


def _gate_rules(fail_on: list[str] | None) -> list[GateRule] | None:
    from nhirecon.core.gate import parse_rule

    if not fail_on:
        return None
    try:
        return [parse_rule(text) for text in fail_on]
    except ValueError as exc:
        raise UsageError(f"--fail-on: {exc}") from None


def _outputs(formats: list[str], outputs: list[Path]) -> list[tuple[str, Path | None]]:
    """Pair ``-f`` and ``-o`` in order; a format without an output goes to stdout."""
    from nhirecon.reporters import FORMATS, for_path

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


def _suffixes_agree(pairs: list[tuple[str, Path | None]]) -> None:
    """Refuse an ``-o`` whose suffix names another format than the ``-f`` paired with it
    (``-o z.html`` paired with ``-f csv`` would be a page that is CSV). A ``.txt`` file
    takes any text, and a ``.json`` file SARIF or OCSF (``results.sarif.json``)."""
    from nhirecon.reporters import for_path

    for name, path in pairs:
        implied = None if path is None else for_path(str(path))
        if implied not in (None, name, "table") and not (
            implied == "json" and name in _JSON_ITSELF
        ):
            raise UsageError(
                f"-o {path}: its suffix names the {implied} format, but -f {name} is paired"
                " with it (-f and -o pair in order); name the file for its format, or give"
                " each -o its -f"
            )


_JSON_ITSELF = frozenset({"sarif", "ocsf"})
"""Formats written as JSON (or JSON Lines), which a ``.json`` file may hold."""


def explain(
    target: Annotated[
        str, typer.Argument(metavar="TARGET", help="The target's name in the config.")
    ],
    account: Annotated[
        str, typer.Argument(metavar="ACCOUNT", help="The account's id, username or email.")
    ],
    format_: TextOrJsonOption = TextOrJson.text,
    config_path: ConfigOption = None,
    engine: EngineOption = Engine.auto,
    now: NowOption = None,
    quiet: QuietOption = False,
    verbose: VerboseOption = False,
    color: ColorOption = Color.auto,
) -> None:
    """Show how one account was correlated, each rule tried, and its findings.

    Example: nhirecon explain crm alice@example.com
    """
    setup_logging(quiet, verbose, color)

    def body() -> None:
        from nhirecon import explain
        from nhirecon.cli import explain_view

        instant = parse_now(now)
        loaded = load_config(config_path)
        result = explain.explain(loaded, target, account, now=instant, engine=engine.value)
        if format_ is TextOrJson.json:
            sys.stdout.write(explain_view.render_json(result))
        else:
            sys.stdout.write(explain_view.render(result))

    run(body)
