"""The YAML configuration: :func:`load` reads a file into a validated, frozen :class:`Config`."""

from nhirecon.config.load import load, resolve_path
from nhirecon.config.model import (
    CONFIG_ENV,
    DEFAULT_PATH,
    Config,
    Endpoint,
    Protected,
    Source,
    Target,
)

__all__ = [
    "CONFIG_ENV",
    "DEFAULT_PATH",
    "Config",
    "Endpoint",
    "Protected",
    "Source",
    "Target",
    "load",
    "resolve_path",
]
