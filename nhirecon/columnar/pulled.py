"""The kept rows of one export, as the audit reads them: mapped into records by the
connector's own mapping a batch at a time, with the links the engine made of a target's.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Final

from nhirecon.columnar.export import Export
from nhirecon.columnar.quiet import Quiet
from nhirecon.connectors.by_column import Batch, CellMapper
from nhirecon.connectors.coverage import Coverage
from nhirecon.core.correlate import UNMATCHED, Correlator, Link
from nhirecon.core.model import Record

BATCH_ROWS: Final = 4096
"""Kept rows handed to the mapping at a time (see :mod:`nhirecon.connectors.by_column`)."""


class Pulled:
    """One input, triaged: iterate it for the records of its kept rows, mapped by the
    connector's mapping as they are read (a target's when the audit reaches it, as the
    usual reading does, and with the warnings of its header first); then :attr:`coverage`
    is that of all its rows. For a target, :attr:`quiet` counts its quiet accounts."""

    def __init__(
        self,
        export: Export,
        rows: list[tuple[int, str | None, list[str] | None]],
        mapper: CellMapper,
        said: list[logging.LogRecord],
        quiet_rows: Coverage,
        quiet: Quiet,
        total: int,
        links: dict[int, tuple[int | None, int | None]] | None = None,
    ) -> None:
        self._export = export
        self._rows = rows
        """(line number, the line of a row split here, the cells of a quoted one)."""
        self._mapper = mapper
        self._said = said
        self._quiet_rows = quiet_rows
        self.quiet = quiet
        self.total = total
        """Rows read (records, since ids are distinct)."""
        self._links = links
        """A target's: per kept row, its link as the engine's joins made it: the row of
        the one identity found, and the index of the rule that decided (an ambiguous
        account has a rule and no identity, an unmatched one neither)."""

    def __iter__(self) -> Iterator[Record]:
        for record in self._said:
            logging.getLogger(record.name).handle(record)
        rows, self._rows = self._rows, []
        yield from self._mapper.map_cells(self._export.names, batches(self._export, rows))

    def linker(
        self, correlator: Correlator, identities: Mapping[int, Record]
    ) -> Callable[[Record], Link]:
        """For a target: the link of each of its records, taken from the engine's joins
        rather than looked up again; ``identities`` are the source's records by row
        (:func:`by_row`). The link is the one ``correlator`` makes (a differential test
        holds the two to it): it finds the same identity by the same rule over the kept
        identities, since every identity a kept account can find is kept. An ambiguous
        account is linked by ``correlator``, which lists the candidates."""
        links = self._links
        if links is None:
            return correlator.link

        def link(account: Record) -> Link:
            identity, rule = links[row_of(account)]
            if identity is not None and rule is not None:
                return correlator.decided(account, rule, identities[identity])
            if rule is None and not account.multi_values:
                return UNMATCHED
            return correlator.link(account)

        return link

    @property
    def coverage(self) -> Coverage:
        mapped = self._mapper.coverage
        assert mapped is not None, "the records are read first"
        return mapped + self._quiet_rows


def row_of(record: Record) -> int:
    """The line number of the row a kept row's record was read from (its location is the
    export's path, a colon, and that number)."""
    return int(record.location.rpartition(":")[2])


def by_row(records: Iterable[Record]) -> dict[int, Record]:
    """Records of kept rows by the line number of their row (:func:`row_of`)."""
    return {row_of(record): record for record in records}


def batches(
    export: Export, rows: list[tuple[int, str | None, list[str] | None]]
) -> Iterator[Batch]:
    """The kept rows, split into cells, in batches of :data:`BATCH_ROWS` for the mapping;
    each batch is let go of as it is given (``rows`` is emptied): ten million rows hold
    millions of lines, and the records made of them need the memory."""
    prefix, delimiter = f"{export.path}:", export.delimiter
    rows.reverse()
    while rows:
        batch = rows[-BATCH_ROWS:]
        del rows[-BATCH_ROWS:]
        batch.reverse()
        yield (
            [f"{prefix}{n}" for n, _, _ in batch],
            [cells_of(line, cells, delimiter) for _, line, cells in batch],
        )


def cells_of(line: str | None, cells: list[str] | None, delimiter: str) -> list[str]:
    """A row's cells: its line split here, or the cells the csv module split."""
    if line is not None:
        return line.split(delimiter)
    assert cells is not None
    return cells
