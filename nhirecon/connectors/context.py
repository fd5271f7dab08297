"""What a connector is given (its context from the config) and what it yields (raw rows).

Kept apart from :mod:`nhirecon.connectors.base` so that the field mapping can use them
without knowing the connector class.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from nhirecon.core.model import Origin

Lookup = Callable[[str], object]
"""Reads one mapped name (a column, a dotted path, a SCIM path) from a raw row."""


@dataclass(frozen=True, slots=True)
class RawRow:
    """One record as the connector read it, before mapping."""

    location: str
    """``file.csv:12``, ``file.json[3]``, ``https://…/Users?startIndex=101`` …"""
    lookup: Lookup


@dataclass(frozen=True)
class ConnectorContext:
    """What every connector receives besides its own options."""

    name: str
    """The source's or target's name in the config."""
    base_dir: Path
    """The config file's folder: relative paths are relative to it."""
    field_map: Mapping[str, str | tuple[str, ...]] = field(default_factory=dict)
    """Canonical or custom field → name in the export, from ``map``; several names for a
    field that may hold several values (``email: [work_email, alias_email]``)."""
    origin_values: Mapping[str, Origin] = field(default_factory=dict)
    """Raw origin value (case-folded) → origin, from ``origin_values``."""
    key: str = ""
    """Where it is in the config (``source``, ``targets[2]``), for messages."""
    compared: frozenset[str] = frozenset()
    """The fields the target's ``compare`` names: a connector may skip fetching costly
    fields nobody uses (group membership, for one)."""

    def resolve(self, path: str) -> Path:
        """A path from the config: relative to the config's folder, shown relative to the
        working directory when it lies below it (messages stay short)."""
        candidate = Path(path).expanduser()
        full = candidate if candidate.is_absolute() else self.base_dir / candidate
        try:
            return full.relative_to(Path.cwd())
        except ValueError:
            return full
