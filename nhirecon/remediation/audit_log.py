"""The audit log of remediation writes: one JSON line per outcome, on disk before the next."""

from __future__ import annotations

import json
import os
import stat
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from nhirecon.config import Config
from nhirecon.errors import SafetyError
from nhirecon.output import make_folder
from nhirecon.state import paths

"""Relative to the config file's folder."""
PRIVATE: Final = 0o600


class AuditLog:
    """JSON lines, appended; each line is flushed and synced to disk before the next.

    The file is created with mode 0600 and kept so. Safe to share between threads.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self.failure = ""
        """Why a line could not be written; once set, no further action may be attempted."""
        try:
            make_folder(path.parent)
            # O_NONBLOCK: opening a named pipe for writing would wait for a reader forever
            flags = os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK
            self._readable = True  # to find a line a full disk cut short (_end_torn_line)
            try:
                self._fd = os.open(path, flags | os.O_RDWR, PRIVATE)
            except PermissionError:  # a log its owner may write but not read (mode 0200)
                self._readable = False
                self._fd = os.open(path, flags | os.O_WRONLY, PRIVATE)
        except OSError as exc:
            raise SafetyError(
                f"{path}: cannot open the audit log ({exc.strerror or exc}; a symbolic link"
                " is never followed); nothing is written without it"
            ) from None
        if not stat.S_ISREG(os.fstat(self._fd).st_mode):
            os.close(self._fd)
            raise SafetyError(
                f"{path}: the audit log is not a regular file; nothing is written without it"
            )
        os.set_blocking(self._fd, True)
        try:
            os.fchmod(self._fd, PRIVATE)
        except OSError as exc:  # another user's file
            os.close(self._fd)
            raise SafetyError(
                f"{path}: cannot make the audit log private ({exc.strerror or exc}); nothing is"
                " written without it"
            ) from None
        try:
            self._end_torn_line()
        except OSError as exc:
            os.close(self._fd)
            raise SafetyError(
                f"{path}: cannot write the audit log ({exc.strerror or exc}); nothing is"
                " written without it"
            ) from None

    def _end_torn_line(self) -> None:
        """End the last line with a line break if it lacks one: a run stopped by a full
        disk may have written part of a line, and this run's first line must not be
        appended to it (a reader skips the torn line alone). A log that cannot be read is
        left as it is."""
        size = os.fstat(self._fd).st_size
        if self._readable and size and os.pread(self._fd, 1, size - 1) != b"\n":
            self._whole(b"\n")
            os.fsync(self._fd)

    def _whole(self, data: bytes) -> None:
        """Write all of ``data``: the kernel may take only part of it (a file-size limit,
        a disk filling up), and then refuses the rest with the reason."""
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            if not written:
                raise OSError(f"wrote 0 of {len(view)} bytes")
            view = view[written:]

    def write(self, entry: Mapping[str, Any]) -> None:
        """Append one line and sync it to disk; :class:`SafetyError` when it cannot be, after
        which :attr:`failure` stops every further action."""
        text = json.dumps(entry, ensure_ascii=False, sort_keys=True) + "\n"
        line = text.encode("utf-8", "backslashreplace")  # a lone surrogate: its JSON escape
        with self._lock:
            if self.failure:  # a line may be torn: one written now would join it, unread
                raise SafetyError(self.failure)
            try:
                self._whole(line)
                os.fsync(self._fd)
            except OSError as exc:
                self.failure = (
                    f"{self.path}: cannot write the audit log ({exc.strerror or exc}); stopped,"
                    " no further action is attempted"
                )
                raise SafetyError(self.failure) from None

    def close(self) -> None:
        with self._lock:
            os.close(self._fd)


def audit_log_path(config: Config) -> Path:
    """``audit_log:`` from the config, else one file per config in the state directory
    (:func:`nhirecon.state.paths.default_audit_log`)."""
    return config.audit_log or paths.default_audit_log(config.path)


def read_audit_log(path: Path) -> list[dict[str, Any]]:
    """Every entry of an audit log (for tests and reviews); a torn last line is skipped."""
    entries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return entries
