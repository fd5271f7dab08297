"""The connector contract: one abstract base that every connector implements.

A connector reads raw rows from one place (a file, an API) and the shared field mapping
turns them into :class:`~nhirecon.core.model.Record` objects. A connector's options in the
YAML config are the keyword-only arguments of its constructor, after ``context``.
"""

from __future__ import annotations

import importlib.util
import inspect
import types
import typing
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from types import MappingProxyType
from typing import Any, ClassVar, Final

from nhirecon.connectors.context import ConnectorContext, Lookup, RawRow
from nhirecon.connectors.coverage import Coverage
from nhirecon.connectors.mapping import FieldMapper
from nhirecon.core.model import CANONICAL_FIELDS, Origin, Record

__all__ = ["Connector", "ConnectorContext", "Lookup", "RawRow"]
"""The plugin API: a third-party connector subclasses :class:`Connector`."""


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

    requires: ClassVar[tuple[tuple[str, str, str], ...]] = ()
    """Optional libraries it cannot work without: (module, library, the extra that installs
    it), e.g. ``("boto3", "boto3", "aws")``."""

    def __init__(self, *, context: ConnectorContext) -> None:
        self.context = context

    @classmethod
    def missing(cls) -> str:
        """Why it cannot work on this installation (a library of :attr:`requires` is not
        installed), or an empty string."""
        for module, library, extra in cls.requires:
            try:
                found = importlib.util.find_spec(module) is not None
            except ImportError:  # its parent package is missing
                found = False
            if not found:
                return (
                    f"the {cls.name} connector needs {library}, which is not installed:"
                    f" pip install 'nhirecon[{extra}]'"
                )
        return ""

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
        """The mapped records, streamed (held until the end with ``repeated_rows: merge``).
        Once they have all been read, :attr:`coverage` says what the input provided."""
        self._mapper = FieldMapper(self)
        yield from self._mapper.map(self.rows())

    @property
    def coverage(self) -> Coverage | None:
        """What the last pull provided, per field (SPEC §3.2); ``None`` until a pull of
        :meth:`records` has read every row."""
        mapper = getattr(self, "_mapper", None)
        return None if mapper is None else mapper.coverage

    @classmethod
    def writes(cls, options: Mapping[str, Any]) -> frozenset[str]:
        """The remediations it can perform with these options: :attr:`can_write`, unless
        an option narrows it (``aws-iam`` writes access keys, never users)."""
        return cls.can_write

    @classmethod
    def locate(cls, options: Mapping[str, Any], context: ConnectorContext) -> str | None:
        """Where it reads and writes, as a plan records it (``apply`` refuses a plan made
        for another place): the ``url`` option; ``None`` for a file export. A live
        connector without a ``url`` says what it reaches (``aws-iam``: the account)."""
        url = options.get("url")
        return url.rstrip("/") if isinstance(url, str) else None

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
    if base is float:  # no timeout, size or wait is meant by NaN, infinity or 1e300
        return (
            isinstance(value, int | float)
            and not isinstance(value, bool)
            and abs(value) <= MAX_NUMBER  # false for NaN; an int of any size compares
        )
    if base is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if base in (list, tuple, Sequence):
        args = typing.get_args(expected)
        return isinstance(value, list) and all(_fits(item, args[0]) for item in value if args)
    if base in (dict, Mapping):
        return isinstance(value, dict)
    return isinstance(value, base) if isinstance(base, type) else True


MAX_NUMBER: Final = 1e9
"""The largest number a float option takes: a timeout, a size in MiB or a wait of more
than a billion is a slip, and overflows what the clock or a size can hold."""


def _describe(expected: Any) -> str:
    origin = typing.get_origin(expected)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(arm) for arm in typing.get_args(expected))
    if origin is typing.Literal:
        return " | ".join(repr(arg) for arg in typing.get_args(expected))
    if expected is type(None):
        return "nothing"
    base = origin or expected
    return {
        str: "a string",
        int: "an integer",
        float: "a number of at most 1e9",
        bool: "true or false",
    }.get(base, getattr(base, "__name__", str(base)))
