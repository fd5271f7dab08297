"""A CSV export loaded into the columnar engine as lines of cells.

Only an export that the CSV connector (:mod:`nhirecon.connectors.csv`) would read line by
line is loaded: UTF-8 (with or without its byte-order mark), ``\\n`` or ``\\r\\n`` line ends,
no NUL, no preamble line, no quoted cell that runs over a line end, no ragged row. A line
without a quote character is split on the delimiter in the engine, which is exactly what
the csv module does with it; a line with one is split by the csv module itself. Anything
else raises :class:`Unsupported`, and the audit reads the export the usual way: the same
result, or the error that names the file and row.
"""

from __future__ import annotations

import csv
import functools
import itertools
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final, NamedTuple

from nhirecon.columnar.threads import Step
from nhirecon.columnar.values import ASCII_LINE
from nhirecon.connectors import files, textcodec
from nhirecon.connectors.csv import _SEP_LINE, _TYPE_LINE, MAX_FIELD_BYTES, CsvConnector
from nhirecon.errors import NhireconError

if TYPE_CHECKING:
    import duckdb

UTF8_BOM: Final = b"\xef\xbb\xbf"
PIECE_BYTES: Final = 16 << 20
"""Bytes of an export read and handed to the engine at a time."""
LONGEST_LINE: Final = min(files.MAX_LINE_BYTES, MAX_FIELD_BYTES)
"""Bytes: a longer line may hold a cell the CSV connector refuses, so it is read that way."""
_PRINTABLE_OR_LINE_END: Final = bytes(range(0x20, 0x7F)) + b"\r\n"
BLANK: Final = " \t\x0b\x0c\x1c\x1d\x1e\x1f"
"""The ASCII characters :meth:`str.strip` removes (besides line ends, which a line lacks)."""


class Unsupported(Exception):
    """The columnar engine does not read this input (or config) exactly as the connector
    does; the message says why, for the log."""


@dataclass(frozen=True)
class Export:
    """One CSV export in the engine: table ``table`` holds, for every data row, ``n`` (the
    line number, as the connector counts it in a location), ``cells`` (one per header
    column), ``quoted`` (split by the csv module: the row is always read the usual way
    too) and ``ascii`` (the line is printable ASCII). The cells of a row that is not
    quoted, joined by the delimiter, are its line."""

    table: str
    path: Path
    names: tuple[str, ...]
    rows: int
    delimiter: str


class Loading:
    """An export on its way into the engine, for several to be loaded side by side: its
    :meth:`pieces` put its lines in ``{table}_lines`` (the steps of one ``at_once`` with
    the other exports' pieces), then :meth:`finish` splits them into ``table``.

    Raises :class:`Unsupported` (see the module), from each of the three."""

    def __init__(self, con: duckdb.DuckDBPyConnection, table: str, connector: CsvConnector):
        self.table = table
        self.path = connector.path
        if connector.encoding != files.AUTO:
            raise Unsupported(f"{self.path}: an `encoding` option")
        self.delimiter = "," if connector.delimiter == files.AUTO else connector.delimiter
        self.names: tuple[str, ...] = ()
        con.execute(f"CREATE TABLE {table}_lines (n BIGINT, line VARCHAR, ascii BOOLEAN)")

    def pieces(self) -> Iterator[Step[None]]:
        """A step per piece of the export, each inserting its lines; read as they are taken
        (the header's names with the first)."""
        texts = _pieces(self.path)
        first = next(texts, None)
        if first is None:
            raise Unsupported(f"{self.path}: an empty file")
        self.names = _names(first.text, self.delimiter, self.path)
        insert = f"""
            INSERT INTO {self.table}_lines
            SELECT n + $base, line, $printable OR regexp_full_match(line, '{ASCII_LINE}')
            FROM (SELECT rtrim(line, chr(13)) AS line, n
                  FROM unnest(string_split($text, chr(10))) WITH ORDINALITY AS u(line, n))
            WHERE n + $base > 1 AND n <= $lines
            """
        for piece in _numbered(itertools.chain((first,), texts)):
            yield functools.partial(_insert, statement=insert, values=piece)

    def finish(self, con: duckdb.DuckDBPyConnection) -> Export:
        """The lines split into cells, checked, in ``table``; ``{table}_lines`` dropped."""
        table, path, names, delimiter = self.table, self.path, self.names, self.delimiter
        assert names, "finish() before pieces()"
        (longest,) = con.execute(f"SELECT max(strlen(line)) FROM {table}_lines").fetchone() or (0,)
        if (longest or 0) >= LONGEST_LINE:
            raise Unsupported(f"{path}: a line of {longest} bytes")
        con.execute(
            f"""
            CREATE TABLE {table} AS
            SELECT n, string_split(line, $d) AS cells, false AS quoted, ascii
            FROM {table}_lines
            WHERE NOT contains(line, '"') AND (contains(line, $d) OR trim(line, $blank) <> '')
            """,
            {"d": delimiter, "blank": BLANK},
        )
        (ragged,) = con.execute(
            f"SELECT count(*) FROM {table} WHERE len(cells) <> $w", {"w": len(names)}
        ).fetchone() or (0,)
        if ragged:
            counted = "a row" if ragged == 1 else f"{ragged} rows"
            raise Unsupported(f"{path}: {counted} whose width differs from the header's")
        quoted = con.execute(
            f"SELECT n, line FROM {table}_lines WHERE contains(line, '\"') ORDER BY n"
        ).fetchall()
        con.execute(f"DROP TABLE {table}_lines")
        if quoted:
            numbers, rows = _split(quoted, delimiter, len(names), path)
            if numbers:
                con.execute(
                    f"""
                    INSERT INTO {table}
                    SELECT unnest($n), unnest($cells::VARCHAR[][]), true, false
                    """,
                    {"n": numbers, "cells": rows},
                )
        (count,) = con.execute(f"SELECT count(*) FROM {table}").fetchone() or (0,)
        return Export(table, path, names, count, delimiter)


def _names(text: str, delimiter: str, path: Path) -> tuple[str, ...]:
    """The column names in the header, the first line of ``text`` (the first piece)."""
    end = text.find("\n")
    header = text if end < 0 else text[:end]
    if _TYPE_LINE.fullmatch(header + "\n") or _SEP_LINE.fullmatch(header + "\n"):
        raise Unsupported(f"{path}: a preamble line")
    if len(header.encode("utf-8")) >= LONGEST_LINE:
        raise Unsupported(f"{path}: a header line of {LONGEST_LINE} bytes or more")
    return _header(header.removesuffix("\r"), delimiter, path)


def _insert(con: duckdb.DuckDBPyConnection, statement: str, values: dict[str, object]) -> None:
    con.execute(statement, values)


def _numbered(pieces: Iterator[Piece]) -> Iterator[dict[str, object]]:
    """Each piece with the number of the line before it (``base``) and its own count of
    lines (a last line without a line end counts)."""
    base = 0
    for text, printable in pieces:
        lines = text.count("\n") + (not text.endswith("\n"))
        yield {"text": text, "base": base, "lines": lines, "printable": printable}
        base += lines


class Piece(NamedTuple):
    """Whole lines of an export."""

    text: str
    printable: bool
    """Every line is printable ASCII (a line end aside): no line need be looked at."""


def _pieces(path: Path) -> Iterator[Piece]:
    """The export's text, read from the file the connector would open, in pieces of whole
    lines of about :data:`PIECE_BYTES` each (so that the text is never held whole)."""
    try:
        file = files.open_binary(path)
    except NhireconError as exc:
        raise Unsupported(str(exc)) from None
    with file:
        pending = b""
        first = True
        while True:
            block = file.read(PIECE_BYTES)
            if first:
                first = False
                if block.startswith(UTF8_BOM):
                    block = block[len(UTF8_BOM) :]
                elif any(block.startswith(bom) for bom, _ in textcodec.BOMS):
                    raise Unsupported(f"{path}: a byte-order mark other than UTF-8's")
                elif textcodec.utf16_order(block[: textcodec.SAMPLE_BYTES]) is not None:
                    raise Unsupported(f"{path}: looks like UTF-16")
            if not block:
                if pending:
                    yield _decoded(pending, path)
                return
            data = pending + block
            cut = data.rfind(b"\n") + 1
            if not cut:
                if len(data) >= LONGEST_LINE:
                    raise Unsupported(f"{path}: a line of {LONGEST_LINE} bytes or more")
                pending = data
                continue
            yield _decoded(data[:cut], path)
            pending = data[cut:]


def _decoded(data: bytes, path: Path) -> Piece:
    """Whole lines of the export, checked as the CSV connector checks them."""
    if b"\x00" in data:
        raise Unsupported(f"{path}: a NUL byte")
    if b"\r" in data and data.count(b"\r") != data.count(b"\r\n"):  # counted only if any
        raise Unsupported(f"{path}: a carriage return that does not end a line")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise Unsupported(f"{path}: not UTF-8") from None
    return Piece(text, not data.translate(None, _PRINTABLE_OR_LINE_END))


def _header(line: str, delimiter: str, path: Path) -> tuple[str, ...]:
    """The column names, as the connector reads them; a header it refuses is read that way."""
    csv.field_size_limit(min(MAX_FIELD_BYTES, sys.maxsize))  # as the connector sets it
    try:
        cells = next(csv.reader((line,), delimiter=delimiter, strict=True), [])
    except csv.Error:
        raise Unsupported(f"{path}: a header the csv module refuses") from None
    names = [name.strip() for name in cells]
    if names:
        names[0] = names[0].lstrip("\ufeff").strip()
    if len(names) < 2 or not all(names) or len(set(names)) != len(names):
        raise Unsupported(f"{path}: a header of fewer than two distinct named columns")
    return tuple(names)


def _split(
    lines: list[tuple[int, str]], delimiter: str, width: int, path: Path
) -> tuple[list[int], list[list[str]]]:
    """The lines that hold a quote character, split by the csv module one at a time (a
    quoted cell left open at a line's end is then an error, not a cell that runs on)."""
    numbers: list[int] = []
    rows: list[list[str]] = []
    for number, line in lines:
        try:
            cells = next(csv.reader((line,), delimiter=delimiter, strict=True), [])
        except csv.Error as exc:
            raise Unsupported(
                f"{path}:{number}: a row the csv module refuses on its own line ({exc}),"
                " most often a quoted cell that runs over a line end"
            ) from None
        if not cells or (len(cells) == 1 and not cells[0].strip()):
            continue
        if len(cells) != width:
            raise Unsupported(f"{path}:{number}: a row whose width differs from the header's")
        numbers.append(number)
        rows.append(cells)
    return numbers, rows
