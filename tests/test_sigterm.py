"""SIGTERM (a cron or CI timeout) stops a command the way Ctrl-C does: ``finally`` blocks
run, a report file being staged is removed, the destination keeps what it held, and the
exit code is 130 (interrupted, as for Ctrl-C) with one line on stderr."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import duckdb
import pytest
import typer

from nhirecon import output
from nhirecon.cli import common
from nhirecon.columnar import engine

from .conftest import NOW, nhirecon_command
from .test_columnar_export import APP, HR, Estate, triaged

ACCOUNTS = 100_000
"""Accounts in the target, every one an orphan: a JSON report of about 90 MB, whose
staging takes a good fraction of a second, long enough to be caught in the act."""
STEP_SECONDS = 120


def big_estate(folder: Path) -> Path:
    (folder / "hr.csv").write_text("id,email\nE0,e0@example.com\n", encoding="utf-8")
    rows = "".join(f"U{n},u{n}@example.com,true\n" for n in range(ACCOUNTS))
    (folder / "app.csv").write_text("user_id,email,enabled\n" + rows, encoding="utf-8")
    config = folder / "c.yaml"
    config.write_text(
        "version: 1\n"
        "source: {name: hr, connector: csv, path: hr.csv, map: {id: id, email: email}}\n"
        "targets:\n"
        "  - name: app\n"
        "    connector: csv\n"
        "    path: app.csv\n"
        "    map: {id: user_id, email: email, active: enabled}\n"
        "    correlate: [{account: email, identity: email}]\n",
        encoding="utf-8",
    )
    return config


def test_sigterm_while_a_report_is_written_removes_the_temporary_file(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    folder = tmp_path / "work"
    folder.mkdir()
    config = big_estate(folder)
    destination = folder / "big.json"
    destination.write_text("the report of yesterday\n", encoding="utf-8")
    streams = tmp_path_factory.mktemp("streams")  # no pipe can fill while nobody reads it
    command = [
        nhirecon_command(),
        "audit",
        "-c",
        str(config),
        "--now",
        NOW,
        "--no-history",
        "-f",
        "json",
        "-o",
        str(destination),
    ]
    env = {**os.environ, "HOME": str(tmp_path / "home"), "XDG_STATE_HOME": str(tmp_path)}
    with (streams / "stdout").open("wb") as out, (streams / "stderr").open("wb") as err:
        process = subprocess.Popen(
            command, cwd=folder, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err
        )
    try:
        deadline = time.monotonic() + STEP_SECONDS
        while not list(folder.glob(".big.json.*.tmp")):
            assert process.poll() is None, "it ended before the report was staged"
            assert time.monotonic() < deadline, "no temporary file appeared"
            time.sleep(0.002)
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=STEP_SECONDS)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=STEP_SECONDS)
    stderr = (streams / "stderr").read_text()
    assert process.returncode == 130, stderr
    assert stderr == "nhirecon: error: terminated\n"
    assert (streams / "stdout").read_text() == ""
    assert sorted(path.name for path in folder.iterdir()) == [
        "app.csv",
        "big.json",
        "c.yaml",
        "hr.csv",
    ], "no temporary file is left"
    assert destination.read_text(encoding="utf-8") == "the report of yesterday\n"


@pytest.mark.parametrize("stop", [common.Terminated, KeyboardInterrupt])
def test_a_stop_the_moment_the_temporary_file_is_made_leaves_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stop: type[BaseException]
) -> None:
    """SIGTERM or Ctrl-C raises on whatever line the main thread is at, the one just after
    the temporary file was created too, before any code that knows its name has run: the
    test above lands there now and then. Made certain here: the file is created, then the
    stop is raised."""
    destination = tmp_path / "report.json"
    destination.write_text("the report of yesterday\n", encoding="utf-8")
    real_open = os.open
    made: list[str] = []

    def made_then_stopped(path: Any, flags: int, mode: int = 0o777, **options: Any) -> int:
        fd = real_open(path, flags, mode, **options)
        if os.path.basename(os.fsdecode(path)).startswith(".report.json."):
            made.append(os.fsdecode(path))
            os.close(fd)
            raise stop
        return fd

    with monkeypatch.context() as patch, pytest.raises(stop):
        patch.setattr(os, "open", made_then_stopped)
        output.write_all([(destination, "{}\n")])
    assert made, "the temporary file was made"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["report.json"]
    assert destination.read_text(encoding="utf-8") == "the report of yesterday\n"


# --- run() in this process ----------------------------------------------------------------


def sentinel(signum: int, frame: FrameType | None) -> None:
    raise AssertionError("the previous handler was called")


@pytest.fixture
def previous_handler() -> Iterator[None]:
    """A handler of the test's own in place before ``run``, put back after the test."""
    before = signal.signal(signal.SIGTERM, sentinel)
    yield
    signal.signal(signal.SIGTERM, before)


@pytest.mark.usefixtures("previous_handler")
def test_run_turns_sigterm_into_130_after_the_finally_blocks(
    capsys: pytest.CaptureFixture[str],
) -> None:
    cleaned: list[str] = []

    def body() -> None:
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # the handler runs before this ends
            cleaned.append("never reached")
        finally:
            cleaned.append("cleaned")

    with pytest.raises(typer.Exit) as stopped:
        common.run(body)
    assert stopped.value.exit_code == 130
    assert cleaned == ["cleaned"]
    assert capsys.readouterr().err == "nhirecon: error: terminated\n"
    assert signal.getsignal(signal.SIGTERM) is sentinel, "the previous handler is back"


@pytest.mark.usefixtures("previous_handler")
def test_a_second_sigterm_does_not_cut_the_clean_up_short() -> None:
    cleaned: list[str] = []

    def body() -> None:
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)
        finally:
            os.kill(os.getpid(), signal.SIGTERM)  # let go: the first one is unwinding
            time.sleep(0.01)
            cleaned.append("cleaned")

    with pytest.raises(typer.Exit) as stopped:
        common.run(body)
    assert stopped.value.exit_code == 130
    assert cleaned == ["cleaned"]


@pytest.mark.usefixtures("previous_handler")
def test_run_restores_the_previous_handler_after_a_body_that_returns_or_fails() -> None:
    seen: list[object] = []

    def body() -> int:
        seen.append(signal.getsignal(signal.SIGTERM))
        return 7

    assert common.run(body) == 7
    assert seen[0] is not sentinel, "its own handler while the body runs"
    assert signal.getsignal(signal.SIGTERM) is sentinel

    def failing() -> None:
        raise RuntimeError("a bug")

    with pytest.raises(typer.Exit) as stopped:
        common.run(failing)
    assert stopped.value.exit_code == 70
    assert signal.getsignal(signal.SIGTERM) is sentinel


def test_an_ignored_sigterm_stays_ignored() -> None:
    """A parent that set SIGTERM to be ignored (``SIG_IGN``) has chosen; it stays so."""
    before = signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        seen: list[object] = []
        common.run(lambda: seen.append(signal.getsignal(signal.SIGTERM)))
        assert seen == [signal.SIG_IGN]
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGTERM, before)


@pytest.mark.usefixtures("previous_handler")
def test_run_outside_the_main_thread_leaves_signals_alone() -> None:
    """No handler can be set there (``signal.signal`` raises ValueError): the body runs."""
    results: list[object] = []
    failures: list[BaseException] = []

    def in_thread() -> None:
        try:
            results.append(common.run(lambda: signal.getsignal(signal.SIGTERM)))
        except BaseException as exc:
            failures.append(exc)

    worker = threading.Thread(target=in_thread)
    worker.start()
    worker.join(timeout=30)
    assert not failures
    assert results == [sentinel]
    assert signal.getsignal(signal.SIGTERM) is sentinel


def wakeup_fd() -> int:
    """The descriptor :func:`signal.set_wakeup_fd` set last, left as it is."""
    current = signal.set_wakeup_fd(-1)
    signal.set_wakeup_fd(current)
    return current


@pytest.mark.usefixtures("previous_handler")
@pytest.mark.parametrize(
    ("number", "said"), [(signal.SIGTERM, "terminated"), (signal.SIGINT, "interrupted")]
)
def test_a_signal_while_the_columnar_engine_runs_a_query_stops_it(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    number: signal.Signals,
    said: str,
) -> None:
    """The signal stops the query the main thread runs, and DuckDB raises an error of its
    own in place of what the handler raised; the run still says ``terminated`` for
    SIGTERM, not ``interrupted``.

    With 8 threads, one of DuckDB's own takes the whole query and DuckDB would see the
    signal only when the query ends (hours here): the engine's watcher must interrupt
    it. A watchdog ends the query after a minute, and the test then fails."""
    config = Estate(hr=HR, app=APP).config(tmp_path)
    watchdog: list[threading.Timer] = []
    # Python's own handler for Ctrl-C, even in a suite started where SIGINT is ignored.
    before_int = signal.signal(signal.SIGINT, signal.default_int_handler)

    def slow(con: duckdb.DuckDBPyConnection, *args: object, **kwargs: object) -> object:
        con.execute("SET threads = 8")
        watchdog.append(threading.Timer(60, con.interrupt))
        watchdog[0].start()
        threading.Timer(0.2, os.kill, (os.getpid(), number)).start()
        con.execute("SELECT sum(hash(i // 3)) FROM range(1000000000000) AS t(i)").fetchall()
        raise AssertionError("the query was not interrupted")

    monkeypatch.setattr(engine.deciding, "decide", slow)
    wakeup_before = wakeup_fd()
    try:
        with pytest.raises(typer.Exit) as stopped:
            common.run(lambda: triaged(config))
    finally:  # None: a handler set outside Python, for which the default stands in
        signal.signal(signal.SIGINT, signal.SIG_DFL if before_int is None else before_int)
    assert watchdog[0].is_alive(), "the signal did not stop the query; the watchdog did"
    watchdog[0].cancel()
    assert stopped.value.exit_code == 130
    assert capsys.readouterr().err == f"nhirecon: error: {said}\n"
    assert signal.getsignal(signal.SIGTERM) is sentinel, "the previous handler is back"
    assert wakeup_fd() == wakeup_before, "the wakeup descriptor is put back"
    watching = [thread.name for thread in threading.enumerate() if "signals" in thread.name]
    assert watching == [], "the watcher has stopped"
