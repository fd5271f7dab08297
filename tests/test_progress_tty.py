"""Progress bars, and the ``--apply`` question, only on a real terminal.

rich takes any stream for a terminal when ``FORCE_COLOR`` is set, so that alone once put
cursor-moving progress bars in a CI job's stderr file, and could have asked the
``--apply`` question on a stderr nobody reads. A terminal is now asked of the stream
itself: ``FORCE_COLOR`` colours what a terminal shows, and nothing more.
"""

from __future__ import annotations

import io
import os
import pty
import re
import select
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from nhirecon.cli import common, remediate

from .conftest import NOW, ROOT, nhirecon_command
from .scim_server import HR_CSV, TOKEN, TOKEN_ENV, estate_config, running, seed_estate

SAMPLE = str(ROOT / "config.sample.yaml")
WRITES = ("POST", "PUT", "PATCH", "DELETE")
ANSI = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]")


def environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "HOME": str(tmp_path / "home"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "COLUMNS": "100",
        **extra,
    }
    env.pop("NO_COLOR", None)  # FORCE_COLOR is to have its full effect
    env.pop("TTY_COMPATIBLE", None)
    return env


class FakeTerminal(io.StringIO):
    """A text stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


class Unsupported(io.StringIO):
    def isatty(self) -> bool:
        raise io.UnsupportedOperation("no file descriptor")


@pytest.fixture
def fresh_console() -> Iterator[None]:
    """The stderr console is made once per process; these tests each want their own."""
    common.stderr.cache_clear()
    yield
    common.stderr.cache_clear()


# --- through the installed command --------------------------------------------------------


@pytest.mark.parametrize("color", ["auto", "always", "never"])
@pytest.mark.parametrize("into", ["pipe", "file"])
def test_forced_colour_puts_no_progress_bar_on_a_stderr_that_is_not_a_terminal(
    tmp_path: Path, color: str, into: str
) -> None:
    command = [nhirecon_command(), "audit", "-c", SAMPLE, "--now", NOW, "--color", color]
    env = environment(tmp_path, FORCE_COLOR="1")
    if into == "pipe":
        result = subprocess.run(
            command, cwd=tmp_path, env=env, capture_output=True, timeout=120, check=False
        )
        code, shown = result.returncode, result.stderr
    else:
        with (tmp_path / "err.txt").open("wb") as err:
            code = subprocess.run(
                command,
                cwd=tmp_path,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=err,
                timeout=120,
                check=False,
            ).returncode
        shown = (tmp_path / "err.txt").read_bytes()
    assert code in (0, 1), shown
    assert b"\x1b" not in shown, shown[:300]
    assert b"pulling" not in shown


def _on_stderr_terminal(tmp_path: Path, env: dict[str, str]) -> tuple[int, bytes, bytes]:
    """Run an audit of the sample with stderr on a pty; (code, stdout, what the pty got).
    stdout goes to a file, so that no pipe fills while the pty is read."""
    terminal, stderr_end = pty.openpty()
    with (tmp_path / "out.json").open("wb") as out:
        process = subprocess.Popen(
            [nhirecon_command(), "audit", "-c", SAMPLE, "--now", NOW, "-f", "json", "--no-history"],
            cwd=tmp_path,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=stderr_end,
        )
    os.close(stderr_end)
    shown = b""
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:  # read as it runs: a full pty would block it
            ready, _, _ = select.select([terminal], [], [], 0.2)
            if not ready:
                if process.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(terminal, 65536)
            except OSError:  # EIO: the command is gone and the pty closed
                break
            if not chunk:
                break
            shown += chunk
        process.wait(timeout=30)
    finally:
        os.close(terminal)
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
    return process.returncode, (tmp_path / "out.json").read_bytes(), shown


@pytest.mark.parametrize("forced", [False, True])
def test_a_terminal_stderr_still_gets_progress_bars(tmp_path: Path, forced: bool) -> None:
    env = environment(tmp_path, **({"FORCE_COLOR": "1"} if forced else {}))
    code, stdout, shown = _on_stderr_terminal(tmp_path, env)
    assert code in (0, 1), shown
    assert b"\x1b[?25l" in shown, "the bars hide the cursor while they run"
    assert re.search(rb"pulling crm +148 records", ANSI.sub(b"", shown)), shown[:500]
    assert b"\x1b" not in stdout and stdout.startswith(b"{"), "the report is untouched"


def test_forced_colour_on_a_stderr_file_is_no_one_to_ask_before_apply(tmp_path: Path) -> None:
    """stdin on a terminal but stderr into a file, ``FORCE_COLOR=1``: the question would be
    written where nobody reads it, so ``--apply`` without ``--yes`` refuses (exit 4) before
    any write, as it does without ``FORCE_COLOR``."""
    (tmp_path / "hr.csv").write_text(HR_CSV, encoding="utf-8")
    with running() as server:
        (tmp_path / "nhirecon.yaml").write_text(estate_config(server), encoding="utf-8")
        before = seed_estate(server)
        master, slave = pty.openpty()
        try:
            with (tmp_path / "err.txt").open("wb") as err:
                process = subprocess.Popen(
                    [nhirecon_command(), "audit", "--now", NOW, "--apply", "-f", "json"],
                    cwd=tmp_path,
                    env=environment(tmp_path, FORCE_COLOR="1", **{TOKEN_ENV: TOKEN}),
                    stdin=slave,
                    stdout=subprocess.DEVNULL,
                    stderr=err,
                    start_new_session=True,
                )
            try:
                code = process.wait(timeout=60)  # a question would wait for an answer
            finally:
                if process.poll() is None:
                    process.kill()
                    process.wait(timeout=30)
        finally:
            os.close(slave)
            os.close(master)
        assert not [seen for seen in server.faults.seen if seen.method in WRITES]
        assert server.users() == before
    shown = (tmp_path / "err.txt").read_text()
    assert code == 4, shown
    assert "no terminal" in shown and "[y/N]" not in shown
    assert "\x1b" not in shown


# --- the functions ------------------------------------------------------------------------


def test_is_terminal_asks_the_stream() -> None:
    assert common.is_terminal(FakeTerminal())
    assert not common.is_terminal(io.StringIO())
    assert not common.is_terminal(object()), "no isatty at all"
    assert not common.is_terminal(None)
    assert not common.is_terminal(Unsupported()), "isatty that raises"
    closed = io.StringIO()
    closed.close()
    assert not common.is_terminal(closed), "closed: isatty raises ValueError"
    read_end, write_end = os.pipe()
    master, slave = pty.openpty()
    with open(read_end, "rb") as pipe, open(write_end, "wb"), open(slave, "rb") as tty:
        assert not common.is_terminal(pipe)
        assert common.is_terminal(tty)
    os.close(master)


@pytest.mark.usefixtures("fresh_console")
def test_progress_bars_skip_a_forced_colour_stream_that_is_not_a_terminal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.delenv("TTY_COMPATIBLE", raising=False)
    captured = io.StringIO()
    monkeypatch.setattr("sys.stderr", captured)
    assert common.stderr().is_terminal, "rich alone would take it for a terminal"
    with common.progress_bars(True) as progress:
        progress("hr", 10)
    assert captured.getvalue() == ""


@pytest.mark.usefixtures("fresh_console")
@pytest.mark.parametrize("forced", [False, True])
def test_progress_bars_draw_on_a_terminal(monkeypatch: pytest.MonkeyPatch, forced: bool) -> None:
    if forced:
        monkeypatch.setenv("FORCE_COLOR", "1")
    else:
        monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.delenv("TTY_COMPATIBLE", raising=False)
    screen = FakeTerminal()
    monkeypatch.setattr("sys.stderr", screen)
    with common.progress_bars(True) as progress:
        progress("hr", 10)
    assert "pulling hr" in screen.getvalue()
    assert "\x1b[?25l" in screen.getvalue()


@pytest.mark.usefixtures("fresh_console")
def test_progress_bars_respect_tty_compatible_0_and_quiet(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TTY_COMPATIBLE", "0")
    screen = FakeTerminal()
    monkeypatch.setattr("sys.stderr", screen)
    with common.progress_bars(True) as progress:
        progress("hr", 10)
    monkeypatch.delenv("TTY_COMPATIBLE")
    with common.progress_bars(False) as progress:  # -q
        progress("hr", 10)
    assert screen.getvalue() == ""


@pytest.mark.usefixtures("fresh_console")
@pytest.mark.parametrize(
    ("stdin", "stderr", "asks"),
    [
        (FakeTerminal, FakeTerminal, True),
        (FakeTerminal, io.StringIO, False),
        (io.StringIO, FakeTerminal, False),
        (io.StringIO, io.StringIO, False),
    ],
)
def test_the_apply_question_needs_stdin_and_stderr_on_a_terminal(
    monkeypatch: pytest.MonkeyPatch, stdin: type[io.StringIO], stderr: type[io.StringIO], asks: bool
) -> None:
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.setattr("sys.stdin", stdin())
    monkeypatch.setattr("sys.stderr", stderr())
    assert (remediate.confirmer() is not None) is asks
