"""CSV exports: one row per record, a header naming the columns."""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterator
from pathlib import Path

from nhirecon.connectors.base import Connector, ConnectorContext, RawRow
from nhirecon.connectors.files import DEFAULT_ENCODING, decode_error, open_text, without_nul
from nhirecon.errors import DataError

MAX_FIELD_BYTES = 1 << 20
"""The largest single cell accepted (1 MiB); a larger one is a malformed export."""


class CsvConnector(Connector):
    name = "csv"
    description = "A CSV export with a header row (UTF-8 with or without BOM by default)."

    def __init__(
        self,
        *,
        context: ConnectorContext,
        path: str,
        delimiter: str = ",",
        encoding: str = DEFAULT_ENCODING,
    ) -> None:
        super().__init__(context=context)
        self.path: Path = context.resolve(path)
        self.delimiter = delimiter
        self.encoding = encoding
        self._columns: frozenset[str] | None = None

    def columns(self) -> frozenset[str] | None:
        return self._columns

    def rows(self) -> Iterator[RawRow]:
        csv.field_size_limit(min(MAX_FIELD_BYTES, sys.maxsize))
        path = self.path
        with open_text(path, self.encoding) as handle:
            reader = csv.reader(without_nul(path, handle), delimiter=self.delimiter, strict=True)
            line = 1
            try:
                header = next(reader, None)
                if header is None:
                    raise DataError(f"{path}: empty file (no header row)")
                names = [name.strip() for name in header]
                if names:  # a byte-order mark that an explicit `encoding` left in place
                    names[0] = names[0].lstrip("\ufeff").strip()
                self._check_header(names)
                self._columns = frozenset(names)
                width = len(names)
                line = reader.line_num + 1
                for cells in reader:
                    if not cells or (len(cells) == 1 and not cells[0].strip()):
                        line = reader.line_num + 1
                        continue
                    if len(cells) != width:
                        raise DataError(
                            f"{path}:{line}: {len(cells)} fields where the header has {width}"
                        )
                    yield RawRow(f"{path}:{line}", dict(zip(names, cells, strict=True)).get)
                    line = reader.line_num + 1
            except UnicodeDecodeError as exc:
                raise decode_error(path, exc, self.encoding) from None
            except csv.Error as exc:
                raise DataError(f"{path}:{line}: malformed CSV: {exc}") from None

    def _check_header(self, names: list[str]) -> None:
        if not names:
            raise DataError(f"{self.path}:1: the header row is empty")
        seen: set[str] = set()
        for name in names:
            if not name:
                raise DataError(f"{self.path}:1: empty column name in the header")
            if name in seen:
                raise DataError(f"{self.path}:1: column {name!r} appears twice in the header")
            seen.add(name)
