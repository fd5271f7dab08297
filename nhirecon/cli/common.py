"""What every command shares: the common options, logging, the clock, loading the config,
progress bars, and turning nhirecon's errors into exit codes."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, NoReturn, TypeVar

import typer
from rich.console import Console

from nhirecon import config, pipeline
from nhirecon.core.values import ValueError_, parse_datetime
from nhirecon.errors import NhireconError, UsageError
from nhirecon.exit_codes import ExitCode

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

TargetOption = Annotated[
    list[str] | None, typer.Option("--target", help="Only this target; repeatable.")
]

T = TypeVar("T")


def fail(message: str, code: ExitCode) -> NoReturn:
    stderr.print(f"nhirecon: error: {message}", markup=False, soft_wrap=True)
    raise typer.Exit(int(code))


def run(action: Callable[[], T]) -> T:
    """Run a command body, turning nhirecon's errors into their exit codes."""
    try:
        return action()
    except NhireconError as exc:
        fail(str(exc), exc.exit_code)
    except KeyboardInterrupt:
        fail("interrupted", ExitCode.INTERRUPTED)


def setup_logging(quiet: bool, verbose: bool) -> None:
    level = logging.ERROR if quiet else logging.DEBUG if verbose else logging.WARNING
    logging.basicConfig(
        stream=sys.stderr, level=level, format="nhirecon: %(levelname)s: %(message)s"
    )


def parse_now(value: str | None) -> datetime:
    if value is None:
        return datetime.now(UTC).replace(microsecond=0)
    try:
        parsed = parse_datetime(value)
    except ValueError_ as exc:
        raise UsageError(f"--now: {exc}") from None
    assert parsed is not None
    return parsed


def load_config(path: Path | None) -> config.Config:
    return config.load(config.resolve_path(str(path) if path else None))


@contextmanager
def progress_bars(enabled: bool) -> Iterator[pipeline.Progress]:
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
