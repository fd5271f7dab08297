"""CSV exports: one row per record, a header naming the columns.

Before the header, two preamble lines that Windows tools write are understood: PowerShell's
``#TYPE ...`` (``Export-Csv`` without ``-NoTypeInformation``), skipped, and Excel's
``sep=;``, which says the delimiter and is skipped. A ``sep=`` line is obeyed when the
``delimiter`` option is left at ``auto``; one that contradicts an explicit ``delimiter``
is an error.
"""

from __future__ import annotations

import csv
import itertools
import re
import sys
from collections.abc import Iterator
from pathlib import Path

from nhirecon.connectors import files
from nhirecon.connectors.base import Connector, ConnectorContext, RawRow
from nhirecon.errors import ConfigError, DataError

MAX_FIELD_BYTES = 1 << 20
"""The largest single cell accepted (1 MiB); a larger one is a malformed export."""
DEFAULT_DELIMITER = ","
"""The delimiter of ``delimiter: auto`` when the file has no ``sep=`` line."""
_SEP_LINE = re.compile(r'"?sep=([^"\r\n])"?[\r\n]*', re.IGNORECASE)
"""Excel's first-line hint, ``sep=;`` (sometimes quoted)."""
_TYPE_LINE = re.compile(r"#TYPE(?:[ \t][^\r\n]*)?[\r\n]*")
"""PowerShell's ``#TYPE Selected.Microsoft.ActiveDirectory.Management.ADUser``."""
_NOT_DELIMITERS = frozenset('"\r\n')


class CsvConnector(Connector):
    name = "csv"
    description = (
        "A CSV export with a header row (encoding from its byte-order mark, else UTF-8;"
        " Excel's sep= and PowerShell's #TYPE lines understood)."
    )

    def __init__(
        self,
        *,
        context: ConnectorContext,
        path: str,
        delimiter: str = files.AUTO,
        encoding: str = files.DEFAULT_ENCODING,
    ) -> None:
        super().__init__(context=context)
        self.path: Path = context.resolve(path)
        self.delimiter = _check_delimiter(delimiter, files.option_key(context, "delimiter"))
        self.encoding = files.check_encoding(encoding, files.option_key(context, "encoding"))
        self._columns: frozenset[str] | None = None

    def columns(self) -> frozenset[str] | None:
        return self._columns

    def rows(self) -> Iterator[RawRow]:
        csv.field_size_limit(min(MAX_FIELD_BYTES, sys.maxsize))
        path = self.path
        with files.reading(path, self.encoding, refuse_nul=True) as handle:
            lines = files.nul_free(path, handle)
            first, delimiter, skipped = self._preamble(lines)
            if first is None:
                raise DataError(f"{path}: empty file (no header row)")
            reader = csv.reader(itertools.chain((first,), lines), delimiter=delimiter, strict=True)
            line = skipped + 1
            try:
                header = next(reader, None)
                if header is None:
                    raise DataError(f"{path}: empty file (no header row)")
                names = [name.strip() for name in header]
                if names:  # a byte-order mark inside the text (an odd export)
                    names[0] = names[0].lstrip("\ufeff").strip()
                self._check_header(names, line)
                self._columns = frozenset(names)
                width = len(names)
                line = reader.line_num + skipped + 1
                for cells in reader:
                    if not cells or (len(cells) == 1 and not cells[0].strip()):
                        line = reader.line_num + skipped + 1
                        continue
                    if len(cells) != width:
                        raise DataError(
                            f"{path}:{line}: {len(cells)} fields where the header has {width}"
                            + files.delimiter_hint(names)
                        )
                    yield RawRow(f"{path}:{line}", dict(zip(names, cells, strict=True)).get)
                    line = reader.line_num + skipped + 1
            except csv.Error as exc:
                raise DataError(f"{path}:{line}: malformed CSV: {exc}") from None

    def _preamble(self, lines: Iterator[str]) -> tuple[str | None, str, int]:
        """The first line after the preamble (``None`` when there is none), the
        delimiter, and how many preamble lines were skipped."""
        delimiter = self.delimiter
        skipped = 0
        seen_type = seen_sep = False
        for line in lines:
            if not seen_type and _TYPE_LINE.fullmatch(line):
                seen_type = True
            elif not seen_sep and (found := _SEP_LINE.fullmatch(line)):
                seen_sep = True
                said = found[1]
                if delimiter not in (files.AUTO, said):
                    raise DataError(
                        f"{self.path}:{skipped + 1}: the file's {line.strip()!r} line says the"
                        f" delimiter is {said!r}, but the connector's `delimiter` option says"
                        f" {delimiter!r}; remove the option or correct it"
                    )
                delimiter = said
            else:
                return line, _default(delimiter), skipped
            skipped += 1
        return None, _default(delimiter), skipped

    def _check_header(self, names: list[str], line: int) -> None:
        where = f"{self.path}:{line}"
        if not names:
            raise DataError(f"{where}: the header row is empty")
        seen: set[str] = set()
        for name in names:
            if not name:
                raise DataError(f"{where}: empty column name in the header")
            if name in seen:
                raise DataError(f"{where}: column {name!r} appears twice in the header")
            seen.add(name)


def _default(delimiter: str) -> str:
    return DEFAULT_DELIMITER if delimiter == files.AUTO else delimiter


def _check_delimiter(delimiter: str, key: str) -> str:
    if delimiter.strip().lower() == files.AUTO:
        return files.AUTO
    if delimiter == "\\t":  # `delimiter: \t` unquoted in YAML is a backslash and a t
        return "\t"
    if len(delimiter) != 1 or delimiter in _NOT_DELIMITERS:
        raise ConfigError(
            f"expected one character or 'auto', got {delimiter!r}"
            ' (a tab is written "\\t", in double quotes)',
            key=key,
        )
    return delimiter
