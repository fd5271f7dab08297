"""What every command shares: the common options, logging, the clock, loading the config,
progress bars, and turning errors into exit codes: nhirecon's own errors into theirs, any
other exception (a bug) into exit 70 with one line, the traceback only with ``-v``."""

from __future__ import annotations

import logging
import os
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, NoReturn, TypeVar

import typer
from rich.console import Console

import nhirecon
from nhirecon import config, pipeline
from nhirecon.cli.logging_setup import InertFormatter, traceback_text
from nhirecon.core.text import inert
from nhirecon.core.values import ValueError_, parse_datetime
from nhirecon.errors import InternalError, NhireconError, UsageError, describe
from nhirecon.exit_codes import ExitCode

log = logging.getLogger("nhirecon")
stderr = Console(stderr=True, highlight=False)
COMMAND: ContextVar[str] = ContextVar("COMMAND", default="")
"""The command being run (``audit``), set by the root callback: an internal error names it."""

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

AcceptDropOption = Annotated[
    bool,
    typer.Option(
        "--accept-source-drop",
        help="Accept, for this run, a source that shrank more than"
        " policy.max_source_drop_percent since the last recorded run.",
    ),
]

TargetOption = Annotated[
    list[str] | None, typer.Option("--target", help="Only this target; repeatable.")
]

T = TypeVar("T")


shown = inert
"""See :func:`nhirecon.core.text.inert`."""


def say(line: str) -> None:
    """One line on stderr, made inert: the one way the CLI speaks to a person there (its
    errors, and what ``apply`` tells), besides log lines (:class:`InertFormatter`)."""
    stderr.print(shown(line), markup=False, emoji=False, soft_wrap=True)


def say_error(message: str) -> None:
    """One line on stderr: ``nhirecon: error: MESSAGE``, where MESSAGE may quote data (an
    id, a server's error detail) and is shown inert."""
    say(f"nhirecon: error: {message}")


def fail(message: str, code: ExitCode) -> NoReturn:
    say_error(message)
    raise typer.Exit(int(code))


def report_internal_error(exc: BaseException) -> None:
    """Say on stderr, in one line, that a bug stopped the run: the exception's type and
    message, the command, and where in nhirecon it was raised; the traceback first with
    ``-v``."""
    verbose = log.isEnabledFor(logging.DEBUG)
    if verbose:
        stderr.file.write(traceback_text(exc) + "\n")
        stderr.file.flush()
    cause = exc.__cause__ if isinstance(exc, InternalError) else None
    what = str(exc) if isinstance(exc, InternalError) else describe(exc)
    known = [f"during {COMMAND.get()}"] if COMMAND.get() else []
    where = _raised_at(cause or exc)
    if where:
        known.append(f"at {where}")
    context = f" ({', '.join(known)})" if known else ""
    hint = "" if verbose else "; run again with -v for the traceback"
    say(f"nhirecon: internal error: {what}{context}{hint}")


_PACKAGE = Path(nhirecon.__file__).resolve().parent


def _raised_at(exc: BaseException) -> str:
    """``nhirecon/module.py:LINE`` of the innermost frame of ours in ``exc``'s traceback."""
    found = ""
    for frame in traceback.extract_tb(exc.__traceback__):
        try:
            relative = Path(frame.filename).resolve().relative_to(_PACKAGE.parent)
        except ValueError:
            continue
        if relative.parts[0] == _PACKAGE.name:
            found = f"{relative.as_posix()}:{frame.lineno}"
    return found


def run(action: Callable[[], T]) -> T:
    """Run a command body, turning errors into exit codes: nhirecon's own into theirs, a
    reader gone from stdout into 2, anything else into 70 (a bug)."""
    try:
        return action()
    except InternalError as exc:
        report_internal_error(exc)
        raise typer.Exit(int(exc.exit_code)) from None
    except NhireconError as exc:
        fail(str(exc), exc.exit_code)
    except KeyboardInterrupt:
        fail("interrupted", ExitCode.INTERRUPTED)
    except BrokenPipeError:
        quiet_stdout()
        fail("stdout was closed before the output was written", ExitCode.USAGE)
    except Exception as exc:
        report_internal_error(exc)
        raise typer.Exit(int(ExitCode.INTERNAL)) from None


def quiet_stdout() -> None:
    """Point stdout at the null device, so that the interpreter's last flush does not
    fail again on a reader that is gone."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
    except OSError:
        return
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no file descriptor behind stdout: nothing to quiet
        pass
    finally:
        os.close(devnull)


def setup_logging(quiet: bool, verbose: bool) -> None:
    """Log to stderr, every line inert (:class:`InertFormatter`): errors only with
    ``quiet``, every level with ``verbose``, warnings and up otherwise."""
    level = logging.ERROR if quiet else logging.DEBUG if verbose else logging.WARNING
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(InertFormatter())
    logging.basicConfig(level=level, handlers=[handler])


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
        TextColumn("{task.description}", markup=False),
        TextColumn("{task.completed:,} records"),
        TimeElapsedColumn(),
        console=stderr,
        transient=True,
    ) as bars:
        tasks: dict[str, TaskID] = {}

        def update(label: str, count: int) -> None:
            if label not in tasks:
                text = label if label.startswith("applying ") else f"pulling {label}"
                tasks[label] = bars.add_task(inert(text), total=None)
            bars.update(tasks[label], completed=count)

        yield update
