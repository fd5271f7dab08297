"""The history file itself: where it lives, and opening, creating, checking and migrating it.

Its layout, and the steps that bring an older file up to it, are
:mod:`nhirecon.state.history_schema`.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import sqlite3
import stat
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from nhirecon.core.model import FindingKind
from nhirecon.core.values import as_utc
from nhirecon.errors import NhireconError
from nhirecon.exit_codes import ExitCode
from nhirecon.output import irregular, make_folder
from nhirecon.state import paths
from nhirecon.state.history_schema import APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION

BUSY_TIMEOUT_SECONDS: Final = 60.0
"""How long a run waits for another run holding the file before giving up."""
PRIVATE_FILE: Final = 0o600
_SURROGATE: Final = re.compile("[\ud800-\udfff]")


def storable(text: str) -> str:
    """``text`` as a TEXT value: SQLite stores UTF-8, which has no form for a lone
    surrogate (``"\\ud800"`` in a JSON export), so one is kept as its escape ``\\ud800``.
    Fingerprints, by which findings are matched across runs, never hold one."""
    if text.isascii():  # nearly every value, and far quicker to tell than to search
        return text
    return _SURROGATE.sub(lambda found: f"\\u{ord(found[0]):04x}", text)


class HistoryError(NhireconError):
    """The history file cannot be used: not SQLite, not nhirecon's, damaged, or locked."""

    exit_code = ExitCode.USAGE


def default_path() -> Path:
    """The history without a ``history:`` key: see :func:`nhirecon.state.paths.default_history`."""
    return paths.default_history()


def epoch(moment: datetime) -> int:
    """An instant as the file stores it: whole seconds since the Unix epoch."""
    return int(as_utc(moment).timestamp())


class Damaged(sqlite3.DatabaseError):
    """A value of the file is not what nhirecon writes there (a file edited by hand, or
    damaged): refused as any damaged file is, naming the file."""


def whole(value: object, what: str) -> int:
    """``value``, read from the file where nhirecon writes an integer (``what`` says
    where); raises :class:`Damaged` for anything else (SQLite keeps any type in a column
    of a table that is not ``STRICT``)."""
    if type(value) is not int:
        raise Damaged(f"{what} holds {_shown(value)}, not an integer")
    return value


def _shown(value: object) -> str:
    """A value of the file, for a message: its ``repr``, cut to 40 characters."""
    shown = repr(value)
    return shown if len(shown) <= 40 else shown[:40] + "…"


def instant(seconds: object) -> datetime:
    """An instant as the file stores it, read back in UTC; raises :class:`Damaged` when
    it is not one."""
    try:
        return datetime.fromtimestamp(whole(seconds, "an instant"), UTC)
    except (OverflowError, OSError, ValueError):
        raise Damaged(f"the instant {seconds} is out of range") from None


def kind(value: object) -> FindingKind:
    """A finding kind as the file stores it; raises :class:`Damaged` for one nhirecon
    does not know."""
    if type(value) is str and value in KINDS:
        return FindingKind(value)
    raise Damaged(f"{_shown(value)} is not a finding kind")


KINDS: Final = frozenset(item.value for item in FindingKind)


# --- opening -------------------------------------------------------------------------------


def _fail(path: Path, exc: BaseException) -> HistoryError:
    text = str(exc)
    if isinstance(exc, sqlite3.OperationalError) and "locked" in text:
        return HistoryError(
            f"history file {path}: still locked by another run after "
            f"{BUSY_TIMEOUT_SECONDS:.0f} s; try again later"
        )
    if isinstance(exc, sqlite3.DatabaseError):
        return HistoryError(
            f"history file {path}: not a usable nhirecon history file ({text}); "
            "it was left untouched: move it aside, point `history:` elsewhere, or use "
            "--no-history"
        )
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else text
    return HistoryError(f"history file {path}: {reason}")


_ELSEWHERE: Final = "(point `history:` at a regular file, or use --no-history)"
_OPEN: Final = os.O_RDWR | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


def _there(path: Path) -> bool:
    """Whether the history file exists: it must be a regular file, never reached through a
    symbolic link (SPEC §8 "Files"; it is read through the same path it is written to).
    Checked before it is opened, so a FIFO or a device there never hangs a run."""
    try:
        status = os.lstat(path)
    except FileNotFoundError:
        return False
    if stat.S_ISLNK(status.st_mode):
        raise HistoryError(
            f"history file {path}: is a symbolic link; nhirecon never reads or writes its"
            f" history through one {_ELSEWHERE}"
        )
    reason = irregular(status.st_mode)
    if reason:
        raise HistoryError(f"history file {path}: {reason} {_ELSEWHERE}")
    return True


CACHE_KIB: Final = 65_536
"""SQLite's page cache for recording a run, in KiB (SQLite's default is 2,000 KiB). Recording a
large run writes the findings' index in fingerprint order, which is random: with 64 MiB,
300,000 findings are recorded 10–15% faster (``bench/history_bench.py``). The cache grows
only as pages are read."""
JOURNALS: Final = ("-journal", "-wal", "-shm")
"""The files SQLite keeps beside a database, which it opens by name."""


def _journals_there(path: Path) -> None:
    """Refuse a link, pipe, device or folder where SQLite would put a journal: it would
    write through it, or fail with a message that blames the history itself."""
    for suffix in JOURNALS:
        side = path.with_name(path.name + suffix)
        try:
            status = os.lstat(side)
        except FileNotFoundError:
            continue
        reason = "is a symbolic link" if stat.S_ISLNK(status.st_mode) else irregular(status.st_mode)
        if reason:
            raise HistoryError(
                f"{side}: {reason}, where SQLite keeps the journal of the history {path};"
                " move it aside"
            )


def _pin(path: Path) -> int:
    """Create the folders (0700) and an empty file (0600) unless they exist, and open the
    file without following a link: the descriptor pins the file SQLite is then given."""
    make_folder(path.parent)
    _journals_there(path)
    handle, created = None, False
    if not _there(path):
        try:
            handle = os.open(path, _OPEN | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
            created = True
        except FileExistsError:  # another run made it meanwhile, or a link was put there
            _there(path)
    if handle is None:
        try:
            handle = os.open(path, _OPEN)
        except OSError as exc:
            if exc.errno == errno.ELOOP:  # a link was put there meanwhile
                _there(path)
            raise
    try:
        _same(handle, path)
        if created or _ours(handle):  # before SQLite makes a journal with the file's mode
            _private(handle, path)  # (os.open's mode went through the umask)
    except BaseException:
        os.close(handle)
        raise
    return handle


def _same(handle: int, path: Path) -> None:
    """Refuse when ``path`` is no longer the regular file ``handle`` has open."""
    pinned = os.fstat(handle)
    try:
        there = os.lstat(path)
    except OSError:
        there = None
    same = there is not None and (there.st_dev, there.st_ino) == (pinned.st_dev, pinned.st_ino)
    if not (same and stat.S_ISREG(pinned.st_mode)):
        raise HistoryError(f"history file {path}: replaced while it was being opened; try again")


def _ours(handle: int) -> bool:
    """Whether the open file's SQLite header carries nhirecon's application id."""
    header = os.pread(handle, 100, 0)
    marked = header[68:72] == APPLICATION_ID.to_bytes(4, "big")  # the header's field
    return header.startswith(b"SQLite format 3\0") and marked


def _private(handle: int, path: Path) -> None:
    """Make the history file 0600, once it is known to be nhirecon's (SQLite gives its
    journal and WAL files the file's mode)."""
    mode = stat.S_IMODE(os.fstat(handle).st_mode)
    if mode != PRIVATE_FILE:
        try:
            os.fchmod(handle, PRIVATE_FILE)
        except OSError as exc:
            raise HistoryError(
                f"history file {path}: mode {mode:04o} and it cannot be made private (0600):"
                f" {exc.strerror or exc}"
            ) from None


def _connect(path: Path, *, readonly: bool) -> sqlite3.Connection:
    if readonly:
        uri = f"{path.resolve().as_uri()}?mode=ro"
        connection = sqlite3.connect(
            uri, uri=True, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None
        )
    else:
        connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
    connection.execute("PRAGMA foreign_keys = ON")
    return connection


def _check(connection: sqlite3.Connection, path: Path, *, writable: bool) -> bool:
    """Refuse foreign or newer files; bring an older (or empty) file up to date.

    Returns whether the file holds a history: ``False`` for an empty file read only.
    """
    application_id = connection.execute("PRAGMA application_id").fetchone()[0]
    version = file_version(connection)
    tables = connection.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    if application_id != APPLICATION_ID and (tables or version or application_id):
        raise HistoryError(
            f"history file {path}: an SQLite database that is not an nhirecon history file "
            "(it was left untouched; point `history:` at another file)"
        )
    if version > SCHEMA_VERSION:
        raise HistoryError(
            f"history file {path}: schema version {version} was written by a newer nhirecon "
            f"(this one reads up to {SCHEMA_VERSION}); upgrade nhirecon"
        )
    if version == SCHEMA_VERSION:
        return True
    if not writable:
        if version == 0 and not tables:
            return False
        if version == 0:
            raise HistoryError(f"history file {path}: schema version 0 needs an upgrade")
        # Each step only adds tables: an older file is read as it is (readers of a table
        # it lacks check its `file_version`), and migrated by the next write.
        return True
    for step in range(version, SCHEMA_VERSION):
        for statement in MIGRATIONS[step].split(";"):
            if statement.strip():
                connection.execute(statement)
    connection.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    return True


def file_version(connection: sqlite3.Connection) -> int:
    """The file's schema version: an older file read as it is lacks the tables added since
    (see :data:`~nhirecon.state.history_schema.MIGRATIONS`)."""
    return int(connection.execute("PRAGMA user_version").fetchone()[0])


@contextlib.contextmanager
def writing(path: Path) -> Iterator[sqlite3.Connection]:
    """One write transaction, taken before anything is read (``BEGIN IMMEDIATE``)."""
    try:
        handle = _pin(path)
    except OSError as exc:
        raise _fail(path, exc) from exc
    try:
        connection = _connect(path, readonly=False)
    except (OSError, sqlite3.Error) as exc:
        os.close(handle)
        raise _fail(path, exc) from exc
    try:
        _same(handle, path)  # SQLite opened the file pinned, not one put there since
        connection.execute(f"PRAGMA cache_size = -{CACHE_KIB}")  # reads the file's header
        connection.execute("BEGIN IMMEDIATE")
        try:
            _check(connection, path, writable=True)
            _private(handle, path)
            yield connection
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")
    except sqlite3.Error as exc:
        raise _fail(path, exc) from exc
    finally:
        connection.close()
        os.close(handle)


@contextlib.contextmanager
def reading(path: Path) -> Iterator[sqlite3.Connection | None]:
    """A read-only connection, or ``None`` when the file does not exist yet."""
    try:
        there = _there(path)
    except OSError as exc:
        raise _fail(path, exc) from exc
    if not there:
        yield None
        return
    try:
        connection = _connect(path, readonly=True)
    except (OSError, sqlite3.Error) as exc:
        raise _fail(path, exc) from exc
    try:
        connection.execute("BEGIN")
        usable = _check(connection, path, writable=False)
        yield connection if usable else None
        connection.execute("COMMIT")
    except sqlite3.Error as exc:
        raise _fail(path, exc) from exc
    finally:
        connection.close()
