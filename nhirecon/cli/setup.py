"""``init``, ``validate`` and ``connectors``: getting a config right before the first audit."""

from __future__ import annotations

import sys
from importlib import resources
from pathlib import Path
from typing import Annotated

import typer

from nhirecon import config
from nhirecon.cli.common import (
    ConfigOption,
    QuietOption,
    VerboseOption,
    load_config,
    run,
    setup_logging,
)
from nhirecon.connectors import files, registry
from nhirecon.errors import SafetyError, UsageError
from nhirecon.output import write_all


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
    setup_logging(quiet, verbose)

    def body() -> None:
        loaded = load_config(config_path)
        endpoints = [*loaded.source.inputs, *(target.endpoint for target in loaded.targets)]
        for endpoint in endpoints:
            opened = registry.connect(endpoint)
            export = getattr(opened, "path", None)
            if registry.BUILTINS.get(endpoint.connector.name) is endpoint.connector and (
                isinstance(export, Path)
            ):
                files.refuse_special(export)  # a pipe or a device, found without a read
        lines = [
            f"{loaded.path}: valid ({len(loaded.source.inputs)} source inputs, "
            f"{len(loaded.targets)} targets)"
        ]
        if connect:
            for endpoint in endpoints:
                count = sum(1 for _ in registry.pull(endpoint))
                if count == 0 and endpoint in loaded.source.inputs:
                    raise SafetyError(
                        f"{endpoint.key} ({endpoint.name}) returned no identities; an audit"
                        " would refuse it (is the export empty or truncated?)"
                    )
                noun = "record" if count == 1 else "records"
                lines.append(
                    f"  {endpoint.key} {endpoint.name} ({endpoint.connector.name}): {count} {noun}"
                )
        if not quiet:
            sys.stdout.write("\n".join(lines) + "\n")

    run(body)


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

    run(body)
