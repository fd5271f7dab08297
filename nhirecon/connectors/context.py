"""What a connector is given (its context from the config) and what it yields (raw rows).

Kept apart from :mod:`nhirecon.connectors.base` so that the field mapping can use them
without knowing the connector class.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import MappingProxyType
from typing import Final, Literal, NamedTuple

from nhirecon.core.model import Origin
from nhirecon.errors import ConfigError

Lookup = Callable[[str], object]
"""Reads one mapped name (a column, a dotted path, a SCIM path) from a raw row."""
Has = Callable[[str], bool]
"""Whether a raw row holds a name at all, even as an empty value or ``null``."""


def _nothing() -> Mapping[str, frozenset[str]]:
    return MappingProxyType({})


class RawRow(NamedTuple):
    """One record as the connector read it, before mapping (a named tuple: one is made
    for every row read, and a tuple is the cheapest immutable thing to make)."""

    location: str
    """``file.csv:12``, ``file.json[3]``, ``https://…/Users?startIndex=101`` …"""
    lookup: Lookup
    has: Has | None = None
    """For schema-less rows (JSON, YAML, SCIM): whether the row holds a name even when
    ``lookup`` gives ``None`` for it (``"lastLogin": null``). Without it, a name counts as
    present in a row only where it has a value (see SPEC §3.2)."""


@dataclass(frozen=True)
class ValueOptions:
    """How an input's raw values are read: the options beside ``map`` (SPEC §3.1).

    Word lists are held trimmed and case-folded, as they are compared.
    """

    null_values: frozenset[str] = frozenset()
    """Raw values read as "no value" in every field."""
    date_format: str = "iso"
    """``iso``, ``epoch``, ``epoch_ms``, ``filetime`` or a strptime pattern."""
    date_formats: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    """Date field → its own format, overriding ``date_format``."""
    timezone: str = "UTC"
    """The zone (an IANA name) of date-times, and dates, written without one."""
    active_values: Mapping[str, bool] | None = None
    """Raw word → whether it means active; when set, the only words ``active`` accepts."""
    kind_values: Mapping[str, str] | None = None
    """Raw word → canonical kind; besides these, only the canonical kinds themselves."""
    where: Mapping[str, frozenset[str]] = field(default_factory=_nothing)
    """Field or raw name → values: a row is kept only when it has one of them."""
    where_not: Mapping[str, frozenset[str]] = field(default_factory=_nothing)
    """Field or raw name → values: a row that has one of them is dropped."""
    repeated_rows: Literal["error", "merge"] = "error"
    """What rows sharing an id are: an error, or one record."""


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
    """The fields the target's ``compare`` names (for a source input, every target's): a
    connector may skip fetching costly fields nobody uses (group membership, for one)."""
    value_options: ValueOptions = field(default_factory=ValueOptions)
    """How raw values are read (``null_values``, ``date_format``, ``where`` ...)."""
    correlated: frozenset[str] | None = None
    """The fields correlation reads on this input: the account side of the target's
    ``correlate`` rules, or for a source input the identity side of every target's.
    ``None`` when not known (a context built outside the config): every mapped field then
    counts as driving a decision (SPEC §3.2)."""

    as_of: datetime | None = None
    """The instant the run evaluates at (``--now``), when the run gives it: a connector
    that must tell which of an object's credentials are still valid reads it (``None``:
    the moment it reads them)."""

    def option_key(self, option: str) -> str:
        """The key path of one of its options, for messages: ``targets[2].ca_bundle``."""
        return f"{self.key}.{option}" if self.key else option

    def ca_bundle(self, path: str | None) -> Path | None:
        """The ``ca_bundle`` option of a live connector: the PEM file of CA certificates,
        resolved like every path of the config; a missing file is a config error."""
        if not path:
            return None
        bundle = self.resolve(path)
        if not bundle.is_file():
            raise ConfigError(
                f"{bundle}: no such file (a PEM file of CA certificates)",
                key=self.option_key("ca_bundle"),
            )
        return bundle

    def resolve(self, path: str) -> Path:
        """A path from the config: relative to the config's folder, shown relative to the
        working directory when it lies below it (messages stay short)."""
        candidate = Path(path).expanduser()
        full = candidate if candidate.is_absolute() else self.base_dir / candidate
        try:
            return full.relative_to(Path.cwd())
        except ValueError:
            return full


RETRY_OPTIONS: Final = ("retries", "backoff", "max_retry_wait", "rate_limit_per_minute")
"""The HTTP options of live connectors that may be 0 but not negative."""


def range_problems(
    options: Mapping[str, object],
    *,
    positive: tuple[str, ...],
    not_negative: tuple[str, ...] = RETRY_OPTIONS,
) -> list[tuple[str, str]]:
    """(option, message) for each numeric option given that is 0 or less where it must be
    positive, or below 0 where it must not be negative; the types are checked already."""
    found = []
    for name in positive:
        value = options.get(name)
        if isinstance(value, int | float) and value <= 0:
            found.append((name, f"must be positive, got {value!r}"))
    for name in not_negative:
        value = options.get(name)
        if isinstance(value, int | float) and value < 0:
            found.append((name, f"must not be negative, got {value!r}"))
    return found
