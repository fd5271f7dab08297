"""What the file connectors share: opening an export and naming it in errors."""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from nhirecon.errors import ConnectorError, DataError

DEFAULT_ENCODING = "utf-8-sig"
"""UTF-8, with or without a byte-order mark."""


def check_encoding(encoding: str) -> str:
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise ConnectorError(f"unknown encoding {encoding!r}") from None
    return encoding


def open_text(path: Path, encoding: str) -> IO[str]:
    """Open an export for reading, or fail naming it."""
    try:
        return path.open(encoding=check_encoding(encoding), newline="", errors="strict")
    except FileNotFoundError:
        raise ConnectorError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise ConnectorError(f"{path}: is a folder, not a file") from None
    except OSError as exc:
        raise ConnectorError(f"{path}: cannot read: {exc.strerror or exc}") from exc


def decode_error(path: Path, exc: UnicodeDecodeError, encoding: str) -> DataError:
    """An error naming the first line of ``path`` that does not decode."""
    where = ""
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        with path.open("rb") as raw:
            for number, line in enumerate(raw, start=1):
                try:
                    decoder.decode(line)
                except UnicodeDecodeError:
                    where = f":{number}"
                    break
    except OSError:
        pass
    return DataError(
        f"{path}{where}: not valid {encoding} text ({exc.reason});"
        " set the connector's `encoding` option (for example latin-1)"
    )


def without_nul(path: Path, lines: Iterator[str]) -> Iterator[str]:
    """Pass lines through, failing on a NUL character (a binary or corrupted export)."""
    for number, line in enumerate(lines, start=1):
        if "\x00" in line:
            raise DataError(f"{path}:{number}: NUL character in the file (binary or corrupted?)")
        yield line
