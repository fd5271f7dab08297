"""Writing report files: whole or not at all, readable by the owner only (and so are the
folders made for them).

Files are UTF-8. A lone surrogate (``"\\ud800"`` from a JSON export or a SCIM answer) has
no UTF-8 form; it is written as its escape ``\\ud800``, which in a JSON file is the same
value exactly and elsewhere shows what was there."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from nhirecon.errors import NhireconError
from nhirecon.exit_codes import ExitCode

PRIVATE = 0o600
PRIVATE_FOLDER = 0o700
UNENCODABLE = "backslashreplace"
"""How text that UTF-8 cannot carry (lone surrogates) is written: as ``\\udXXXX``."""


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


def _stage(path: Path, text: str) -> Path:
    """Write ``text`` to a private temporary file beside ``path``; return its path."""
    folder = path.parent
    try:
        make_folder(folder)
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise OutputError(f"{path}: cannot write: {exc.strerror or exc}") from None
    try:
        with os.fdopen(handle, "w", encoding="utf-8", errors=UNENCODABLE, newline="") as out:
            os.fchmod(out.fileno(), PRIVATE)
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        if isinstance(exc, OSError):
            raise OutputError(f"{path}: cannot write: {exc.strerror or exc}") from None
        raise
    return Path(temporary)


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename (mode 0600)."""
    write_all([(path, text)])


def write_all(files: Sequence[tuple[Path, str]]) -> None:
    """Write several files all or none: every file is staged before any is put in place."""
    staged: list[tuple[Path, Path]] = []
    try:
        for path, text in files:
            staged.append((_stage(path, text), path))
        for temporary, path in staged:
            try:
                os.replace(temporary, path)
            except OSError as exc:
                raise OutputError(f"{path}: cannot write: {exc.strerror or exc}") from None
    finally:
        for temporary, _ in staged:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
