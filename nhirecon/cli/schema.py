"""``schema``: the JSON Schema of the config file, for editors.

Only typer and the option definitions are imported here; the config's models are
imported when the command runs (see :mod:`nhirecon.cli.options`).
"""

from __future__ import annotations

import sys

from nhirecon.cli.common import run, setup_logging
from nhirecon.cli.options import (
    Color,
    ColorOption,
    ConfigOption,
    NowOption,
    QuietOption,
    VerboseOption,
)


def schema(
    config_path: ConfigOption = None,
    now: NowOption = None,
    quiet: QuietOption = False,
    verbose: VerboseOption = False,
    color: ColorOption = Color.auto,
) -> None:
    """Print the JSON Schema of the config file, for editors that check YAML with one.

    An editor with the YAML language server uses it when the config's first line says
    where it is: # yaml-language-server: $schema=./nhirecon.schema.json

    Example: nhirecon schema > nhirecon.schema.json
    """
    setup_logging(quiet, verbose, color)

    def body() -> None:
        from nhirecon.config import schema as config_schema

        sys.stdout.write(config_schema.text())

    run(body)
