"""The Typer application: the root options and the commands, each from its own module."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from nhirecon import __version__
from nhirecon.cli import audit, history, remediate, setup
from nhirecon.cli.common import stderr
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
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """Identity lifecycle reconciliation: find the accounts that should not exist."""


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
    try:
        app()
    except KeyboardInterrupt:
        stderr.print("nhirecon: interrupted")
        sys.exit(int(ExitCode.INTERRUPTED))
