"""Writing report files: whole or not at all, readable by the owner only (and so are the
folders made for them), and never through a symbolic link: a link, a device, a pipe or a
folder where a file is to go is refused before anything is written (SPEC §8 "Files").

A file's text may come whole or in pieces (a reporter's chunks, :data:`Text`): the pieces
are written to the temporary file as they come, so the whole text is never held at once,
and a failure on the way (a piece that cannot be made) removes the temporary file and
leaves the destination as it was.

Files are UTF-8. A lone surrogate (``"\\ud800"`` from a JSON export or a SCIM answer) has
no UTF-8 form; it is written as its escape ``\\ud800``, which in a JSON file is the same
value exactly and elsewhere shows what was there."""

from __future__ import annotations

import contextlib
import io
import os
import secrets
import shutil
import stat
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, TypeAlias

from nhirecon.errors import NhireconError
from nhirecon.exit_codes import ExitCode
from nhirecon.signals import Handler, replaced_handlers

PRIVATE = 0o600
PRIVATE_FOLDER = 0o700
NAMED_UP_TO = 200
"""Bytes of a destination's name that its temporary file's name repeats, at most."""
UNENCODABLE = "backslashreplace"
"""How text that UTF-8 cannot carry (lone surrogates) is written: as ``\\udXXXX``."""
BUFFER = 1 << 16
"""Bytes gathered before each write to a report file."""
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
"""How a temporary file is opened: made new, or not at all (as :func:`tempfile.mkstemp`)."""

Text: TypeAlias = str | Iterable[str]
"""What a file holds: its whole text, or the pieces of it in order."""


_NOT_FILES = (
    (stat.S_ISLNK, "a symbolic link"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def irregular(mode: int) -> str:
    """Why a file of ``mode`` (``st_mode``) is not one nhirecon reads or writes, such as
    ``is a named pipe (FIFO), not a regular file``; empty for a regular file."""
    if stat.S_ISREG(mode):
        return ""
    if stat.S_ISDIR(mode):
        return "is a folder, not a file"
    kind = next((name for test, name in _NOT_FILES if test(mode)), "something else")
    return f"is {kind}, not a regular file"


def make_folder(folder: Path) -> None:
    """Create ``folder`` and its missing parents, each 0700 whatever the umask; folders that
    already exist are left as they are."""
    missing = []
    current = folder
    while not current.exists() and current.parent != current:
        missing.append(current)
        current = current.parent
    for path in reversed(missing):
        try:
            path.mkdir(mode=PRIVATE_FOLDER)
        except FileExistsError:
            continue
        os.chmod(path, PRIVATE_FOLDER)  # mkdir's mode went through the umask


class OutputError(NhireconError):
    """A report file could not be written."""

    exit_code = ExitCode.USAGE


class StdoutRefused(OutputError):
    """stdout refused a write for a reason other than its reader going away (a file-size
    limit, a full disk): what is left in its buffer can never be written either."""


def check_destination(path: Path) -> None:
    """Refuse to write ``path`` when something other than a regular file is there: a
    symbolic link is neither written through nor replaced, and a device, a pipe or a
    folder (``-o /dev/null`` run as root) is never replaced by a file."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    except OSError as exc:
        raise OutputError(f"{path}: cannot write: {exc.strerror or exc}") from None
    if stat.S_ISLNK(mode):
        raise OutputError(
            f"{path}: is a symbolic link; nhirecon never writes through one, nor replaces"
            " it: remove it or write elsewhere"
        )
    reason = irregular(mode)
    if reason:
        raise OutputError(f"{path}: {reason}; write the file elsewhere")


class WholeWrites(io.RawIOBase):
    """A file descriptor whose every write is made whole, or fails.

    The kernel may write only part of what was asked (a pipe whose reader goes away
    mid-write returns the count written so far, then raises ``SIGPIPE``), and CPython's
    buffered writer can then drop the rest without an error: a report piped to a reader
    that quits early was cut short with the gate's exit code. Here a short write is
    continued until everything is written or the kernel refuses (``BrokenPipeError`` for
    a reader gone; any other refusal, such as a file-size limit, is a :class:`StdoutRefused`
    naming ``name``)."""

    def __init__(self, fd: int, name: str) -> None:
        super().__init__()
        self._fd = fd
        self.name = name

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._fd

    def isatty(self) -> bool:
        return os.isatty(self._fd)

    def write(self, data: object) -> int:
        view = memoryview(data).cast("B")  # type: ignore[arg-type]
        total = len(view)
        try:
            while view:
                written = os.write(self._fd, view)
                if not written:  # never for a file or a pipe; no endless loop either way
                    raise OSError(f"wrote 0 of {len(view)} bytes")
                view = view[written:]
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise StdoutRefused(f"{self.name}: cannot write: {exc.strerror or exc}") from None
        return total


def whole_stdout() -> None:
    """Point ``sys.stdout`` at its file descriptor through :class:`WholeWrites`, keeping
    its encoding and line buffering, with text that UTF-8 cannot carry written escaped
    (``\\ud800``). A stdout without a file descriptor (a test's capture) is left as
    it is."""
    current = sys.stdout
    try:
        fd = current.fileno()
    except (AttributeError, OSError, ValueError):
        return
    current.flush()
    sys.stdout = io.TextIOWrapper(
        io.BufferedWriter(WholeWrites(fd, "stdout")),
        encoding=current.encoding or "utf-8",
        errors=UNENCODABLE,
        line_buffering=bool(getattr(current, "line_buffering", False)),
    )


def write_text(out: IO[str], text: Text) -> None:
    """Write ``text`` to ``out``, whole or piece by piece as the pieces come."""
    if isinstance(text, str):
        out.write(text)
    else:
        out.writelines(text)


def _stage(path: Path, text: Text, staged: list[tuple[Path, Path]]) -> None:
    """Write ``text`` to a private temporary file beside ``path``, which is listed in
    ``staged`` (with ``path``) before it is created: a Ctrl-C or SIGTERM raises on whatever
    line the main thread is at, the one just after the file was made too, and the caller
    removes every file ``staged`` names. When anything fails, making the text too, the
    temporary file is removed here."""
    folder = path.parent
    try:
        make_folder(folder)
    except OSError as exc:
        raise OutputError(f"{path}: cannot write: {exc.strerror or exc}") from None
    while True:
        temporary = folder / f"{_temporary_prefix(path)}{secrets.token_hex(8)}.tmp"
        staged.append((temporary, path))
        try:
            handle = os.open(temporary, _CREATE, PRIVATE)
        except FileExistsError:  # another file has this name: not ours to remove
            staged.pop()
            continue
        except OSError as exc:
            staged.pop()
            raise OutputError(f"{path}: cannot write: {exc.strerror or exc}") from None
        break
    try:
        with os.fdopen(
            handle, "w", BUFFER, encoding="utf-8", errors=UNENCODABLE, newline=""
        ) as out:
            os.fchmod(out.fileno(), PRIVATE)
            write_text(out, text)
            out.flush()
            os.fsync(out.fileno())
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        if isinstance(exc, OSError):
            raise OutputError(f"{path}: cannot write: {exc.strerror or exc}") from None
        raise


def _temporary_prefix(path: Path) -> str:
    """``.<name>.``, which says whose a left-over file is; a generic one for a name so long
    that the temporary file's would exceed the 255 bytes a file name may have."""
    if len(os.fsencode(path.name)) > NAMED_UP_TO:
        return ".nhirecon-report."
    return f".{path.name}."


def write_atomic(path: Path, text: Text) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename (mode 0600)."""
    write_all([(path, text)])


def write_all(files: Sequence[tuple[Path, Text]]) -> None:
    """Write several files all or none: every destination is checked (see
    :func:`check_destination`) and every file staged (its pieces made and written) before
    any is put in place; the rename then replaces a directory entry, so a link put there
    meanwhile is replaced, never written through. A destination that cannot be replaced
    puts back those replaced before it (see :func:`_put_in_place`)."""
    for path, _ in files:
        check_destination(path)
    staged: list[tuple[Path, Path]] = []
    try:
        for path, text in files:
            _stage(path, text, staged)
        _put_in_place(staged)
    finally:
        for temporary, _ in staged:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)


def _put_in_place(staged: Sequence[tuple[Path, Path]]) -> None:
    """Rename each staged file over its destination, or none: the old file of each is kept
    aside first (a hard link beside it, else a private copy), and when a rename fails (a
    file bind-mounted into a container answers EBUSY, an immutable one EPERM) the files
    replaced before it are put back. A Ctrl-C or SIGTERM while the old files are kept
    aside stops it with none replaced; one during the renames takes effect after the last.
    :class:`OutputError` names the destination."""
    kept: list[tuple[Path, Path | None]] = []
    stranded: list[Path] = []
    try:
        if len(staged) > 1:  # every old file aside before the first is replaced
            for _, path in staged:
                aside = _aside(path) if os.path.lexists(path) else None
                kept.append((path, aside))  # listed first: removed below, whatever stops it
                if aside is not None:
                    _keep_aside(path, aside)
        with _signals_deferred():  # the renames: quick, and never cut short between two
            _replace_all(staged, kept, stranded)
    finally:
        for _, old in kept:
            if old is not None and old not in stranded:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(old)


def _replace_all(
    staged: Sequence[tuple[Path, Path]],
    kept: Sequence[tuple[Path, Path | None]],
    stranded: list[Path],
) -> None:
    """The renames of :func:`_put_in_place`; when one fails, those before it are undone
    with the old files ``kept`` aside (``None``: there was none). An old file that cannot
    be put back is left where it was kept (listed in ``stranded``) and named."""
    replaced = 0
    try:
        for temporary, path in staged:
            try:
                os.replace(temporary, path)
            except OSError as exc:
                raise OutputError(f"{path}: cannot write: {exc.strerror or exc}") from None
            replaced += 1
    except BaseException as exc:
        unmended = []
        for path, old in reversed(kept[:replaced]):
            try:
                if old is None:
                    os.unlink(path)
                else:
                    os.replace(old, path)
            except OSError as failed:
                if old is not None:
                    stranded.append(old)
                kept_at = "" if old is None else f"; its old content is kept at {old}"
                unmended.append(
                    f"{path} is new and could not be put back ({failed.strerror}){kept_at}"
                )
        if unmended and isinstance(exc, OutputError):
            raise OutputError(f"{exc}; and {'; '.join(unmended)}") from None
        raise


def _aside(path: Path) -> Path:
    """A private name beside ``path`` for its old file."""
    return path.parent / f"{_temporary_prefix(path)}{secrets.token_hex(8)}.old"


def _keep_aside(path: Path, aside: Path) -> None:
    """Keep the file at ``path`` as it is now under ``aside``: a hard link, else a private
    copy (a file system without hard links, or a file mounted from elsewhere)."""
    try:
        os.link(path, aside, follow_symlinks=False)
        return
    except OSError:
        pass
    try:
        with open(path, "rb") as old, open(os.open(aside, _CREATE, PRIVATE), "wb") as copy:
            shutil.copyfileobj(old, copy)
    except OSError as exc:
        reason = exc.strerror or exc
        raise OutputError(f"{path}: cannot keep the old file aside: {reason}") from None


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """Hold a Ctrl-C or SIGTERM until the block ends, then act on it as its handler would:
    files are put in place all or none, not cut short between two renames. Handlers are
    left alone outside the main thread and where they are not Python's."""
    held: list[int] = []
    previous: Mapping[int, Handler] = {}
    try:
        with replaced_handlers(lambda _: lambda number, frame: held.append(number)) as previous:
            yield
    finally:
        if held:
            previous[held[0]](held[0], None)
