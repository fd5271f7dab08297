"""The command line: parse, wire, print, and map errors to exit codes. No logic here."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Annotated, NoReturn, TypeVar

import typer
from rich.console import Console

from nhirecon import __version__, config, pipeline
from nhirecon.cli import explain_view, history_view, remediation_view
from nhirecon.connectors import registry
from nhirecon.core.gate import parse_rule
from nhirecon.core.model import GateRule
from nhirecon.core.report import Report
from nhirecon.core.values import ValueError_, parse_datetime
from nhirecon.errors import NhireconError, UsageError
from nhirecon.exit_codes import ExitCode, combine
from nhirecon.output import write_all
from nhirecon.remediation import apply as remediation
from nhirecon.remediation import plan as planning
from nhirecon.reporters import FORMATS, for_path
from nhirecon.reporters.table import TableReporter
from nhirecon.state import baseline as baselines
from nhirecon.state import history, tracking

app = typer.Typer(
    name="nhirecon",
    help="Identity lifecycle reconciliation: find the accounts that should not exist.",
    context_settings={"help_option_names": ["-h", "--help"]},
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
log = logging.getLogger("nhirecon")
stderr = Console(stderr=True, highlight=False)

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        envvar=config.CONFIG_ENV,
        show_default=False,
        help="Config file (default nhirecon.yaml).",
    ),
]
NowOption = Annotated[
    str | None,
    typer.Option(
        help="Evaluate as of this ISO-8601 instant (reproducible reports).", show_default=False
    ),
]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="Only errors on stderr.")]
VerboseOption = Annotated[bool, typer.Option("--verbose", "-v", help="More log lines on stderr.")]
YesOption = Annotated[
    bool, typer.Option("--yes", help="Do not ask before writing (needed without a terminal).")
]
MaxActionsOption = Annotated[
    int | None,
    typer.Option(
        "--max-actions",
        min=0,
        show_default=False,
        help="Override policy.max_actions for this run (after review).",
    ),
]

T = TypeVar("T")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"nhirecon {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """Identity lifecycle reconciliation: find the accounts that should not exist."""


def _fail(message: str, code: ExitCode) -> NoReturn:
    stderr.print(f"nhirecon: error: {message}", markup=False, soft_wrap=True)
    raise typer.Exit(int(code))


def _run(action: Callable[[], T]) -> T:
    """Run a command body, turning nhirecon's errors into their exit codes."""
    try:
        return action()
    except NhireconError as exc:
        _fail(str(exc), exc.exit_code)
    except KeyboardInterrupt:
        _fail("interrupted", ExitCode.INTERRUPTED)


def _logging(quiet: bool, verbose: bool) -> None:
    level = logging.ERROR if quiet else logging.DEBUG if verbose else logging.WARNING
    logging.basicConfig(
        stream=sys.stderr, level=level, format="nhirecon: %(levelname)s: %(message)s"
    )


def _now(value: str | None) -> datetime:
    if value is None:
        return datetime.now(UTC).replace(microsecond=0)
    try:
        parsed = parse_datetime(value)
    except ValueError_ as exc:
        raise UsageError(f"--now: {exc}") from None
    assert parsed is not None
    return parsed


def _load(path: Path | None) -> config.Config:
    return config.load(config.resolve_path(str(path) if path else None))


@contextmanager
def _progress(enabled: bool) -> Iterator[pipeline.Progress]:
    """Progress bars on stderr when it is a terminal; otherwise nothing."""
    if not enabled or not stderr.is_terminal:
        yield lambda label, count: None
        return
    from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn

    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TextColumn("{task.completed:,} records"),
        TimeElapsedColumn(),
        console=stderr,
        transient=True,
    ) as bars:
        tasks: dict[str, TaskID] = {}

        def update(label: str, count: int) -> None:
            if label not in tasks:
                shown = label if label.startswith("applying ") else f"pulling {label}"
                tasks[label] = bars.add_task(shown, total=None)
            bars.update(tasks[label], completed=count)

        yield update


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


@app.command()
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
    target: Annotated[
        list[str] | None, typer.Option("--target", help="Only this target; repeatable.")
    ] = None,
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
    now: NowOption = None,
    quiet: QuietOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Pull, correlate, report and evaluate the gate; with --apply, also remediate.

    Example: nhirecon audit -c nhirecon.yaml -f json -o report.json --fail-on 'orphan>0'
    """
    _logging(quiet, verbose)

    def body() -> ExitCode:
        instant = _now(now)
        rules = _gate_rules(fail_on)
        pairs = _outputs(list(format_ or []), list(output or []))
        if quiet and not format_ and not output:
            pairs = []
        loaded = _load(config_path)
        accepted = baselines.load(baseline) if baseline else None
        previous = remediation.previous_source_count(loaded) if apply_ else None
        with _progress(not quiet) as progress:
            report = pipeline.audit(
                loaded, now=instant, only=list(target or []), gate_rules=rules, progress=progress
            )
        pending = (
            remediation.prepare(
                loaded, report, previous_identities=previous, max_actions=max_actions
            )
            if apply_
            else ()
        )
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
            with _progress(not quiet) as progress:
                result = remediation.apply_actions(
                    loaded, pending, yes=yes, confirm=_confirmer(), progress=progress
                )
            _tell(result, quiet)
            code = combine(code, result.exit_code)
        return code

    raise typer.Exit(int(_run(body)))


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


@app.command("baseline")
def baseline_command(
    output: Annotated[
        Path, typer.Option("--output", "-o", help="The baseline file to write (JSON).")
    ],
    config_path: ConfigOption = None,
    note: Annotated[
        str, typer.Option("--note", help="Why these findings are accepted (kept per entry).")
    ] = "",
    target: Annotated[
        list[str] | None, typer.Option("--target", help="Only this target; repeatable.")
    ] = None,
    now: NowOption = None,
    quiet: QuietOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Write the current findings as an accepted baseline for `audit --baseline`.

    Entries already in the file keep their note and date; entries that match nothing any
    more are dropped.

    Example: nhirecon baseline -o .nhirecon-baseline.json --note "known, SEC-12"
    """
    _logging(quiet, verbose)

    def body() -> None:
        instant = _now(now)
        loaded = _load(config_path)
        previous = baselines.load(output) if output.exists() else None
        with _progress(not quiet) as progress:
            report = pipeline.audit(
                loaded, now=instant, only=list(target or []), gate_rules=(), progress=progress
            )
        accepted = baselines.build(report, note=note, previous=previous)
        write_all([(output, baselines.dumps(accepted))])
        if not quiet:
            sys.stdout.write(f"wrote {output}: {len(accepted.entries)} accepted findings\n")

    _run(body)


@app.command("history")
def history_command(
    config_path: ConfigOption = None,
    file: Annotated[
        Path | None,
        typer.Option(
            "--file", help="Read this history file instead of the config's.", show_default=False
        ),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="How many recent runs.")] = 30,
    format_: Annotated[str, typer.Option("--format", "-f", help="table or json.")] = "table",
    quiet: QuietOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Show past runs from the history store: counts by kind, new and resolved, per run.

    Example: nhirecon history -c nhirecon.yaml --limit 14
    """
    _logging(quiet, verbose)

    def body() -> None:
        if format_ not in history_view.FORMATS:
            raise UsageError(f"unknown format {format_!r} (formats: table, json)")
        if file is not None:
            path = file
        elif config_path is None and not config.resolve_path(None).exists():
            path = history.default_path()
        else:
            path = tracking.history_path(_load(config_path))
        runs = history.trend(path, limit=limit)
        sys.stdout.write(history_view.render(runs, format_, path=path))

    _run(body)


@app.command()
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
    _logging(quiet, verbose)

    def body() -> None:
        instant = _now(now)
        result = pipeline.explain(_load(config_path), target, account, now=instant)
        sys.stdout.write(explain_view.render(result))

    _run(body)


@app.command()
def validate(
    config_path: ConfigOption = None,
    connect: Annotated[
        bool, typer.Option("--connect", help="Also pull every source and target once.")
    ] = False,
    quiet: QuietOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Check the config (and with --connect, reach every connector) without auditing.

    Example: nhirecon validate -c nhirecon.yaml --connect
    """
    _logging(quiet, verbose)

    def body() -> None:
        loaded = _load(config_path)
        endpoints = [*loaded.source.inputs, *(target.endpoint for target in loaded.targets)]
        for endpoint in endpoints:
            endpoint.open()
        lines = [
            f"{loaded.path}: valid ({len(loaded.source.inputs)} source inputs, "
            f"{len(loaded.targets)} targets)"
        ]
        if connect:
            for endpoint in endpoints:
                count = sum(1 for _ in endpoint.open().records())
                lines.append(
                    f"  {endpoint.key} {endpoint.name} ({endpoint.connector.name}): {count} records"
                )
        if not quiet:
            sys.stdout.write("\n".join(lines) + "\n")

    _run(body)


@app.command()
def connectors() -> None:
    """List the connectors, built-in and from plugins, with their options.

    Example: nhirecon connectors
    """
    lines = []
    for available in registry.discover():
        if available.connector is None:
            lines.append(f"{available.name} ({available.origin}): unusable: {available.problem}")
            continue
        cls = available.connector
        writes = ", ".join(sorted(cls.can_write)) or "read only"
        lines.append(f"{available.name} ({available.origin}, {writes}): {cls.description}")
        for name, parameter in cls.options().items():
            default = parameter.default
            shown = "required" if default is parameter.empty else f"default {default!r}"
            lines.append(f"    {name}: {shown}")
    sys.stdout.write("\n".join(lines) + "\n")


@app.command()
def init(
    path: Annotated[Path, typer.Argument(help="Where to write the config.")] = Path(
        config.DEFAULT_PATH
    ),
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented starter config.

    Example: nhirecon init nhirecon.yaml
    """

    def body() -> None:
        if path.exists() and not force:
            raise UsageError(f"{path} exists; use --force to overwrite it")
        starter = resources.files("nhirecon").joinpath("templates/starter.yaml").read_text()
        write_all([(path, starter)])
        sys.stdout.write(f"wrote {path}\n")

    _run(body)


def _confirmer() -> remediation.Confirm | None:
    """Ask on a terminal; without one there is nobody to ask (``--yes`` is then needed)."""
    if not (sys.stdin.isatty() and stderr.is_terminal):
        return None

    def ask(actions: Sequence[planning.Action]) -> bool:
        stderr.print(remediation_view.actions_text(actions), markup=False, end="")
        return typer.confirm(
            f"Write these {len(actions)} changes to the targets?", default=False, err=True
        )

    return ask


def _tell(result: remediation.ApplyResult, quiet: bool) -> None:
    for item in result.results:
        if item.outcome is remediation.Outcome.FAILED:
            log.error("%s", remediation_view.result_line(item))
        elif item.outcome is remediation.Outcome.SKIPPED:
            log.warning("%s", remediation_view.result_line(item))
    if result.results and not quiet:
        stderr.print(result.summary(), markup=False, soft_wrap=True)


@app.command("plan")
def plan_command(
    output: Annotated[Path, typer.Option("--output", "-o", help="The plan file to write.")],
    config_path: ConfigOption = None,
    target: Annotated[
        list[str] | None, typer.Option("--target", help="Only this target; repeatable.")
    ] = None,
    max_actions: MaxActionsOption = None,
    now: NowOption = None,
    quiet: QuietOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Compute the remediation actions and write them to a plan file; writes to no target.

    The plan records the config's digest, each target's URL and the version of each
    account; `nhirecon apply` refuses it if any of them no longer holds.
    Example: nhirecon plan -o plan.json && nhirecon apply plan.json
    """
    _logging(quiet, verbose)

    def body() -> None:
        instant = _now(now)
        loaded = _load(config_path)
        previous = remediation.previous_source_count(loaded)
        with _progress(not quiet) as progress:
            report = pipeline.audit(loaded, now=instant, only=list(target or []), progress=progress)
        made = planning.build(loaded, report, created_at=datetime.now(UTC).replace(microsecond=0))
        remediation.guard(
            loaded,
            report,
            made.actions,
            previous_identities=previous,
            max_actions=max_actions,
        )
        write_all([(output, planning.to_json(made))])
        if not quiet:
            sys.stdout.write(remediation_view.plan_text(made, str(output)))

    _run(body)


@app.command("apply")
def apply_command(
    plan_file: Annotated[Path, typer.Argument(help="A plan file written by `nhirecon plan`.")],
    config_path: ConfigOption = None,
    yes: YesOption = False,
    max_age: Annotated[
        str, typer.Option("--max-age", help="Refuse a plan older than this (24h, 30m, 2d).")
    ] = "24h",
    max_actions: MaxActionsOption = None,
    now: NowOption = None,
    quiet: QuietOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Apply a reviewed plan, re-checking every action against live state.

    Refused (exit 4) when the config or a target URL changed since the plan, when the
    plan is older than --max-age, or when it holds actions the config would not take.
    Example: nhirecon apply plan.json --yes
    """
    _logging(quiet, verbose)

    def body() -> ExitCode:
        instant = _now(now)
        age = planning.parse_duration(max_age)
        loaded = _load(config_path)
        try:
            text = plan_file.read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"{plan_file}: cannot read the plan: {exc.strerror or exc}") from None
        made = planning.from_json(text, str(plan_file))
        previous = remediation.previous_source_count(loaded)
        with _progress(not quiet) as progress:
            result = remediation.apply_plan(
                loaded,
                made,
                now=instant,
                previous_identities=previous,
                max_age=age,
                max_actions=max_actions,
                yes=yes,
                confirm=_confirmer(),
                progress=progress,
            )
        if not quiet:
            sys.stdout.write(remediation_view.results_text(result))
        else:
            _tell(result, quiet=True)
        return result.exit_code

    raise typer.Exit(int(_run(body)))


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        stderr.print("nhirecon: interrupted")
        sys.exit(int(ExitCode.INTERRUPTED))
