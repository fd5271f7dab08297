"""Rows given as cells (a CSV export's, in the header's order), mapped a column at a time.

:class:`CellMapper` is the mapping of :mod:`nhirecon.connectors.mapping`, with one more way
in: :meth:`CellMapper.map_cells` takes rows in batches and runs each field's reader over a
column of the batch at once, then makes the batch's records a field at a time
(:func:`records_by_column`), with no dict of values and no look-up per cell. The readers
are the mapping's own, so each value is read the same; the records, the coverage and every
error are those :meth:`FieldMapper.map` gives for the same rows. A batch in which a reader
raises anything, or a row has no id, is read row by row instead, so that the first faulty
row fails first, as in the usual reading. A mapping with ``where`` filters, several
columns for one field or merged rows reads every row so. Cells are text, and a text cell
holds one value (a list could hold several, which the columns do not sort out).
"""

from __future__ import annotations

import collections
import dataclasses
import itertools
import operator
from collections.abc import Callable, Iterable, Iterator, Sequence
from types import MappingProxyType
from typing import Any, Final

from nhirecon.connectors import parsers
from nhirecon.connectors.context import RawRow
from nhirecon.connectors.mapping import FieldMapper
from nhirecon.connectors.merging import ATTRIBUTES
from nhirecon.core.model import Origin, Record

Batch = tuple[Sequence[str], Sequence[Sequence[str]]]
"""Rows of one export: where each was read (``hr.csv:12``), and its cells in the header's
order."""

RECORD_FIELDS: Final = tuple(each.name for each in dataclasses.fields(Record))
"""A record's fields, in the order its constructor takes them."""
_SETTERS: Final = tuple(getattr(Record, name).__set__ for name in RECORD_FIELDS)
"""Each field's slot, set directly (as the constructor does, past ``frozen``)."""


def records_by_column(
    columns: Sequence[Sequence[Any] | itertools.repeat[Any]], count: int
) -> list[Record]:
    """``count`` records made a field at a time: ``columns`` holds one column per field,
    in :data:`RECORD_FIELDS` order, each a sequence of ``count`` values or one value
    repeated (:class:`itertools.repeat`). The records equal ``list(map(Record,
    *columns))``, made in less than half the time: each column is set on every record in
    one loop that runs in C, where the constructor makes a call in Python per field of
    each record.

    Raises :class:`ValueError` unless there is one column per field, each of ``count``
    values or repeated."""
    if len(columns) != len(_SETTERS):
        raise ValueError(f"{len(columns)} columns for {len(_SETTERS)} fields")
    for name, column in zip(RECORD_FIELDS, columns, strict=True):
        if not isinstance(column, itertools.repeat) and len(column) != count:
            raise ValueError(f"{len(column)} values of {name} for {count} records")
    made = list(map(object.__new__, itertools.repeat(Record, count)))
    for setter, column in zip(_SETTERS, columns, strict=True):
        collections.deque(map(setter, made, column), maxlen=0)
    return made


_DEFAULTS: Final = {
    field.name: field.default
    if field.default is not dataclasses.MISSING
    else field.default_factory()  # type: ignore[operator]
    for field in dataclasses.fields(Record)
    if field.default is not dataclasses.MISSING or field.default_factory is not dataclasses.MISSING
}
"""What a record holds in a field that no value was read for (the factories of
:class:`Record` give shared, immutable defaults, made here once)."""


_ID: Final = operator.attrgetter("id")
_LOCATION: Final = operator.attrgetter("location")


class _Refused(Exception):
    """A batch that must be read row by row."""


class CellMapper(FieldMapper):
    """A :class:`FieldMapper` that also maps rows given as cells, a column at a time."""

    def map_cells(self, names: Sequence[str], batches: Iterable[Batch]) -> Iterator[Record]:
        """The records of the rows in ``batches`` (cells in the order of ``names``, the
        header), streamed batch by batch: those :meth:`map` gives for the same rows, and
        the same :attr:`coverage` once the last has been read.

        Raises :class:`~nhirecon.errors.DataError` as :meth:`map` does, naming the first
        faulty row."""
        self._bind()
        merges = self.connector.context.value_options.repeated_rows == "merge"
        joined = any(len(named) != 1 for _, named in [*self.multi, *self.custom])
        if self.filters or self.latest or self._unseen or merges or joined:
            yield from self.map(
                row for locations, rows in batches for row in _raw(names, locations, rows)
            )
            return
        columns = self._columns(names)
        seen: dict[str, str] = {}
        for locations, rows in batches:
            records: Iterable[Record]
            try:
                records = self._by_column(names, columns, locations, rows)
            except _Refused:
                records = self._by_row(names, locations, rows)
            if isinstance(records, list):  # ids new and distinct: all noted at once, in C
                ids = dict(zip(map(_ID, records), map(_LOCATION, records), strict=True))
                if len(ids) == len(records) and seen.keys().isdisjoint(ids):
                    seen.update(ids)
                    yield from records
                    continue
            for record in records:  # read row by row, the first faulty row fails first
                self._first(seen, record.id, record.location)
                yield record
        self.finish()
        self.coverage = self._coverage(len(seen))

    def _columns(self, names: Sequence[str]) -> dict[str, tuple[int, Callable[[Any], Any]]]:
        """Each mapped field: the position of its column, and its reader."""
        position = {name: index for index, name in enumerate(names)}
        nulls = self.nulls

        def several(raw: Any) -> Any:
            return parsers.several_without_nulls(parsers.one_or_several(raw), nulls)

        settled = {name: (position[column], read) for name, column, read in self.fields}
        for name, named in [*self.multi, *self.custom]:
            (column,) = named  # one column each, or the mapping has merges
            settled[name] = (position[column], several)
        return settled

    def _by_column(
        self,
        names: Sequence[str],
        columns: dict[str, tuple[int, Callable[[Any], Any]]],
        locations: Sequence[str],
        rows: Sequence[Sequence[str]],
    ) -> list[Record]:
        """The batch's records, each field read over its whole column; raises
        :class:`_Refused` when a row needs reading alone."""
        if not rows:
            return []
        cells = list(zip(*rows, strict=True))
        if len(cells) != len(names):  # the reading row by row raises ValueError on it
            raise _Refused  # (an export loaded in the engine has no such row)
        read: dict[str, list[Any]] = {}
        for name, (index, reader) in columns.items():
            try:
                read[name] = list(map(reader, cells[index]))
            except Exception:  # a refused value, or a reader's fault: whichever the reading
                raise _Refused from None  # row by row meets first is what the run says
        if None in read["id"]:
            raise _Refused
        counts = self._counts
        for name, values in read.items():
            counts[name] += len(values) - values.count(None)
        custom = [name for name, _ in self.custom]
        if custom:
            read[ATTRIBUTES] = [
                MappingProxyType(
                    {
                        name: value
                        for name, value in zip(custom, values, strict=True)
                        if value is not None
                    }
                )
                for values in zip(*(read.pop(name) for name in custom), strict=True)
            ]
        if not self.origin_mapped:
            external = read.get("external_id") or [None] * len(rows)
            origins = list(map(self.connector.default_origin, external))
            counts["origin"] += len(origins) - origins.count(Origin.UNKNOWN)
            read["origin"] = origins
        read["location"] = list(locations)
        self._tally[0] += len(rows)
        arguments: list[Sequence[Any] | itertools.repeat[Any]] = []
        for name in RECORD_FIELDS:
            column = read.get(name)
            default = _DEFAULTS.get(name)
            if column is None:
                arguments.append(itertools.repeat(default))
            elif default is not None:
                arguments.append([default if value is None else value for value in column])
            else:
                arguments.append(column)
        return records_by_column(arguments, len(rows))

    def _by_row(
        self, names: Sequence[str], locations: Sequence[str], rows: Sequence[Sequence[str]]
    ) -> Iterator[Record]:
        """The batch's records as :meth:`map` reads them, row by row."""
        values_of, record = self._read_row, self._make
        for row in _raw(names, locations, rows):
            values = values_of(row)
            if values is not None:
                yield record(values, row.location)


def _raw(
    names: Sequence[str], locations: Sequence[str], rows: Sequence[Sequence[str]]
) -> Iterator[RawRow]:
    """Rows as a CSV export's are given to :meth:`FieldMapper.map`."""
    for location, cells in zip(locations, rows, strict=True):
        yield RawRow(location, dict(zip(names, cells, strict=True)).get)
