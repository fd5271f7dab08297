"""What every command shares at run time: logging, colour, the clock, loading the config,
progress bars, and turning errors into exit codes: nhirecon's own errors into theirs,
Ctrl-C and SIGTERM into 130 (interrupted), any other exception (a bug) into exit 70 with one
line, the traceback only with ``-v``.

Importing it is cheap: what a command needs (the config, rich, the core's date parsing) is
imported where it is used, so that ``nhirecon --version`` and ``--help`` start fast.
"""

from __future__ import annotations

import functools
import logging
import os
import signal
import sys
import traceback
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, NoReturn, TypeVar

import typer

import nhirecon
from nhirecon.cli.logging_setup import InertFormatter, traceback_text
from nhirecon.cli.options import Color
from nhirecon.core.text import inert
from nhirecon.errors import InternalError, NhireconError, UsageError, describe
from nhirecon.exit_codes import ExitCode

if TYPE_CHECKING:
    from datetime import datetime

    from rich.console import Console

    from nhirecon import config, pipeline

log = logging.getLogger("nhirecon")
COMMAND: ContextVar[str] = ContextVar("COMMAND", default="")
"""The command being run (``audit``), set by the root callback: an internal error names it."""

T = TypeVar("T")


shown = inert
"""See :func:`nhirecon.core.text.inert`."""


@functools.cache
def stderr() -> Console:
    """The console on stderr (made on first use): errors, progress bars, questions."""
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def say(line: str) -> None:
    """One line on stderr, made inert: the one way the CLI speaks to a person there (its
    errors, and what ``apply`` tells), besides log lines (:class:`InertFormatter`)."""
    stderr().print(shown(line), markup=False, emoji=False, soft_wrap=True)


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
        console = stderr()
        console.file.write(traceback_text(exc) + "\n")
        console.file.flush()
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


class Terminated(BaseException):
    """SIGTERM arrived while a command ran (a cron or CI timeout). Raised in the main thread
    like :class:`KeyboardInterrupt`, and like it no ``except Exception`` stops it: ``finally``
    blocks run and a report file being staged is removed (see :mod:`nhirecon.output`)."""


@contextmanager
def terminable() -> Iterator[None]:
    """While the block runs, SIGTERM raises :class:`Terminated` in the main thread, once:
    a second one while the first unwinds is let go, so that it cannot cut the clean-up
    short. The previous handler comes back afterwards. Elsewhere than in the main thread
    (where no handler can be set), or when SIGTERM is ignored (``SIG_IGN``, a parent's
    choice), nothing changes."""
    raised = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal raised
        if not raised:
            raised = True
            raise Terminated

    previous = signal.getsignal(signal.SIGTERM)
    installed = False
    if previous is not signal.SIG_IGN:
        try:
            signal.signal(signal.SIGTERM, stop)
            installed = True
        except ValueError:  # not the main thread: signals are not ours to handle there
            pass
    try:
        yield
    finally:
        if installed:  # previous is None when set outside Python: the default stands in
            signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)


def run(action: Callable[[], T]) -> T:
    """Run a command body, turning errors into exit codes: nhirecon's own into theirs, a
    reader gone from stdout into 2, Ctrl-C and SIGTERM into 130 (see
    :func:`terminable`), anything else into 70 (a bug)."""
    try:
        with terminable():
            return action()
    except InternalError as exc:
        report_internal_error(exc)
        raise typer.Exit(int(exc.exit_code)) from None
    except NhireconError as exc:
        for line in exc.lines():
            say_error(line)
        from nhirecon.output import StdoutRefused

        if isinstance(exc, StdoutRefused):
            quiet_stdout()  # the interpreter's last flush would be refused again
        raise typer.Exit(int(exc.exit_code)) from None
    except KeyboardInterrupt:
        fail("interrupted", ExitCode.INTERRUPTED)
    except Terminated:
        fail("terminated", ExitCode.INTERRUPTED)
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


def setup_logging(quiet: bool, verbose: bool, color: Color = Color.auto) -> None:
    """Log to stderr, every line inert (:class:`InertFormatter`): errors only with
    ``quiet``, every level with ``verbose``, warnings and up otherwise. ``--color never``
    also takes the colour out of what stderr shows (progress bars)."""
    level = logging.ERROR if quiet else logging.DEBUG if verbose else logging.WARNING
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(InertFormatter())
    logging.basicConfig(level=level, handlers=[handler])
    if color is Color.never:
        stderr().no_color = True


def use_color(choice: Color, *, terminal: bool, environ: Mapping[str, str]) -> bool:
    """Whether a report on stdout is in colour. ``always`` and ``never`` say so; ``auto``
    colours a terminal unless ``NO_COLOR`` is set and not empty (https://no-color.org),
    and ``FORCE_COLOR`` set and not empty colours even a pipe. ``NO_COLOR`` wins over
    ``FORCE_COLOR``: it is the reader's own wish."""
    if choice is not Color.auto:
        return choice is Color.always
    if environ.get("NO_COLOR"):
        return False
    return bool(environ.get("FORCE_COLOR")) or terminal


def parse_now(value: str | None) -> datetime:
    from datetime import UTC, datetime

    from nhirecon.core.values import ValueError_, parse_datetime

    if value is None:
        return datetime.now(UTC).replace(microsecond=0)
    try:
        parsed = parse_datetime(value)
    except ValueError_ as exc:
        raise UsageError(f"--now: {exc}") from None
    assert parsed is not None
    return parsed


def config_file(path: Path | None) -> Path:
    """The config file: ``-c``, else ``$NHIRECON_CONFIG``, else ``nhirecon.yaml``."""
    from nhirecon import config

    return config.resolve_path(str(path) if path else None)


def load_config(path: Path | None) -> config.Config:
    from nhirecon import config

    return config.load(config_file(path))


def is_terminal(stream: object) -> bool:
    """Whether ``stream`` is a terminal, asked of the stream itself: rich's
    ``Console.is_terminal`` cannot tell, as it says yes to a pipe or a file too whenever
    ``FORCE_COLOR`` is set. A stream without ``isatty``, or closed, or with no file
    descriptor behind it, is no terminal."""
    isatty = getattr(stream, "isatty", None)
    if not callable(isatty):
        return False
    try:
        return bool(isatty())
    except (OSError, ValueError):
        return False


@contextmanager
def progress_bars(enabled: bool) -> Iterator[pipeline.Progress]:
    """Progress bars on stderr when it is a terminal (and rich may drive it as one: not
    with ``TTY_COMPATIBLE=0``); otherwise nothing. ``FORCE_COLOR`` colours them but never
    puts them on a pipe or a file."""
    console = stderr()
    if not enabled or not (is_terminal(console.file) and console.is_terminal):
        yield lambda label, count: None
        return
    from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn

    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}", markup=False),
        TextColumn("{task.completed:,} records"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bars:
        tasks: dict[str, TaskID] = {}

        def update(label: str, count: int) -> None:
            if label not in tasks:
                text = label if label.startswith("applying ") else f"pulling {label}"
                tasks[label] = bars.add_task(inert(text), total=None)
            bars.update(tasks[label], completed=count)

        yield update
