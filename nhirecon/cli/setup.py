"""``init``, ``validate`` and ``connectors``: getting a config right before the first audit.

Only typer and the option definitions are imported here; each command imports what it
runs when it runs (see :mod:`nhirecon.cli.options`).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from nhirecon.cli.common import config_file, load_config, run, setup_logging
from nhirecon.cli.options import (
    Color,
    ColorOption,
    ConfigOption,
    NowOption,
    QuietOption,
    TextOrJson,
    TextOrJsonOption,
    VerboseOption,
)
from nhirecon.errors import NhireconError, UsageError
from nhirecon.exit_codes import ExitCode

if TYPE_CHECKING:
    from nhirecon.config import Config
    from nhirecon.connectors.coverage import Coverage


def validate(
    config_path: ConfigOption = None,
    connect: Annotated[
        bool, typer.Option("--connect", help="Also pull every source and target once.")
    ] = False,
    format_: TextOrJsonOption = TextOrJson.text,
    now: NowOption = None,
    quiet: QuietOption = False,
    verbose: VerboseOption = False,
    color: ColorOption = Color.auto,
) -> None:
    """Check the config, and with --connect reach every connector, without auditing.

    With -f json, a config that is not valid is still a document on stdout
    ("valid": false, its error in "errors"), and the exit code is 2.

    Example: nhirecon validate -c nhirecon.yaml --connect
    """
    setup_logging(quiet, verbose, color)

    def body() -> None:
        from nhirecon.cli import setup_view
        from nhirecon.config import Endpoint
        from nhirecon.connectors import files, registry
        from nhirecon.core.text import inert
        from nhirecon.errors import ConfigError, ConnectorError, SafetyError

        loaded = load_config(config_path)
        endpoints = [*loaded.source.inputs, *(target.endpoint for target in loaded.targets)]
        unusable = [str(problem) for problem in map(Endpoint.unusable, endpoints) if problem]
        if unusable:  # every input whose extra is missing, one line each
            refused = ConfigError("\n".join(unusable))
            refused.inert_lines = True
            raise refused
        unreadable = []
        for endpoint in endpoints:
            opened = registry.connect(endpoint)
            export = getattr(opened, "path", None)
            if registry.BUILTINS.get(endpoint.connector.name) is endpoint.connector and (
                isinstance(export, Path)
            ):
                try:  # missing, a folder, a pipe or a device: found without a read
                    files.regular_file(export)
                except ConnectorError as exc:
                    unreadable.append(inert(f"{endpoint.key}.path: {exc}"))
        if unreadable:  # every input at once, one line each, as config problems are
            error = ConnectorError("\n".join(unreadable))
            error.inert_lines = True
            raise error
        counts: dict[str, int] | None = {} if connect else None
        if counts is not None:
            coverages = {}
            for endpoint in endpoints:
                pulled = registry.pull(endpoint)
                count = sum(1 for _ in pulled)
                if count == 0 and endpoint in loaded.source.inputs:
                    raise SafetyError(
                        f"{endpoint.key} ({endpoint.name}) returned no identities; an audit"
                        " would refuse it (is the export empty or truncated?)"
                    )
                counts[endpoint.key] = count
                coverages[endpoint.key] = pulled.coverage
            _check_readable(loaded, counts, coverages)
        if format_ is TextOrJson.json:
            sys.stdout.write(setup_view.validate_json(loaded, counts))
        elif not quiet:
            sys.stdout.write(setup_view.validate_text(loaded, counts))

    def checked() -> None:
        """``body``; with -f json, a config that is not valid (exit 2) is also a document
        on stdout. Other failures (a connector, a guard) leave stdout empty."""
        try:
            body()
        except NhireconError as exc:
            if format_ is TextOrJson.json and exc.exit_code is ExitCode.USAGE:
                from nhirecon.cli import setup_view

                sys.stdout.write(setup_view.invalid_json(config_file(config_path), exc))
            raise

    run(checked)


def connectors(
    format_: TextOrJsonOption = TextOrJson.text,
    config_path: ConfigOption = None,
    now: NowOption = None,
    quiet: QuietOption = False,
    verbose: VerboseOption = False,
    color: ColorOption = Color.auto,
) -> None:
    """List the connectors, built-in and from plugins, with their options.

    Example: nhirecon connectors -f json
    """
    setup_logging(quiet, verbose, color)

    def body() -> None:
        from nhirecon.cli import setup_view
        from nhirecon.connectors import registry

        found = registry.discover()
        if format_ is TextOrJson.json:
            sys.stdout.write(setup_view.connectors_json(found))
        else:
            sys.stdout.write(setup_view.connectors_text(found))

    run(body)


def init(
    path: Annotated[
        Path | None,
        typer.Argument(
            metavar="PATH",
            show_default=False,
            help="Where to write the config (default: the -c file, else nhirecon.yaml).",
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
    config_path: ConfigOption = None,
    now: NowOption = None,
    quiet: QuietOption = False,
    verbose: VerboseOption = False,
    color: ColorOption = Color.auto,
) -> None:
    """Write a commented starter config.

    Example: nhirecon init nhirecon.yaml
    """
    setup_logging(quiet, verbose, color)

    def body() -> None:
        from importlib import resources

        from nhirecon.output import write_all

        destination = path or config_file(config_path)
        if destination.exists() and not force:
            raise UsageError(f"{destination} exists; use --force to overwrite it")
        starter = resources.files("nhirecon").joinpath("templates/starter.yaml").read_text()
        write_all([(destination, starter)])
        if not quiet:
            sys.stdout.write(f"wrote {destination}\n")

    run(body)


def _check_readable(
    loaded: Config, counts: Mapping[str, int], coverages: Mapping[str, Coverage | None]
) -> None:
    """What an audit refuses once the inputs are read (see
    :func:`nhirecon.pipeline.check_readable`), refused here too."""
    from nhirecon import pipeline
    from nhirecon.core.evidence import SOURCE_NEEDS, TARGET_NEEDS
    from nhirecon.sources import evidence_of

    inputs = [coverages[endpoint.key] for endpoint in loaded.source.inputs]
    source = evidence_of(inputs, SOURCE_NEEDS)
    for target in loaded.targets:
        key = target.endpoint.key
        found = evidence_of([coverages[key]], TARGET_NEEDS)
        pipeline.check_readable(target, counts[key], found, source)
