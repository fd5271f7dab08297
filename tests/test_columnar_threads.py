"""Steps of the columnar engine run side by side (``nhirecon.columnar.threads``): results in
order, no more steps held than threads, the first failure in order, an interruption that
stops the running statements; and an export read in many pieces at once loaded exactly as
one read in a single piece."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import duckdb
import pytest

from nhirecon.columnar import export
from nhirecon.columnar.threads import Step, at_once
from nhirecon.connectors import files
from nhirecon.connectors.csv import CsvConnector

from .test_columnar_export import Engine, Estate, check

LONG_QUERY = "SELECT sum(hash(i // 3)) FROM range(20000000000) AS t(i)"
"""A query that runs for minutes unless it is interrupted."""


def test_a_step_may_not_run_steps_of_its_own(con: duckdb.DuckDBPyConnection) -> None:
    """Only the caller's thread hears Ctrl-C: steps within a step would run on."""

    def nested(cursor: duckdb.DuckDBPyConnection) -> list[int]:
        return at_once(cursor, [lambda inner: 1])

    with pytest.raises(RuntimeError, match="within a step"):
        at_once(con, [nested])
    assert at_once(con, [lambda cursor: 2]) == [2]  # the thread that ran it is free again


def _long(ended: list[str]) -> Step[None]:
    """A step running :data:`LONG_QUERY`, which notes in ``ended`` how it ended: interrupted
    by ``at_once``, or by its own backstop a minute later (``at_once`` failed to)."""

    def step(cursor: duckdb.DuckDBPyConnection) -> None:
        backstop = threading.Timer(60, cursor.interrupt)
        backstop.start()
        try:
            cursor.execute(LONG_QUERY).fetchall()
        except duckdb.InterruptException:
            ended.append("backstop" if backstop.finished.is_set() else "interrupted")
            raise
        finally:
            backstop.cancel()
        ended.append("finished")

    return step


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect()
    connection.execute("SET threads = 2")
    yield connection
    connection.close()


def test_results_come_in_the_order_of_the_steps_and_tables_are_shared(
    con: duckdb.DuckDBPyConnection,
) -> None:
    def made(number: int, pause: float) -> Step[int]:
        def step(cursor: duckdb.DuckDBPyConnection) -> int:
            time.sleep(pause)  # the first steps end last
            cursor.execute(f"CREATE TABLE t{number} AS SELECT {number} AS v")
            return number

        return step

    steps = [made(number, 0.05 * (5 - number)) for number in range(5)]
    assert at_once(con, steps) == [0, 1, 2, 3, 4]
    assert con.execute(
        "SELECT sum(v) FROM (" + " UNION ALL ".join(f"FROM t{n}" for n in range(5)) + ")"
    ).fetchone() == (10,)


def test_no_more_steps_are_held_than_duckdb_has_threads(con: duckdb.DuckDBPyConnection) -> None:
    lock = threading.Lock()
    held = 0
    most = 0

    def steps() -> Iterator[Step[int]]:
        nonlocal held, most
        for number in range(12):
            with lock:
                held += 1
                most = max(most, held)

            def step(cursor: duckdb.DuckDBPyConnection, number: int = number) -> int:
                nonlocal held
                (found,) = cursor.execute("SELECT $n * 2", {"n": number}).fetchone() or (0,)
                time.sleep(0.01)
                with lock:
                    held -= 1
                return int(found)

            yield step

    assert at_once(con, steps()) == [n * 2 for n in range(12)]
    assert most == 2


def test_the_first_failure_in_order_is_raised_and_no_later_step_starts(
    con: duckdb.DuckDBPyConnection,
) -> None:
    started: list[int] = []

    def made(number: int) -> Step[int]:
        def step(cursor: duckdb.DuckDBPyConnection) -> int:
            started.append(number)
            if number == 0:
                time.sleep(0.2)  # fails after step 1 has failed
                raise ValueError("step 0")
            if number == 1:
                raise ValueError("step 1")
            return number

        return step

    with pytest.raises(ValueError, match="step 0"):
        at_once(con, [made(number) for number in range(6)])
    assert sorted(started) == [0, 1]


def test_an_error_of_a_lazy_producer_stops_the_running_statements(
    con: duckdb.DuckDBPyConnection,
) -> None:
    """A piece found unreadable while another is in the engine: the error is raised, and
    the statement running is interrupted rather than awaited to its end."""
    ended: list[str] = []

    def steps() -> Iterator[Step[None]]:
        yield _long(ended)
        time.sleep(0.2)
        raise export.Unsupported("a NUL byte")

    with pytest.raises(export.Unsupported, match="a NUL byte"):
        at_once(con, steps())
    assert ended == ["interrupted"]


@pytest.mark.skipif(not hasattr(signal, "pthread_kill"), reason="POSIX signals")
def test_ctrl_c_while_steps_run_interrupts_them(con: duckdb.DuckDBPyConnection) -> None:
    """Ctrl-C reaches the thread that waits for the steps; the steps' statements are
    interrupted, and Ctrl-C is what is raised."""
    ended: list[str] = []
    main = threading.main_thread().ident
    assert main is not None and threading.get_ident() == main
    # A suite started where SIGINT is ignored (in the background of a shell without job
    # control, by some CI runners) would never hear this one: Python's own handler for it.
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        ctrl_c = threading.Timer(0.3, signal.pthread_kill, (main, signal.SIGINT))
        ctrl_c.start()
        with pytest.raises(KeyboardInterrupt):
            at_once(con, [_long(ended), _long(ended)])
    finally:  # None: a handler set outside Python, for which the default stands in
        signal.signal(signal.SIGINT, signal.SIG_DFL if before is None else before)
    assert ended == ["interrupted", "interrupted"]


def test_ctrl_c_as_a_steps_thread_starts_still_waits_for_that_step(
    con: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C may land in ``ThreadPoolExecutor.submit`` once the step's thread has
    started (in ``Thread.start``), before the pool knows of the thread. ``at_once`` must
    still wait for that step, by the connection it holds, and stop its statement: a
    connection closed while in use fails (DuckDB's ``ResourceInUseException``)."""
    ended: list[str] = []
    running = threading.Event()
    start = threading.Thread.start

    def start_then_ctrl_c(thread: threading.Thread) -> None:
        start(thread)
        if thread.name.startswith("nhirecon-columnar"):
            running.wait(10)  # its step holds a connection
            raise KeyboardInterrupt

    def step(cursor: duckdb.DuckDBPyConnection) -> None:
        running.set()
        _long(ended)(cursor)

    monkeypatch.setattr(threading.Thread, "start", start_then_ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        at_once(con, [step])
    assert ended == ["interrupted"], "the step was waited for, and its statement stopped"


def test_a_second_ctrl_c_while_steps_end_still_ends_them(
    con: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C twice: the second lands while ``at_once`` waits for its steps to end, after
    a failure. It still waits for them and closes every connection; then the second
    Ctrl-C is raised."""
    ended: list[str] = []
    sleep = time.sleep
    pauses: list[float] = []

    def pause_then_ctrl_c(seconds: float) -> None:
        pauses.append(seconds)
        if len(pauses) == 1:
            raise KeyboardInterrupt("again")
        sleep(seconds)

    def steps() -> Iterator[Step[None]]:
        yield _long(ended)
        sleep(0.2)
        monkeypatch.setattr(time, "sleep", pause_then_ctrl_c)
        raise export.Unsupported("a NUL byte")

    with pytest.raises(KeyboardInterrupt, match="again"):
        at_once(con, steps())
    assert ended == ["interrupted"]
    assert len(pauses) >= 2, "the wait went on after the second Ctrl-C"


NOTES = {7: '"a, quoted note"', 5: "é", 11: "a\tb", 13: "a\x7fb", 1: "x"}
"""A row's last cell by the first of these numbers that divides its own: quoted, not
ASCII, a tab, a DEL, or plain (each piece of some sizes holds none of those that are not
printable ASCII, and the engine then looks at none of its lines)."""

Loaded = tuple[int, tuple[str, ...], list[tuple[Any, ...]]]


def _loaded(tmp_path: Path, text: str, piece_bytes: int, monkeypatch: pytest.MonkeyPatch) -> Loaded:
    path = tmp_path / "app.csv"
    path.write_text(text, encoding="utf-8", newline="")
    monkeypatch.setattr(export, "PIECE_BYTES", piece_bytes)
    with duckdb.connect() as con:
        con.execute("SET threads = 2")
        connector = SimpleNamespace(path=path, encoding=files.AUTO, delimiter=files.AUTO)
        loading = export.Loading(con, "input1", cast(CsvConnector, connector))
        at_once(con, loading.pieces())
        loaded = loading.finish(con)
        rows = con.execute("SELECT n, cells, quoted, ascii FROM input1 ORDER BY n").fetchall()
    return loaded.rows, loaded.names, rows


def test_an_export_read_in_many_pieces_at_once_is_loaded_as_in_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = ["id,email,note"]
    for number in range(400):
        note = NOTES[next((d for d in NOTES if number % d == 0), 1)]
        lines.append(f"u{number},u{number}@example.com,{note}")
        if number % 50 == 0:
            lines.append("")  # a blank line keeps every later row on its own line number
    text = "\r\n".join(lines) + "\r\n"
    whole = _loaded(tmp_path, text, 16 << 20, monkeypatch)
    for piece_bytes in (40, 97, 1000):
        assert _loaded(tmp_path, text, piece_bytes, monkeypatch) == whole
    count, names, rows = whole
    assert count == 400
    assert names == ("id", "email", "note")
    assert rows[-1][0] == 400 + 1 + 8  # header, 400 rows, 8 blank lines before the last
    assert next(row for row in rows if row[2])[1] == ["u0", "u0@example.com", "a, quoted note"]
    ascii_by_note = {(row[1][2], row[3]) for row in rows if not row[2]}
    assert ascii_by_note == {("x", True), ("é", False), ("a\tb", False), ("a\x7fb", False)}


def test_an_estate_read_in_small_pieces_gives_the_same_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(export, "PIECE_BYTES", 64)
    check(Estate(), tmp_path, Engine.READS, report=True)
