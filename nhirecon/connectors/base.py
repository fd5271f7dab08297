"""The connector contract: one abstract base that every connector implements.

A connector reads raw rows from one place (a file, an API) and the shared field mapping
turns them into :class:`~nhirecon.core.model.Record` objects. A connector's options in the
YAML config are the keyword-only arguments of its constructor, after ``context``.
"""

from __future__ import annotations

import inspect
import types
import typing
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar

from nhirecon.core.model import CANONICAL_FIELDS, Origin, Record

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
    field_map: Mapping[str, str] = field(default_factory=dict)
    """Canonical or custom field → name in the export, from ``map``."""
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


class Connector(ABC):
    """Reads the records of one source or target."""

    name: ClassVar[str]
    """The name used in ``connector:``."""
    description: ClassVar[str]
    """One line for ``nhirecon connectors``."""
    can_write: ClassVar[frozenset[str]] = frozenset()
    """The remediations it can perform (``disable``, ``delete``); file exports: none."""
    default_map: ClassVar[Mapping[str, str]] = MappingProxyType(
        {name: name for name in (*CANONICAL_FIELDS, "version")}
    )
    """Canonical field → name in the export, used where ``map`` does not say: by default
    a column named after the canonical field."""

    def __init__(self, *, context: ConnectorContext) -> None:
        self.context = context

    @abstractmethod
    def rows(self) -> Iterator[RawRow]:
        """Yield every raw record; raise :class:`~nhirecon.errors.ConnectorError` on failure."""

    def defaults(self) -> Mapping[str, str]:
        """The default mapping for this pull (some connectors learn it from the data)."""
        return self.default_map

    def columns(self) -> frozenset[str] | None:
        """The names every row has (a CSV header), once known; ``None`` when schema-less."""
        return None

    def default_origin(self, external_id: str | None) -> Origin:
        """The origin of an account whose export has no mapped ``origin`` field."""
        return Origin.UNKNOWN

    def records(self) -> Iterator[Record]:
        """The mapped records, streamed."""
        from nhirecon.connectors.mapping import FieldMapper

        mapper = FieldMapper(self)
        for row in self.rows():
            yield mapper.record(row)
        mapper.finish()

    @classmethod
    def options(cls) -> dict[str, inspect.Parameter]:
        """The connector's own options: its keyword-only constructor arguments."""
        signature = inspect.signature(cls.__init__)
        return {
            name: parameter
            for name, parameter in signature.parameters.items()
            if parameter.kind is inspect.Parameter.KEYWORD_ONLY and name != "context"
        }

    @classmethod
    def check_options(cls, options: Mapping[str, Any]) -> list[tuple[str, str]]:
        """Problems with ``options`` as (option name, message); empty when they fit."""
        known = cls.options()
        hints = typing.get_type_hints(cls.__init__)
        problems = [
            (name, f"unknown option for connector {cls.name!r} (known: {', '.join(known)})")
            for name in options
            if name not in known
        ]
        for name, parameter in known.items():
            if name not in options:
                if parameter.default is inspect.Parameter.empty:
                    problems.append((name, f"required by connector {cls.name!r}"))
                continue
            expected = hints.get(name)
            if expected is not None and not _fits(options[name], expected):
                problems.append((name, f"expected {_describe(expected)}, got {options[name]!r}"))
        return problems


def _fits(value: object, expected: Any) -> bool:
    origin = typing.get_origin(expected)
    if origin in (typing.Union, types.UnionType):
        return any(_fits(value, arm) for arm in typing.get_args(expected))
    if expected is type(None):
        return value is None
    if expected is Any:
        return True
    if origin is typing.Literal:
        return value in typing.get_args(expected)
    base = origin or expected
    if base is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if base is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if base in (list, tuple, Sequence):
        args = typing.get_args(expected)
        return isinstance(value, list) and all(_fits(item, args[0]) for item in value if args)
    if base in (dict, Mapping):
        return isinstance(value, dict)
    return isinstance(value, base) if isinstance(base, type) else True


def _describe(expected: Any) -> str:
    origin = typing.get_origin(expected)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(arm) for arm in typing.get_args(expected))
    if origin is typing.Literal:
        return " | ".join(repr(arg) for arg in typing.get_args(expected))
    if expected is type(None):
        return "nothing"
    base = origin or expected
    return {str: "a string", int: "an integer", float: "a number", bool: "true or false"}.get(
        base, getattr(base, "__name__", str(base))
    )
