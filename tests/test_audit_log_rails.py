"""No action without its audit line: an audit log that is not a regular file, or a link,
is refused before any write, and one that stops taking lines stops the run."""

from __future__ import annotations

import json
import os
import re
import resource
import signal
import subprocess
import time
import types
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from nhirecon.errors import SafetyError
from nhirecon.exit_codes import ExitCode
from nhirecon.remediation import audit_log

from .conftest import NOW, nhirecon_command
from .scim_server import (
    HR_CSV,
    TOKEN,
    TOKEN_ENV,
    delay,
    estate_config,
    running,
    seed_estate,
)
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
        result = apply_audit(tmp_path)
        assert result.exit_code is ExitCode.SAFETY
        assert re.search(r"No space left on device.*no further action", result.stopped)
        assert sum(written(server).values()) == 2, "the logged one and the one in flight"
        assert len(result.results) == 2  # both said, though one has no line
        [unlogged] = result.unlogged
        assert unlogged.outcome.value == "done" and unlogged is result.results[1]
    assert len((tmp_path / "actions.jsonl").read_text().splitlines()) == 1


def _limit_files(size: int) -> Callable[[], None]:
    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))

    return limit


def test_a_full_audit_log_loses_no_write_it_made_and_leaves_no_torn_line_behind(
    tmp_path: Path,
) -> None:
    """A file-size limit (a full disk, a quota) part-way through a line: the write the
    line was for, and any in flight, are said on stderr (exit 4); the next run ends the
    torn line before its own, so that every line it writes reads back."""
    log_path = tmp_path / "actions.jsonl"
    limit = 64 * 1024
    env = {**os.environ, TOKEN_ENV: TOKEN, "XDG_STATE_HOME": str(tmp_path / "state")}
    with running() as server:
        start(tmp_path, server, str(log_path))
        command = [nhirecon_command(), "apply", "plan.json", "--yes", "--now", NOW]
        planned = subprocess.run(
            [nhirecon_command(), "plan", "-o", "plan.json", "--now", NOW, "-q"],
            cwd=tmp_path, env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert planned.returncode == 0, planned.stderr
        log_path.write_text('{"earlier": true}\n' * ((limit - 300) // 18))
        done = subprocess.run(
            command, cwd=tmp_path, env=env, capture_output=True, text=True, check=False,
            preexec_fn=_limit_files(limit),
        )  # fmt: skip
        assert done.returncode == 4, done.stderr
        assert "cannot write the audit log (File too large); stopped" in done.stderr
        made = {
            seen.path.rsplit("/", 1)[-1] for seen in server.faults.seen if seen.method in WRITES
        }
        assert made, "a write was made before the log filled up"
        logged = {e["account"]["id"] for e in audit_log.read_audit_log(log_path) if "account" in e}
        said = {line for line in done.stderr.splitlines() if "not in the audit log: " in line}
        assert said, "the write whose line was cut"
        for account in made:  # every write made is in the log, or said not to be
            assert account in logged or any(f"[{account}]" in line for line in said), account
        before = log_path.read_text()
        assert not before.endswith("\n"), "the limit cut a line"
        again = subprocess.run(
            command, cwd=tmp_path, env=env, capture_output=True, text=True, check=False
        )
        assert again.returncode == 0, again.stderr
    after = log_path.read_text()
    assert after.startswith(before + "\n")  # the torn line ended, and nothing else touched
    entries = [json.loads(line) for line in after[len(before) + 1 :].splitlines()]
    assert entries and {entry["outcome"] for entry in entries} <= {"done", "skipped"}
    assert len(audit_log.read_audit_log(log_path)) == after.count("\n") - 1  # but the torn


def _default_interrupt() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # whatever the suite's own parent ignores


@pytest.mark.parametrize("signals", [1, 2], ids=["once", "twice"])
def test_an_interrupt_loses_no_write_and_says_what_was_done(tmp_path: Path, signals: int) -> None:
    """Ctrl-C while writes are in flight: they finish and are logged, even through a
    second Ctrl-C (the wait is not cut short), no traceback, and stderr says how far the
    run got and where the log is."""
    log_path = tmp_path / "actions.jsonl"
    env = {**os.environ, TOKEN_ENV: TOKEN, "XDG_STATE_HOME": str(tmp_path / "state")}
    with running() as server:
        (tmp_path / "hr.csv").write_text(HR_CSV, encoding="utf-8")
        config = estate_config(
            server, target_options="max_workers: 2", extra=f"audit_log: {log_path}"
        )
        (tmp_path / "nhirecon.yaml").write_text(config, encoding="utf-8")
        seed_estate(server)
        for method in ("PATCH", "DELETE"):
            server.faults.add(delay(1.5), method=method, path="/Users/", times=None)
        process = subprocess.Popen(
            [nhirecon_command(), "audit", "--apply", "--yes", "--now", NOW, "-q"],
            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, preexec_fn=_default_interrupt,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while not any(seen.method in WRITES for seen in server.faults.seen):
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.02)
        for _ in range(signals):
            process.send_signal(signal.SIGINT)
            time.sleep(0.05)
        _, errors = process.communicate(timeout=60)
        made = [seen for seen in server.faults.seen if seen.method in WRITES]
    assert process.returncode == 130, errors
    assert "Traceback" not in errors
    logged = audit_log.read_audit_log(log_path)
    assert len(logged) == len(made) == 2, errors  # both in flight, neither lost
    assert {entry["outcome"] for entry in logged} == {"done"}
    said = "interrupted after 2 of 4 actions (2 done, 0 skipped, 0 failed), each in the audit log"
    assert f"{said} {log_path}" in errors


def test_no_line_joins_one_the_disk_cut_short(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker still in flight when a line was cut must not append its own to the
    fragment (where no reader would find it): it is refused, and so counted unlogged."""
    real = os.write
    calls = 0

    def cut_second_line(fd: int, data: Any) -> int:
        nonlocal calls
        calls += 1
        if calls == 2:
            return real(fd, bytes(data)[:10])  # part of the line: the disk is full
        if calls == 3:
            raise OSError(28, "No space left on device")
        return real(fd, data)

    monkeypatch.setattr(
        audit_log, "os", types.SimpleNamespace(**{**vars(os), "write": cut_second_line})
    )
    log = audit_log.AuditLog(tmp_path / "actions.jsonl")
    log.write({"n": 1})
    with pytest.raises(SafetyError, match="No space left on device"):
        log.write({"n": 2, "pad": "x" * 40})
    monkeypatch.setattr(audit_log, "os", os)  # the disk has room again
    with pytest.raises(SafetyError, match="No space left on device"):
        log.write({"n": 3})
    log.close()
    text = (tmp_path / "actions.jsonl").read_text()
    assert text == '{"n": 1}\n{"n": 2, "' and calls == 3
