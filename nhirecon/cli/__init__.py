"""The command line: Typer commands that parse, wire, print and map errors to exit codes."""

from nhirecon.cli.app import app, main

__all__ = ["app", "main"]
