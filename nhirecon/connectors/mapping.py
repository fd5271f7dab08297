"""Raw rows → canonical records, by the ``map`` and ``origin_values`` of the config."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, Protocol

from nhirecon.connectors.context import ConnectorContext, RawRow
from nhirecon.core.model import CANONICAL_FIELDS, DATE_FIELDS, HUMAN, Origin, Record
from nhirecon.core.values import ValueError_, parse_bool, parse_datetime, text
from nhirecon.errors import DataError

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


def _single(raw: object) -> str | None:
    """The text of one value; an object or a list where one value belongs is an error
    (a ``map`` entry that names a nested object rather than a field inside it)."""
    if type(raw) is str:
        return raw.strip() or None
    if isinstance(raw, dict | list):
        shape = "an object" if isinstance(raw, dict) else "a list"
        raise ValueError_(f"expected a single value, got {shape}")
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
        self.origin_column = field_map.pop("origin", None)
        self.version_column = field_map.pop("version", None)
        self.fields = [
            (name, column, PARSERS.get(name, _single))
            for name, column in field_map.items()
            if name in CANONICAL_FIELDS
        ]
        self.custom = [
            (name, column) for name, column in field_map.items() if name not in CANONICAL_FIELDS
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
            for name, column in self.explicit.items()
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
        self.custom = [entry for entry in self.custom if entry[1] in columns]
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
        if self.custom:
            attributes = {}
            for name, column in self.custom:
                try:
                    value = _single(lookup(column))
                except ValueError_ as exc:
                    raise DataError(f"{row.location}: {name} (column {column!r}): {exc}") from None
                if value is not None:
                    attributes[name] = value
            values["attributes"] = MappingProxyType(attributes)
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
