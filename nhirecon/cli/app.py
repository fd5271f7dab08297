"""The Typer application: the root options and the commands, each from its own module."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from nhirecon import __version__
from nhirecon.cli import audit, history, remediate, setup
from nhirecon.cli.common import COMMAND, report_internal_error, say, say_error
from nhirecon.errors import NhireconError
from nhirecon.exit_codes import ExitCode

app = typer.Typer(
    name="nhirecon",
    help="Identity lifecycle reconciliation: find the accounts that should not exist.",
    context_settings={"help_option_names": ["-h", "--help"]},
    no_args_is_help=True,
    add_completion=False,
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
) -> None:
    """Identity lifecycle reconciliation: find the accounts that should not exist."""
    COMMAND.set(ctx.invoked_subcommand or "")


app.command("audit")(audit.audit)
app.command("baseline")(history.baseline_command)
app.command("history")(history.history_command)
app.command("explain")(audit.explain)
app.command("validate")(setup.validate)
app.command("connectors")(setup.connectors)
app.command("init")(setup.init)
app.command("plan")(remediate.plan_command)
app.command("apply")(remediate.apply_command)


def main() -> None:
    """The ``nhirecon`` command.

    Each command turns its own failures into exit codes (``common.run``); what escapes
    them ends here, so that no exception ever shows as a traceback with exit 1, which a CI
    job would read as "the gate failed". Text that UTF-8 cannot carry (a lone surrogate
    from an export) is written to stdout and stderr escaped (``\\ud800``) rather than
    failing the run.
    """
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if callable(reconfigure):
            reconfigure(errors="backslashreplace")
    try:
        app()
    except KeyboardInterrupt:
        say("nhirecon: interrupted")
        sys.exit(int(ExitCode.INTERRUPTED))
    except NhireconError as exc:
        if exc.exit_code is ExitCode.INTERNAL:
            report_internal_error(exc)
        else:
            say_error(str(exc))
        sys.exit(int(exc.exit_code))
    except Exception as exc:  # a bug: one line, exit 70, the traceback only with -v
        report_internal_error(exc)
        sys.exit(int(ExitCode.INTERNAL))
