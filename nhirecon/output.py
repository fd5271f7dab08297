"""Writing report files: whole or not at all, readable by the owner only."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from nhirecon.errors import NhireconError
from nhirecon.exit_codes import ExitCode

PRIVATE = 0o600


class OutputError(NhireconError):
    """A report file could not be written."""

    exit_code = ExitCode.USAGE


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename (mode 0600)."""
    folder = path.parent if str(path.parent) else Path(".")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise OutputError(f"{path}: cannot write: {exc.strerror or exc}") from None
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
            os.fchmod(out.fileno(), PRIVATE)
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise OutputError(f"{path}: cannot write: {exc.strerror or exc}") from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def write_all(files: Sequence[tuple[Path, str]]) -> None:
    """Write several files; each is whole or absent (nothing is left half-written)."""
    for path, text in files:
        write_atomic(path, text)
