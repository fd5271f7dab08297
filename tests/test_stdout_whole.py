"""A report on stdout arrives whole, or the run fails saying so: a reader that quits early
or a file-size limit is exit 2 with one line on stderr, never a report cut short with the
gate's exit code."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import time
from pathlib import Path

import pytest

from .conftest import Run, nhirecon_command

NOW = "2026-11-28T00:00:00Z"
ACCOUNTS = 4000


@pytest.fixture
def estate(tmp_path: Path) -> Path:
    """An estate whose reports run to hundreds of kilobytes: every account an orphan."""
    (tmp_path / "hr.csv").write_text("id,email,status\nE1,someone@example.com,active\n")
    rows = "".join(f"u{n},user{n}@example.com,yes\n" for n in range(ACCOUNTS))
    (tmp_path / "app.csv").write_text("id,email,active\n" + rows)
    config = tmp_path / "nhirecon.yaml"
    config.write_text(
        "version: 1\n"
        "source: {name: hr, connector: csv, path: hr.csv, map: {id: id, email: email}}\n"
        "targets: [{name: app, connector: csv, path: app.csv,\n"
        "           map: {id: id, email: email, active: active}}]\n"
    )
    return config


def environment(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "NO_COLOR": "1", "XDG_STATE_HOME": str(tmp_path / "state")}


@pytest.mark.parametrize("form", ["table", "markdown", "json"])
def test_a_reader_that_quits_early_is_exit_2_not_a_cut_report(
    tmp_path: Path, estate: Path, form: str
) -> None:
    command = [nhirecon_command(), "audit", "-c", str(estate), "--now", NOW, "-f", form]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=environment(tmp_path),
        cwd=tmp_path,
    )
    assert process.stdout is not None and process.stderr is not None
    time.sleep(1.5)  # the report is written by now, as far as the pipe takes it
    assert process.stdout.read(10)
    process.stdout.close()  # the reader goes away with most of the report unread
    errors = process.stderr.read().decode()
    assert process.wait(timeout=60) == 2, errors
    assert "stdout was closed before the output was written" in errors


def _limit_files_to_100_kib() -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (100 * 1024, 100 * 1024))


@pytest.mark.parametrize("form", ["table", "markdown", "csv", "json", "sarif", "ocsf"])
def test_a_file_size_limit_on_stdout_is_exit_2_naming_stdout(
    tmp_path: Path, estate: Path, form: str
) -> None:
    """One line on stderr, whatever the format and however its pieces fall against the
    buffer: what the limit refused is not tried again when the interpreter exits."""
    # without history: the limit would stop the history first
    command = [nhirecon_command(), "audit", "-c", str(estate), "--now", NOW, "--no-history"]
    with (tmp_path / "out.txt").open("wb") as out:
        done = subprocess.run(
            [*command, "-f", form],
            stdout=out,
            stderr=subprocess.PIPE,
            env=environment(tmp_path),
            cwd=tmp_path,
            preexec_fn=_limit_files_to_100_kib,
            check=False,
        )
    said = done.stderr.decode()
    assert done.returncode == 2, said
    assert said == "nhirecon: error: stdout: cannot write: File too large\n"


def test_a_whole_pipe_gets_the_whole_report(run: Run, tmp_path: Path, estate: Path) -> None:
    piped = run("audit", "-c", str(estate), "--now", NOW, "-f", "markdown", "--no-history")
    filed = run(
        "audit", "-c", str(estate), "--now", NOW, "-f", "markdown", "-o", "r.md", "--no-history"
    )
    assert piped.returncode == filed.returncode == 0
    assert len(piped.stdout) > 200_000
    assert piped.stdout == (tmp_path / "r.md").read_text()


SHORT_OUTPUTS = [
    pytest.param(["--version"], id="version"),
    pytest.param(["--help"], id="help"),
    pytest.param(["audit", "--help"], id="audit-help"),
    pytest.param(["connectors"], id="connectors"),
    pytest.param(["validate"], id="validate"),
    pytest.param(["history"], id="history"),
    pytest.param(["audit", "-q", "--no-history", "--fail-on", "any>0"], id="audit-quiet"),
]
"""Commands whose whole output fits in stdout's buffer: it is written as the command ends
(or by click itself), after the command's own handling of a refused write."""


def _short(tmp_path: Path, estate: Path, args: list[str], stdout: int) -> tuple[int, str]:
    wants_config = args[0] in ("validate", "history", "audit") and "--help" not in args
    command = [nhirecon_command(), *args, *(["-c", str(estate)] if wants_config else [])]
    done = subprocess.run(
        command,
        stdout=stdout,
        stderr=subprocess.PIPE,
        env=environment(tmp_path),
        cwd=tmp_path,
        check=False,
    )
    return done.returncode, done.stderr.decode()


@pytest.mark.parametrize("args", SHORT_OUTPUTS)
def test_a_short_output_to_a_full_disk_is_exit_2_in_one_line(
    tmp_path: Path, estate: Path, args: list[str]
) -> None:
    with open("/dev/full", "wb") as full:
        code, said = _short(tmp_path, estate, args, full.fileno())
    assert (code, said) == (2, "nhirecon: error: stdout: cannot write: No space left on device\n")


@pytest.mark.parametrize("args", SHORT_OUTPUTS)
def test_a_short_output_to_a_reader_gone_is_exit_2_not_1(
    tmp_path: Path, estate: Path, args: list[str]
) -> None:
    """Exit 1 would read as a failed gate, and 120 (the interpreter's last flush) as
    nothing a caller knows."""
    read, write = os.pipe()
    os.close(read)  # the reader is gone before anything is written
    try:
        code, said = _short(tmp_path, estate, args, write)
    finally:
        os.close(write)
    assert (code, said) == (2, "nhirecon: error: stdout was closed before the output was written\n")
