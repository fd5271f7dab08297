"""Raw rows → canonical records, by the ``map`` and ``origin_values`` of the config."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, Protocol

from nhirecon.connectors.context import ConnectorContext, RawRow
from nhirecon.core.model import (
    CANONICAL_FIELDS,
    DATE_FIELDS,
    HUMAN,
    MULTI_VALUED_FIELDS,
    Origin,
    Record,
)
from nhirecon.core.values import ValueError_, parse_bool, parse_datetime, text
from nhirecon.errors import ConfigError, DataError

GROUP_SEPARATORS = (";", "|", ",")


def _groups(raw: object) -> tuple[str, ...]:
    if raw is None:
        return ()
    if isinstance(raw, list | tuple):
        items: list[Any] = list(raw)
    else:
        value = str(raw)
        separator = next((sep for sep in GROUP_SEPARATORS if sep in value), None)
        items = value.split(separator) if separator else [value]
    names = []
    for item in items:
        if isinstance(item, dict):
            item = item.get("display") or item.get("value")
        name = text(item)
        if name:
            names.append(name)
    return tuple(sorted(set(names)))


class Several(tuple[str, ...]):
    """Two or more distinct values read for one field, the one to show first."""


def _listed(raw: list[Any] | tuple[Any, ...]) -> tuple[str, ...]:
    """The distinct values of a list, as text: bare values as they are, objects by their
    ``value`` (SCIM ``emails``), mixed freely. The one item flagged ``primary`` comes first
    (it is the value shown to people); the rest keep the order read."""
    flagged: list[str] = []
    values: list[str] = []
    for item in raw:
        primary = False
        if isinstance(item, dict):
            if "value" not in item:
                raise ValueError_("expected values, got an object without `value` in a list")
            primary = item.get("primary") is True
            item = item["value"]
        if isinstance(item, dict | list | tuple):
            shape = "an object" if isinstance(item, dict) else "a list"
            raise ValueError_(f"expected values, got {shape} inside a list")
        value = text(item)
        if value is not None:
            values.append(value)
            if primary:
                flagged.append(value)
    if len(flagged) == 1:
        values.insert(0, flagged[0])
    return tuple(dict.fromkeys(values))


def _single(raw: object) -> str | None:
    """The text of one value; an object, or a list that holds several values, where one
    value belongs is an error (a ``map`` entry that names a nested object rather than a
    field inside it, or a field that cannot hold several values)."""
    if type(raw) is str:
        return raw.strip() or None
    if isinstance(raw, list | tuple):
        values = _listed(raw)
        if len(values) > 1:
            raise ValueError_(f"expected a single value, got a list of {len(values)} values")
        return values[0] if values else None
    if isinstance(raw, dict):
        raise ValueError_("expected a single value, got an object")
    return text(raw)


def _one_or_several(raw: object) -> str | Several | None:
    """The text of a field that may hold several values (see ``MULTI_VALUED_FIELDS``)."""
    if type(raw) is str:
        return raw.strip() or None
    if isinstance(raw, list | tuple):
        values = _listed(raw)
        if len(values) > 1:
            return Several(values)
        return values[0] if values else None
    if isinstance(raw, dict):
        raise ValueError_("expected a single value, got an object")
    return text(raw)


def _kind(raw: object) -> str:
    value = _single(raw)
    return value.casefold() if value else HUMAN


Parser = Callable[[object], object]
PARSERS: dict[str, Parser] = {
    **{name: parse_datetime for name in DATE_FIELDS},
    "active": parse_bool,
    "groups": _groups,
    "kind": _kind,
}


class Mapped(Protocol):
    """What the mapping needs of a connector (:class:`~nhirecon.connectors.base.Connector`
    has it all)."""

    @property
    def context(self) -> ConnectorContext: ...

    def defaults(self) -> Mapping[str, str]: ...

    def columns(self) -> frozenset[str] | None: ...

    def default_origin(self, external_id: str | None) -> Origin: ...


class FieldMapper:
    """Maps the rows of one connector; built once per pull."""

    def __init__(self, connector: Mapped) -> None:
        self.connector = connector
        self._bound = False

    def _bind(self) -> None:
        """Settle the mapping once the first row has been read.

        Default columns the export lacks are dropped; mapped ones it lacks are an error.
        """
        self._bound = True
        context = self.connector.context
        self.origin_values = context.origin_values
        field_map = {**self.connector.defaults(), **context.field_map}
        key = f"{context.key}.map" if context.key else "map"
        origin = field_map.pop("origin", None)
        version = field_map.pop("version", None)
        self.origin_column = None if origin is None else _one_column(origin, f"{key}.origin")
        self.version_column = None if version is None else _one_column(version, f"{key}.version")
        self.fields = [
            (name, _one_column(column, f"{key}.{name}"), PARSERS.get(name, _single))
            for name, column in field_map.items()
            if name in CANONICAL_FIELDS and name not in MULTI_VALUED_FIELDS
        ]
        self.multi = [
            (name, _columns(column))
            for name, column in field_map.items()
            if name in MULTI_VALUED_FIELDS
        ]
        self.custom = [
            (name, _columns(column))
            for name, column in field_map.items()
            if name not in CANONICAL_FIELDS
        ]
        self.explicit = dict(context.field_map)
        columns = self.connector.columns()
        if columns is None:
            return
        path = getattr(self.connector, "path", None)  # a file export: its header is line 1
        where = f"{path}:1" if path is not None else context.name
        prefix = f"{context.key}." if context.key else ""
        missing = sorted(
            f"{column!r} ({prefix}map.{name})"
            for name, named in self.explicit.items()
            for column in _columns(named)
            if column not in columns
        )
        if missing:
            raise DataError(
                f"{where}: column {', '.join(missing)} not in the header"
                f" (columns: {', '.join(sorted(columns))})"
            )
        self.fields = [entry for entry in self.fields if entry[1] in columns]
        if not any(name == "id" for name, _, _ in self.fields):
            raise DataError(
                f"{where}: no `id` column; map `id` to the column that"
                f" holds the stable key (columns: {', '.join(sorted(columns))})"
            )
        self.multi = _present(self.multi, columns)
        self.custom = _present(self.custom, columns)
        if self.origin_column not in columns:
            self.origin_column = None
        if self.version_column not in columns:
            self.version_column = None

    def finish(self) -> None:
        """Check the mapping against the export's columns even when no row came (a file
        with only its header): a wrong ``map`` is an error, not an empty export."""
        if not self._bound:
            self._bind()

    def record(self, row: RawRow) -> Record:
        if not self._bound:
            self._bind()
        lookup = row.lookup
        values: dict[str, Any] = {}
        for name, column, parse in self.fields:
            raw = lookup(column)
            try:
                value = parse(raw)
            except ValueError_ as exc:
                raise DataError(f"{row.location}: {name} (column {column!r}): {exc}") from None
            if value is not None:
                values[name] = value
        record_id = values.get("id")
        if not record_id:
            column = dict((name, col) for name, col, _ in self.fields).get("id", "id")
            raise DataError(f"{row.location}: no value for id (column {column!r})")
        multi: dict[str, tuple[str, ...]] = {}
        for name, columns in self.multi:
            value = _read(row, name, columns)
            if value is not None:
                if type(value) is Several:
                    multi[name] = tuple(value)
                    value = value[0]
                values[name] = value
        if self.custom:
            attributes = {}
            for name, columns in self.custom:
                value = _read(row, name, columns)
                if value is not None:
                    if type(value) is Several:
                        multi[name] = tuple(value)
                        value = value[0]
                    attributes[name] = value
            values["attributes"] = MappingProxyType(attributes)
        if multi:
            values["multi_values"] = MappingProxyType(multi)
        values["origin"] = self._origin(lookup, values.get("external_id"))
        if self.version_column:
            values["version"] = text(lookup(self.version_column))
        return Record(location=row.location, **values)

    def _origin(self, lookup: Callable[[str], object], external_id: str | None) -> Origin:
        if self.origin_column is None:
            return self.connector.default_origin(external_id)
        raw = text(lookup(self.origin_column))
        if raw is None:
            return Origin.UNKNOWN
        word = raw.casefold()
        found = self.origin_values.get(word)
        if found is not None:
            return found
        try:
            return Origin(word)
        except ValueError:
            return Origin.UNKNOWN


def _read(row: RawRow, name: str, columns: tuple[str, ...]) -> str | Several | None:
    """A field that may hold several values, from one column or several: every value of
    every column, the first column's first."""
    if len(columns) == 1:
        try:
            return _one_or_several(row.lookup(columns[0]))
        except ValueError_ as exc:
            raise DataError(f"{row.location}: {name} (column {columns[0]!r}): {exc}") from None
    found: list[str] = []
    for column in columns:
        try:
            value = _one_or_several(row.lookup(column))
        except ValueError_ as exc:
            raise DataError(f"{row.location}: {name} (column {column!r}): {exc}") from None
        if isinstance(value, Several):
            found.extend(value)
        elif value is not None:
            found.append(value)
    distinct = tuple(dict.fromkeys(found))
    if len(distinct) > 1:
        return Several(distinct)
    return distinct[0] if distinct else None


def _columns(named: str | tuple[str, ...]) -> tuple[str, ...]:
    return (named,) if isinstance(named, str) else tuple(named)


def _one_column(named: str | tuple[str, ...], key: str) -> str:
    """The one column of a field that holds one value (the config checks it too)."""
    if isinstance(named, str):
        return named
    raise ConfigError("names several columns, but the field holds one value", key=key)


def _present(
    entries: list[tuple[str, tuple[str, ...]]], columns: frozenset[str]
) -> list[tuple[str, tuple[str, ...]]]:
    """Entries whose columns the export has (a default column may be absent)."""
    kept = []
    for name, named in entries:
        found = tuple(column for column in named if column in columns)
        if found:
            kept.append((name, found))
    return kept
