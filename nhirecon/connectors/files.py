"""What the file connectors share: opening an export, reading its text within bounds, and
naming it in errors (SPEC §3.1, and §8 "Files": inputs must be regular files).

- Only a regular file is read: a folder, a FIFO, a device or a socket is refused before a
  byte is read, and the file is opened without blocking, so a FIFO never hangs a run.
- The encoding comes from the ``encoding`` option (see :mod:`.textcodec`); text that is not
  valid in it is an error naming the line, the byte offset, the bytes, and the encoding
  they look like.
- What is read is bounded: a line of a CSV export (64 MiB), a whole JSON or YAML
  document (512 MiB).

The files a command is given (the config, a baseline, a plan) are read whole by
:func:`read_whole`, under the same rules.
"""

from __future__ import annotations

import codecs
import io
import os
import stat
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from nhirecon.connectors import textcodec
from nhirecon.errors import ConnectorError, DataError
from nhirecon.output import irregular

if TYPE_CHECKING:
    from nhirecon.connectors.context import ConnectorContext

AUTO = textcodec.AUTO
DEFAULT_ENCODING = AUTO
"""A byte-order mark decides (UTF-8, UTF-16 LE/BE, UTF-32 LE/BE); without one, UTF-8."""
check_encoding = textcodec.check

MAX_DOCUMENT_BYTES = 512 << 20
"""The largest JSON or YAML document read whole (512 MiB); JSON Lines and CSV stream."""
MAX_LINE_BYTES = 64 << 20
"""The longest line read by default (64 MiB): a file of one endless line is refused before
it fills the memory. A CSV cell is capped lower still (see ``csv.MAX_FIELD_BYTES``); a
JSON or YAML document, which may be one line, is bounded by its size instead."""
CHUNK_BYTES = 1 << 16
"""How much is read from a file at a time."""

_SCAN_CHUNK = 1 << 20
"""How much is read at a time to find a decode error."""


def delimiter_hint(columns: Iterable[str]) -> str:
    """Words to add to a complaint about a header that is one column holding a ``;``, a
    tab or a ``|``: the file is likely separated by it, not by the delimiter used."""
    names = list(columns)
    if len(names) != 1:
        return ""
    for mark, written in ((";", "';'"), ("\t", '"\\t"'), ("|", "'|'")):
        if mark in names[0]:
            return (
                f"; the header is one column holding {written}: is the file separated by"
                f" it? then set the input's `delimiter: {written}`"
            )
    return ""


def option_key(context: ConnectorContext, option: str) -> str:
    """The key path of one of a connector's options, for a config error."""
    return f"{context.key}.{option}" if context.key else option


def regular_file(path: Path) -> os.stat_result:
    """The status of ``path``, an existing regular file, or an error naming it."""
    try:
        status = os.stat(path)
    except FileNotFoundError:
        raise ConnectorError(f"{path}: file not found") from None
    except OSError as exc:
        raise ConnectorError(f"{path}: cannot read: {exc.strerror or exc}") from None
    _check_regular(path, status)
    return status


def _check_regular(path: Path, status: os.stat_result) -> None:
    reason = irregular(status.st_mode)
    if not reason:
        return
    hint = "" if stat.S_ISDIR(status.st_mode) else "; save the export to a file"
    raise ConnectorError(f"{path}: {reason}{hint}")


def refuse_special(path: Path) -> None:
    """Refuse ``path`` when it exists and is not a regular file, without opening it
    (``validate`` without ``--connect`` reads nothing); a missing or unreachable file is
    left for the pull to report."""
    try:
        status = os.stat(path)
    except OSError:
        return
    _check_regular(path, status)


class NotAFile(Exception):
    """A file given to a command that is not a regular file, or too large to read whole;
    the message says which, without the path (the caller names the file its way)."""


def read_whole(path: Path, limit: int, what: str) -> bytes:
    """The bytes of ``path``, a regular file of at most ``limit`` bytes: ``what`` it is
    (``a config``, ``a baseline``, ``a plan``) is named in a refusal. A FIFO, a device or a
    folder is refused before it is opened (and again on the open descriptor), so it never
    hangs a run or fills the memory.

    Raises :class:`NotAFile`, or :class:`OSError` when the file cannot be read."""
    reason = irregular(os.stat(path).st_mode)
    if not reason:
        flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
        with io.FileIO(os.open(path, flags), "r") as file:
            status = os.fstat(file.fileno())
            reason = irregular(status.st_mode)
            if not reason and status.st_size <= limit:
                if hasattr(os, "O_NONBLOCK"):
                    os.set_blocking(file.fileno(), True)
                data = file.read(limit + 1)
                if len(data) <= limit:
                    return data
            if not reason:
                raise NotAFile(f"is larger than {limit >> 20} MiB: too large for {what}")
    raise NotAFile(f"{reason}; {what} must be a regular file")


def open_binary(path: Path) -> io.FileIO:
    """``path`` opened for reading bytes, once it is known to be a regular file.

    It is checked before it is opened and again on the open descriptor: the open does not
    block (a FIFO put in its place meanwhile is found, not waited on)."""
    regular_file(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        descriptor = os.open(path, flags)
    except FileNotFoundError:
        raise ConnectorError(f"{path}: file not found") from None
    except OSError as exc:
        raise ConnectorError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        _check_regular(path, os.fstat(descriptor))
        if hasattr(os, "O_NONBLOCK"):
            os.set_blocking(descriptor, True)
        return io.FileIO(descriptor, "r")
    except BaseException:
        os.close(descriptor)
        raise


def open_text(
    path: Path, encoding: str, *, max_line: int = MAX_LINE_BYTES, refuse_nul: bool = False
) -> io.TextIOWrapper:
    """An export opened for reading text in ``encoding`` (``auto``: see the module), past
    any byte-order mark; the handle's ``encoding`` is the codec actually used.

    A line longer than ``max_line`` bytes is an error when it is read, and so, with
    ``refuse_nul``, is a NUL byte in text of an ASCII-based encoding (a binary or
    corrupted export); :func:`nul_free` checks the text of UTF-16 and UTF-32."""
    file = open_binary(path)
    try:
        codec, skip = textcodec.choose(path, file.read(textcodec.SAMPLE_BYTES), encoding)
        file.seek(skip)
        bounded = _Bounded(file, path, max_line, refuse_nul and not textcodec.wide(codec))
        buffered = io.BufferedReader(bounded, CHUNK_BYTES)
        handle = io.TextIOWrapper(buffered, encoding=codec, errors="strict", newline="")
        handle._CHUNK_SIZE = CHUNK_BYTES  # type: ignore[attr-defined]
        return handle
    except BaseException:
        file.close()
        raise


class _Bounded(io.RawIOBase):
    """A file's bytes, refusing a line longer than ``max_line`` bytes and, with
    ``refuse_nul``, a NUL byte: checked a chunk at a time, at the speed of ``bytes``."""

    def __init__(self, file: io.FileIO, path: Path, max_line: int, refuse_nul: bool) -> None:
        super().__init__()
        self._file = file
        self._path = path
        self._max_line = max_line
        self._refuse_nul = refuse_nul
        self._run = 0
        """Bytes since the last line end."""
        self._offset = file.tell()
        """Where the next chunk starts in the file."""

    def readable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._file.fileno()

    def close(self) -> None:
        self._file.close()
        super().close()

    def readinto(self, buffer: Any) -> int:
        count = self._file.readinto(buffer)
        if not count:
            return 0
        data = bytes(memoryview(buffer)[:count])
        if self._refuse_nul and 0 in data:
            raise self._nul(data, data.index(0))
        newline = data.rfind(b"\n")
        last = max(newline, data.rfind(b"\r", newline + 1))
        self._run = self._run + count if last < 0 else count - last - 1
        if self._run > self._max_line:
            raise DataError(
                f"{self._path}:{self._line_at(self._offset)}: a line longer than"
                f" {self._max_line >> 20} MiB (not a text export, or a damaged one?)"
            )
        self._offset += count
        return count

    def _nul(self, data: bytes, at: int) -> DataError:
        """The error for a NUL byte at ``at`` in ``data``: UTF-16 named where it looks so."""
        where = f"{self._path}:{self._line_at(self._offset + at)}"
        begin = data.rfind(b"\n", 0, at) + 1  # where a part in UTF-16 would start
        sample = data[begin : begin + textcodec.SAMPLE_BYTES]
        if textcodec.utf16_order(sample) is None:
            return DataError(f"{where}: NUL character in the file (binary or corrupted?)")
        return DataError(f"{where}: NUL character in the file: {textcodec.hint(sample, 'utf-8')}")

    def _line_at(self, offset: int) -> int:
        """The line that the byte at ``offset`` is on, counted again (for a message)."""
        lines = 1
        self._file.seek(0)
        while (left := offset - self._file.tell()) > 0:
            chunk = self._file.read(min(_SCAN_CHUNK, left))
            if not chunk:
                break
            lines += chunk.count(b"\n")
        return lines


def nul_free(path: Path, handle: io.TextIOWrapper) -> Iterator[str]:
    """The lines of ``handle``, checked for NUL characters where :func:`open_text` could
    not check the bytes (UTF-16 and UTF-32 text)."""
    return _without_nul(path, handle) if textcodec.wide(handle.encoding) else handle


def _without_nul(path: Path, lines: Iterator[str]) -> Iterator[str]:
    for number, line in enumerate(lines, start=1):
        if "\x00" in line:
            raise DataError(f"{path}:{number}: NUL character in the file (binary or corrupted?)")
        yield line


def decode_error(path: Path, exc: UnicodeDecodeError, encoding: str) -> DataError:
    """An error naming the first line of ``path`` that ``encoding`` (the codec used, the
    handle's ``encoding``) does not decode: its line, byte offset, bytes and likely
    encoding."""
    found = _first_undecodable(path, encoding)
    if found is None:
        hint = textcodec.hint(exc.object, encoding, exc.reason)
        return DataError(f"{path}: not valid {encoding} text ({exc.reason}); {hint}")
    line, offset, shown, sample, reason = found
    return DataError(
        f"{path}:{line}: not valid {encoding} text at byte offset {offset} ({reason}):"
        f" {shown!r}; {textcodec.hint(sample, encoding, reason)}"
    )


def _first_undecodable(path: Path, encoding: str) -> tuple[int, int, bytes, bytes, str] | None:
    """(line, byte offset, the bytes around it, a sample of its line, reason) of the first
    byte that does not decode, read again from the file a chunk at a time."""
    codec = textcodec.canonical(encoding)
    decoder = codecs.getincrementaldecoder(codec)(errors="strict")
    try:
        with open_binary(path) as raw:
            head = raw.read(4)
            skip = textcodec.mark_length(head, codec)
            raw.seek(skip)
            newlines, fed = 0, skip
            while True:
                chunk = raw.read(_SCAN_CHUNK)
                pending = decoder.getstate()[0]
                try:
                    newlines += decoder.decode(chunk, final=not chunk).count("\n")
                except UnicodeDecodeError as exc:
                    data, start = exc.object, exc.start
                    before = data[:start].decode(codec, errors="replace")
                    line = newlines + before.count("\n") + 1
                    begin = max(data.rfind(b"\n", 0, start) + 1, start - 40)
                    end = data.find(b"\n", start)
                    end = len(data) if end < 0 else end
                    shown = data[begin : min(end, start + 40)].rstrip(b"\r")
                    offset = fed - len(pending) + start
                    sample = data[begin : begin + textcodec.SAMPLE_BYTES]
                    return line, offset, shown, sample, exc.reason
                if not chunk:
                    return None
                fed += len(chunk)
    except (OSError, ConnectorError):
        return None


@contextmanager
def reading(
    path: Path, encoding: str, *, max_line: int = MAX_LINE_BYTES, refuse_nul: bool = False
) -> Iterator[io.TextIOWrapper]:
    """:func:`open_text`, with a decode or read failure inside the block turned into an
    error naming the file (and the line, for a decode error)."""
    handle = open_text(path, encoding, max_line=max_line, refuse_nul=refuse_nul)
    with handle:
        try:
            yield handle
        except UnicodeDecodeError as exc:
            raise decode_error(path, exc, handle.encoding) from None
        except OSError as exc:
            raise ConnectorError(f"{path}: cannot read: {exc.strerror or exc}") from None


def read_document(path: Path, handle: IO[str], start: str = "") -> str:
    """``start`` and the rest of ``handle``: a whole document, refused when the file is
    larger than :data:`MAX_DOCUMENT_BYTES` (checked before reading, and while reading)."""
    limit = MAX_DOCUMENT_BYTES
    size = os.fstat(handle.fileno()).st_size
    if size > limit:
        raise DataError(_too_large(path, size))
    text = handle.read(limit + 1 - len(start))
    if len(start) + len(text) > limit:
        raise DataError(_too_large(path, None))
    return start + text


def _too_large(path: Path, size: int | None) -> str:
    held = f" ({size / (1 << 20):,.0f} MiB)" if size is not None else ""
    return (
        f"{path}: too large to read whole{held}: a JSON or YAML document may hold at most"
        f" {MAX_DOCUMENT_BYTES >> 20} MiB; save JSON Lines (one record per line) instead,"
        " or split the export"
    )
