"""Raw rows → canonical records, by the ``map`` and the value options of the config.

The mapping is settled once per input, when the first row has been read (a CSV header
is known then, and a JSON export has shown whether it is a SCIM ``ListResponse``): every
field gets its reader (see :mod:`nhirecon.connectors.parsers`) and every name the config
points at is checked against the data (SPEC §3.2).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from itertools import chain
from types import MappingProxyType
from typing import Any, Final, Protocol

from nhirecon.connectors import parsers
from nhirecon.connectors.context import ConnectorContext, Lookup, RawRow
from nhirecon.connectors.coverage import Coverage
from nhirecon.connectors.files import delimiter_hint
from nhirecon.connectors.merging import ATTRIBUTES, MULTI, Merged, Values
from nhirecon.connectors.parsers import Reader, Several
from nhirecon.connectors.readers import Readers, latest, matches, read_several
from nhirecon.core.model import CANONICAL_FIELDS, DATE_FIELDS, MULTI_VALUED_FIELDS, Origin, Record
from nhirecon.core.values import ValueError_
from nhirecon.errors import ConfigError, DataError

log = logging.getLogger(__name__)

DECISION_FIELDS: Final = frozenset(
    {
        "id",
        "status",
        "active",
        "kind",
        "owner",
        "origin",
        "expires_at",
        "last_login_at",
        "credential_rotated_at",
        "last_interactive_login_at",
        "password_enabled",
        "credential_id",
    }
)
"""Fields that drive a decision on every input (SPEC §3.2); so do the fields the targets
correlate on and compare. A mapped name that no record has is an error for them and a
warning for the others."""
SHAPES: Final = 1024
"""How many distinct shapes of record are held before they are added up."""
SINGLE: Final = frozenset({*CANONICAL_FIELDS, "version"}) - MULTI_VALUED_FIELDS
"""Fields (and the ``version`` tag) that hold one value."""


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
        self.coverage: Coverage | None = None
        """Set once every row has been read."""
        self._bound = False
        self._tally = [0, 0]
        """Rows read, rows left out by ``where`` / ``where_not``."""
        self._counts: dict[str, int] = {}
        self._shapes: dict[tuple[str, ...], int] = {}
        """How many records had values for exactly these fields (counted by shape, which
        costs one look-up per record; few shapes recur)."""
        self._unseen: dict[str, list[tuple[str, bool, str]]] = {}
        """Names a schema-less export must show in some row: name → (where the config
        names it, whether it drives a decision, the field it feeds)."""

    def map(self, rows: Iterable[RawRow]) -> Iterator[Record]:
        """The records of ``rows``, streamed (held until the end when rows sharing an id
        are merged); the name checks that need every row are made after the last."""
        merged = Merged() if self.connector.context.value_options.repeated_rows == "merge" else None
        seen: dict[str, str] = {}
        remaining = iter(rows)
        first = next(remaining, None)  # read before binding: a CSV header is known then
        self._bind()
        values_of, record = self._read_row, self._make
        for row in () if first is None else chain((first,), remaining):
            values = values_of(row)
            if values is None:
                continue
            location = row.location
            if merged is not None:
                merged.add(values, location)
                continue
            self._first(seen, values["id"], location)
            yield record(values, location)
        self.finish()
        if merged is not None:
            for values, location in merged:
                yield self._make(values, location)
        self.coverage = self._coverage(len(merged) if merged is not None else len(seen))

    def one(self, row: RawRow) -> Record | None:
        """One row on its own (an account read again before a write), mapped as in a pull;
        ``None`` when ``where`` leaves it out. Raises :class:`DataError` as :meth:`map` does."""
        self._bind()
        values = self._read_row(row)
        return None if values is None else self._make(values, row.location)

    def _first(self, seen: dict[str, str], id_: str, location: str) -> None:
        """Note where the record of ``id_`` was read; raises :class:`DataError` when one
        was read already (by id alone: rows of one page may share a location)."""
        earlier = seen.get(id_)
        if earlier is None:
            seen[id_] = location
        else:
            raise DataError(
                f"{location}: {self._role} id {id_!r} already read at {earlier}"
                " (rows that share an id are one record only with `repeated_rows: merge`)"
            )

    def bind(self) -> None:
        """Settle the mapping now: the connector must know its columns already, if it has
        any (the columnar engine reads a CSV header itself)."""
        self._bind()

    def _bind(self) -> None:
        """Settle the mapping once the first row has been read."""
        if self._bound:
            return
        self._bound = True
        context = self.connector.context
        options = context.value_options
        self._role = "account" if context.key.startswith("targets") else "identity"
        field_map = {name: _columns(named) for name, named in self.connector.defaults().items()}
        field_map.update((name, _columns(named)) for name, named in context.field_map.items())
        explicit = {name: _columns(named) for name, named in context.field_map.items()}
        key = f"{context.key}." if context.key else ""
        readers = Readers(context)
        self.fields: list[tuple[str, str, Reader]] = []
        self.latest: list[tuple[str, tuple[str, ...], Reader]] = []
        self.multi: list[tuple[str, tuple[str, ...]]] = []
        self.custom: list[tuple[str, tuple[str, ...]]] = []
        self.filters = [
            (f"{key}{option}.{name}", field_map.get(name, (name,)), wanted, keep)
            for option, keep, rules in (
                ("where", True, options.where),
                ("where_not", False, options.where_not),
            )
            for name, wanted in rules.items()
        ]
        columns = self.connector.columns()
        if columns is not None:
            field_map = self._check_header(field_map, explicit, columns, key)
        self.origin_mapped = "origin" in field_map
        for name, named in field_map.items():
            if name in SINGLE:
                if len(named) > 1 and name not in DATE_FIELDS:
                    raise ConfigError(
                        "names several columns, but the field holds one value",
                        key=f"{key}map.{name}",
                    )
                if len(named) == 1:
                    self.fields.append((name, named[0], readers.of(name)))
                else:
                    self.latest.append((name, named, readers.of(name)))
            elif name in MULTI_VALUED_FIELDS:
                self.multi.append((name, named))
            else:
                self.custom.append((name, named))
        self.nulls = context.value_options.null_values
        self._counts = dict.fromkeys((*field_map, "origin", MULTI, ATTRIBUTES), 0)
        self._provided = set(field_map) if columns is not None else set()
        if columns is None:
            decisive = self._decisive()
            for name, named in explicit.items():
                for column in named:
                    entry = (f"{key}map.{name}", bool(decisive(name)), name)
                    self._unseen.setdefault(column, []).append(entry)
            for label, named, _, _ in self.filters:
                for column in named:
                    self._unseen.setdefault(column, []).append((label, True, ""))
        self._read_row = self._reader()
        self._make = self._maker()

    def _decisive(self) -> Callable[[str], bool]:
        """Whether a field drives a decision on this input (SPEC §3.2)."""
        context = self.connector.context
        if context.correlated is None:
            return lambda name: True
        chosen = DECISION_FIELDS | context.correlated | context.compared
        return chosen.__contains__

    def _check_header(
        self,
        field_map: dict[str, tuple[str, ...]],
        explicit: dict[str, tuple[str, ...]],
        columns: frozenset[str],
        key: str,
    ) -> dict[str, tuple[str, ...]]:
        """The mapping narrowed to the columns the header has: a default column may be
        absent; a mapped one that drives a decision, or one a filter reads, may not."""
        path = getattr(self.connector, "path", None)  # a file export: its header is line 1
        where = f"{path}:1" if path is not None else self.connector.context.name
        decisive = self._decisive()
        wanted = [
            (column, f"{key}map.{name}", decisive(name))
            for name, named in explicit.items()
            for column in named
        ]
        wanted += [(column, label, True) for label, named, _, _ in self.filters for column in named]
        missing = [
            (column, label, needed) for column, label, needed in wanted if column not in columns
        ]
        listing = f"(columns: {', '.join(sorted(columns))})"
        errors = sorted(f"{column!r} ({label})" for column, label, needed in missing if needed)
        if errors:
            raise DataError(
                f"{where}: column {', '.join(errors)} not in the header {listing}"
                + delimiter_hint(columns)
            )
        for column, label, _ in missing:
            log.warning(
                "%s: column %r (%s) not in the header; the field stays empty %s",
                where,
                column,
                label,
                listing,
            )
        narrowed = {
            name: found
            for name, named in field_map.items()
            if (found := tuple(column for column in named if column in columns))
        }
        if "id" not in narrowed:
            raise DataError(
                f"{where}: no `id` column; map `id` to the column that"
                f" holds the stable key {listing}"
            )
        return narrowed

    def finish(self) -> None:
        """Check the mapping against the data once every row has been read: a CSV header
        even when no row came (a wrong ``map`` is an error, not an empty export); a path
        that no record of a schema-less export has."""
        if not self._bound:
            self._bind()
        if not self._unseen or not self._tally[0]:
            return
        path = getattr(self.connector, "path", None)
        where = str(path) if path is not None else self.connector.context.name
        errors = []
        for column, uses in sorted(self._unseen.items()):
            for label, needed, _ in uses:
                if needed:
                    errors.append(f"{column!r} ({label})")
                else:
                    log.warning(
                        "%s: %r (%s) is in none of the %d records; the field stays empty",
                        where,
                        column,
                        label,
                        self._tally[0],
                    )
        if errors:
            raise DataError(
                f"{where}: {', '.join(errors)} in none of the {self._tally[0]} records"
                " (a misspelt path, or an export without that field?)"
            )

    def _reader(self) -> Callable[[RawRow], Values | None]:
        """The fields of a row, read by what binding settled (held in locals: this runs
        once per row)."""
        fields, several, custom, nulls = self.fields, self.latest, self.custom, self.nulls
        filters, unseen, look = self.filters, self._unseen, self._look
        # The fields that may hold several values, then the custom attributes (which may).
        listed = [(name, columns, False) for name, columns in self.multi]
        listed += [(name, columns, True) for name, columns in custom]
        kept, counter = self._kept, self._tally

        def values(row: RawRow) -> Values | None:
            counter[0] += 1
            lookup = row.lookup
            if unseen:
                look(row)
            if filters and not kept(lookup):
                counter[1] += 1
                return None
            values: Values = {}
            for name, column, read in fields:
                raw = lookup(column)
                try:
                    value = read(raw)
                except ValueError_ as exc:
                    raise DataError(f"{row.location}: {name} (column {column!r}): {exc}") from None
                if value is not None:
                    values[name] = value
            for name, columns, read in several:
                value = latest(row, name, columns, read)
                if value is not None:
                    values[name] = value
            if "id" not in values:
                column = next((col for name, col, _ in fields if name == "id"), "id")
                raise DataError(f"{row.location}: no value for id (column {column!r})")
            multi: dict[str, tuple[str, ...]] | None = None
            attributes: dict[str, Any] = {}
            for name, columns, is_custom in listed:
                value = read_several(row, name, columns)
                if nulls:
                    value = parsers.several_without_nulls(value, nulls)
                if value is None:
                    continue
                if type(value) is Several:  # the first for people, all for the rules
                    multi = {} if multi is None else multi
                    multi[name] = tuple(value)
                    value = value[0]
                if is_custom:
                    attributes[name] = value
                else:
                    values[name] = value
            if custom:
                values[ATTRIBUTES] = attributes
            if multi:
                values[MULTI] = multi
            return values

        return values

    def _maker(self) -> Callable[[Values, str], Record]:
        """Builds a record from its values and counts them (once per record)."""
        default_origin = None if self.origin_mapped else self.connector.default_origin
        shapes, tally = self._shapes, self._count_shapes
        unknown = Origin.UNKNOWN

        def make(values: Values, location: str) -> Record:
            if default_origin is not None:
                origin = default_origin(values.get("external_id"))
                if origin is not unknown:
                    values["origin"] = origin
            shape = tuple(values)
            attributes = values.get(ATTRIBUTES)
            if attributes is not None:
                shape += tuple(attributes)
                values[ATTRIBUTES] = MappingProxyType(attributes)
            count = shapes.get(shape)
            if count is None:
                if len(shapes) >= SHAPES:
                    tally()
                shapes[shape] = 1
            else:
                shapes[shape] = count + 1
            several = values.get(MULTI)
            if several is not None:
                values[MULTI] = MappingProxyType(several)
            return Record(location=location, **values)

        return make

    def _count_shapes(self) -> None:
        counts = self._counts
        for shape, times in self._shapes.items():
            for name in shape:
                counts[name] += times
        self._shapes.clear()

    def _coverage(self, records: int) -> Coverage:
        self._count_shapes()
        counts = {
            name: count for name, count in self._counts.items() if name not in (MULTI, ATTRIBUTES)
        }
        provided = self._provided | {name for name, count in counts.items() if count}
        return Coverage(
            self._tally[0], self._tally[1], records, frozenset(provided), MappingProxyType(counts)
        )

    def _look(self, row: RawRow) -> None:
        """Note the mapped names this row of a schema-less export holds."""
        has = row.has
        for column in list(self._unseen):
            if row.lookup(column) is not None or (has is not None and has(column)):
                self._provided.update(name for _, _, name in self._unseen.pop(column) if name)

    def _kept(self, lookup: Lookup) -> bool:
        for _, columns, wanted, keep in self.filters:
            if matches(lookup, columns, wanted) is not keep:
                return False
        return True


def _columns(named: str | tuple[str, ...]) -> tuple[str, ...]:
    return (named,) if isinstance(named, str) else tuple(named)
