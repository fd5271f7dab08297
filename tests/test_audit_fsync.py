"""Each audit line is synced to disk before the next one is written (README, Security model:
"written in one ``write`` and synced to disk before the next"), so a run killed at any
moment leaves only whole lines that are really on disk."""

from __future__ import annotations

import os
import threading
import types
from pathlib import Path

import pytest

from nhirecon.errors import SafetyError
from nhirecon.remediation import audit_log

from .scim_server import TOKEN, TOKEN_ENV, running
from .test_audit_log_rails import start
from .test_scim_vendor_writes import apply_audit


class Calls:
    """What the audit log asked of the operating system, in order."""

    def __init__(self) -> None:
        self.events: list[tuple[str, int]] = []
        self.synced_files: list[tuple[int, int]] = []
        """(device, inode) of each descriptor synced, read while it was open."""

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        real_write, real_fsync = os.write, os.fsync

        def write(fd: int, data: bytes) -> int:
            self.events.append(("write", fd))
            return real_write(fd, data)

        def fsync(fd: int) -> None:
            self.events.append(("fsync", fd))
            facts = os.fstat(fd)
            self.synced_files.append((facts.st_dev, facts.st_ino))
            real_fsync(fd)

        # Only the audit log module sees these: the rest of the process keeps the real ones.
        seen_by_module = types.SimpleNamespace(**{**vars(os), "write": write, "fsync": fsync})
        monkeypatch.setattr(audit_log, "os", seen_by_module)


def entry(number: int) -> dict[str, object]:
    return {"run": "r1", "target": "app", "account": f"a{number}", "outcome": "done"}


def test_every_line_is_synced_once_on_the_audit_logs_own_descriptor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = Calls()
    calls.install(monkeypatch)
    path = tmp_path / "state" / "actions.jsonl"
    log = audit_log.AuditLog(path)
    try:
        for number in range(5):
            log.write(entry(number))
            assert calls.events[-2:] == [("write", log._fd), ("fsync", log._fd)], (
                "a line must be synced before the next one is written"
            )
    finally:
        log.close()
    facts = path.stat()
    assert calls.events == [("write", log._fd), ("fsync", log._fd)] * 5
    assert calls.synced_files == [(facts.st_dev, facts.st_ino)] * 5
    assert [line["account"] for line in audit_log.read_audit_log(path)] == [
        f"a{number}" for number in range(5)
    ]


def test_lines_from_several_threads_are_each_synced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Workers share one log: every line is still followed by its own sync, never two
    writes before a sync."""
    calls = Calls()
    calls.install(monkeypatch)
    path = tmp_path / "actions.jsonl"
    log = audit_log.AuditLog(path)
    try:
        workers = [
            threading.Thread(target=lambda n=n: [log.write(entry(n * 10 + i)) for i in range(5)])
            for n in range(4)
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=30)
            assert not worker.is_alive()
    finally:
        log.close()
    assert calls.events == [("write", log._fd), ("fsync", log._fd)] * 20
    assert len(audit_log.read_audit_log(path)) == 20


def test_a_line_that_cannot_be_synced_stops_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sync that fails is a line that may not be on disk: no further action."""

    def failing(fd: int) -> None:
        raise OSError(5, "Input/output error")

    seen_by_module = types.SimpleNamespace(**{**vars(os), "fsync": failing})
    monkeypatch.setattr(audit_log, "os", seen_by_module)
    log = audit_log.AuditLog(tmp_path / "actions.jsonl")
    try:
        with pytest.raises(SafetyError, match="Input/output error"):
            log.write(entry(1))
        assert "no further action" in log.failure
    finally:
        log.close()


def test_a_real_apply_syncs_each_line_it_appends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through ``--apply`` against a real SCIM server: as many syncs of the audit log as it
    has lines, each right after its write."""
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    calls = Calls()
    calls.install(monkeypatch)
    path = tmp_path / "actions.jsonl"
    with running() as server:
        start(tmp_path, server, str(path))
        result = apply_audit(tmp_path)
    lines = audit_log.read_audit_log(path)
    assert len(lines) >= 2, result
    facts = path.stat()
    assert calls.synced_files == [(facts.st_dev, facts.st_ino)] * len(lines)
    kinds = [kind for kind, _ in calls.events]
    assert kinds == ["write", "fsync"] * len(lines)
