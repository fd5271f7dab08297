"""No action without its audit line: an audit log that is not a regular file, or a link,
is refused before any write, and one that stops taking lines stops the run."""

from __future__ import annotations

import os
import types
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from nhirecon.errors import SafetyError
from nhirecon.remediation import audit_log

from .scim_server import HR_CSV, TOKEN, TOKEN_ENV, estate_config, running, seed_estate
from .test_scim_vendor_writes import WRITES, apply_audit


@pytest.fixture(autouse=True)
def _token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)


def start(folder: Path, server: Any, log: str) -> None:
    (folder / "hr.csv").write_text(HR_CSV, encoding="utf-8")
    config = estate_config(server, target_options="max_workers: 1", extra=f"audit_log: {log}")
    (folder / "nhirecon.yaml").write_text(config, encoding="utf-8")
    seed_estate(server)


def written(server: Any) -> Counter[str]:
    return Counter(seen.method for seen in server.faults.seen if seen.method in WRITES)


@pytest.mark.parametrize("device", ["/dev/full", "/dev/null"])
def test_an_audit_log_that_is_not_a_file_is_refused_before_any_write(
    tmp_path: Path, device: str
) -> None:
    with running() as server:
        start(tmp_path, server, device)
        with pytest.raises(SafetyError, match="not a regular file"):
            apply_audit(tmp_path)
        assert written(server) == Counter()


def test_an_audit_log_behind_a_symbolic_link_is_refused(tmp_path: Path) -> None:
    victim = tmp_path / "profile"
    victim.write_text("export PATH=/usr/bin\n")
    victim.chmod(0o644)
    (tmp_path / "actions.jsonl").symlink_to(victim)
    with running() as server:
        start(tmp_path, server, str(tmp_path / "actions.jsonl"))
        with pytest.raises(SafetyError, match="symbolic link is never followed"):
            apply_audit(tmp_path)
        assert written(server) == Counter()
    assert victim.read_text() == "export PATH=/usr/bin\n"
    assert victim.stat().st_mode & 0o777 == 0o644


def test_an_audit_log_that_stops_taking_lines_stops_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = os.write
    lines = 0

    def failing_after_one(fd: int, data: bytes) -> int:
        nonlocal lines
        lines += 1
        if lines > 1:
            raise OSError(28, "No space left on device")
        return real(fd, data)

    only_here = types.SimpleNamespace(**{**vars(os), "write": failing_after_one})
    monkeypatch.setattr(audit_log, "os", only_here)
    with running() as server:
        start(tmp_path, server, str(tmp_path / "actions.jsonl"))
        with pytest.raises(SafetyError, match=r"No space left on device.*no further action"):
            apply_audit(tmp_path)
        assert sum(written(server).values()) == 2, "the logged one and the one in flight"
    assert len((tmp_path / "actions.jsonl").read_text().splitlines()) == 1
