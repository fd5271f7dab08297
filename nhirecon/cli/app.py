"""The Typer application: the root options and the commands, each from its own module.

Importing it imports typer and the commands' definitions, nothing they run: each command
imports the pipeline, the connectors and the reporters it needs when it runs, so that
``nhirecon --version``, ``--help`` and shell completion start fast (``bench/startup.py``).
"""

from __future__ import annotations

import sys
from typing import Annotated, Any, TextIO

import typer
from typer.core import TyperGroup

from nhirecon import __version__
from nhirecon.cli import audit, history, remediate, schema, setup
from nhirecon.cli.common import COMMAND, quiet_stdout, report_internal_error, say, say_error
from nhirecon.cli.options import (
    Color,
    ColorOption,
    ConfigOption,
    NowOption,
    QuietOption,
    VerboseOption,
)
from nhirecon.errors import NhireconError
from nhirecon.exit_codes import ExitCode


class Commands(TyperGroup):
    """The root group: its help lists each command with the whole first sentence of its
    help, where click would cut it to fit one line."""

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit=1_000)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


app = typer.Typer(
    name="nhirecon",
    cls=Commands,
    epilog="Example: nhirecon -c nhirecon.yaml audit -f json -o report.json --fail-on 'orphan>0'",
    context_settings={"help_option_names": ["-h", "--help"]},
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"nhirecon {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
    config_path: ConfigOption = None,
    now: NowOption = None,
    quiet: QuietOption = False,
    verbose: VerboseOption = False,
    color: ColorOption = Color.auto,
) -> None:
    """Identity lifecycle reconciliation: find the accounts that should not exist.

    -c, --now, -q, -v and --color may come before the command or after it; given in both
    places, the one after the command wins.
    """
    # The common options given here are kept by their callback (options._common), and
    # each command takes them from there unless given after the command.
    COMMAND.set(ctx.invoked_subcommand or "")


app.command("audit")(audit.audit)
app.command("baseline")(history.baseline_command)
app.command("history")(history.history_command)
app.command("explain")(audit.explain)
app.command("validate")(setup.validate)
app.command("connectors")(setup.connectors)
app.command("init")(setup.init)
app.command("schema")(schema.schema)
app.command("plan")(remediate.plan_command)
app.command("apply")(remediate.apply_command)


def main() -> None:
    """The ``nhirecon`` command.

    Each command turns its own failures into exit codes (``common.run``); what escapes
    them ends here, so that no exception ever shows as a traceback with exit 1, which a CI
    job would read as "the gate failed". Text that UTF-8 cannot carry (a lone surrogate
    from an export) is written to stdout and stderr escaped (``\\ud800``) rather than
    failing the run, and stdout is written whole or not at all (see
    :class:`~nhirecon.output.WholeWrites`).
    """
    from nhirecon.output import whole_stdout

    whole_stdout()
    reconfigure = getattr(sys.stderr, "reconfigure", None)
    if callable(reconfigure):
        reconfigure(errors="backslashreplace")
    stdout = sys.stdout
    try:
        try:
            app()
        finally:
            _deliver_stdout(stdout)
    except KeyboardInterrupt:
        say("nhirecon: interrupted")
        sys.exit(int(ExitCode.INTERRUPTED))
    except NhireconError as exc:
        if exc.exit_code is ExitCode.INTERNAL:
            report_internal_error(exc)
        else:
            for line in exc.lines():
                say_error(line)
        sys.exit(int(exc.exit_code))
    except Exception as exc:  # a bug: one line, exit 70, the traceback only with -v
        report_internal_error(exc)
        sys.exit(int(ExitCode.INTERNAL))


def _deliver_stdout(stdout: TextIO) -> None:
    """Flush what stdout still holds (a short report, a version, a summary line), so that
    a refusal is the run's failure, exit 2 with one line, as for a long report. Left to the
    interpreter's last flush, it would print a traceback and exit 120, a code no caller
    knows; and a reader gone while click itself wrote (``--version``, ``--help``) would be
    exit 1, the failed gate's code: click then replaces ``sys.stdout`` (``stdout`` is the
    one the run began with) and exits 1. Raises :class:`~nhirecon.output.StdoutRefused` or
    ``SystemExit(2)``."""
    from nhirecon.output import StdoutRefused

    try:
        if sys.stdout is not stdout:
            raise BrokenPipeError
        sys.stdout.flush()
    except BrokenPipeError:
        quiet_stdout()
        say_error("stdout was closed before the output was written")
        sys.exit(int(ExitCode.USAGE))
    except StdoutRefused:
        quiet_stdout()  # the interpreter's last flush would be refused again
        raise
