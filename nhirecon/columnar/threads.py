"""Statements of the columnar engine run side by side, each on a connection of its own.

DuckDB runs one statement on several threads only when it reads several row groups
(122,880 rows each): an export of a hundred thousand rows is read by one thread, and
splitting a piece of text into lines is one thread's work at any size. Independent steps
(the exports, the pieces of one, the targets) are therefore run at once, as many as
DuckDB has threads, on connections to the same database (``cursor()``: a table made on
one is seen by all, which is why the engine's tables are not ``TEMP``, a connection's
own). DuckDB lets go of Python's lock while a statement runs. What a signal's handler
raises while they run is noted (:func:`signals_noted`), for DuckDB swallows it, and a
statement of the calling thread is interrupted by a thread that waits for the signal
(:func:`signals_interrupt`), for DuckDB may not look for it until the statement ends.
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from types import FrameType
from typing import TYPE_CHECKING, TypeVar

from nhirecon.signals import Handler, replaced_handlers

if TYPE_CHECKING:
    import duckdb

T = TypeVar("T")
ENDING_POLL = 0.005
"""Seconds between two looks, while steps end, at whether every connection is back."""
_in_step = threading.local()
"""``running`` is set in a thread while it runs a step."""

Step = Callable[["duckdb.DuckDBPyConnection"], T]
"""One independent step: given a connection of its own, it runs its statements."""


def at_once(con: duckdb.DuckDBPyConnection, steps: Iterable[Step[T]]) -> list[T]:
    """Run ``steps`` side by side, as many at once as DuckDB has threads (its ``threads``
    setting), and return their results in their order. ``steps`` may be lazy: the next is
    taken only when a connection is free, so at most that many are held at once.

    The first step to fail (in their order) raises its error once every running step has
    ended; the steps not yet started are not started. If the caller's thread is
    interrupted (Ctrl-C, SIGTERM), the running statements are interrupted too
    (``interrupt()``), and the interruption is raised when they have ended. A step must
    not run ``at_once`` itself: only the caller's thread hears Ctrl-C, and the inner
    steps' statements would run on to their end.

    Every step is waited for by the connection it holds: a Ctrl-C in
    ``ThreadPoolExecutor.submit`` can come after the step's thread has started and before
    the pool knows of it, and a connection closed while in use fails. A second Ctrl-C
    while the steps end does not cut that short; the first is raised at the end."""
    if getattr(_in_step, "running", False):
        raise RuntimeError("at_once() within a step: Ctrl-C would not reach its statements")
    (threads,) = con.execute("SELECT current_setting('threads')").fetchone() or (1,)
    cursors = [con.cursor() for _ in range(max(1, int(threads)))]
    idle: queue.SimpleQueue[duckdb.DuckDBPyConnection] = queue.SimpleQueue()
    for cursor in cursors:
        idle.put(cursor)

    closing = threading.Event()

    def run(step: Step[T]) -> T:
        cursor = idle.get()
        try:
            if closing.is_set():  # at_once is ending: the step is not started
                raise CancelledError
            _in_step.running = True
            try:
                return step(cursor)
            finally:
                _in_step.running = False
        finally:
            idle.put(cursor)

    def end(interrupt: bool) -> None:
        """Wait until no step holds a connection, interrupting their statements if asked;
        then close them. Safe to call again."""
        closing.set()
        while idle.qsize() < len(cursors):
            if interrupt:
                for cursor in cursors:
                    # One closed by an earlier call refuses; a step that took it back
                    # after that finds at_once ending and starts nothing.
                    with contextlib.suppress(Exception):
                        cursor.interrupt()
            time.sleep(ENDING_POLL)
        pool.shutdown(wait=False, cancel_futures=True)
        for cursor in cursors:
            cursor.close()

    results: list[T] = []
    pool = ThreadPoolExecutor(len(cursors), thread_name_prefix="nhirecon-columnar")
    running: deque[Future[T]] = deque()
    failed = True
    stopped: BaseException | None = None
    try:
        for step in steps:
            running.append(pool.submit(run, step))
            if len(running) == len(cursors):
                results.append(running.popleft().result())
        while running:
            results.append(running.popleft().result())
        failed = False
    finally:
        # A signal's handler may raise anywhere, even here (Ctrl-C twice), and in
        # ThreadPoolExecutor.submit after its thread has started: every step is waited
        # for by the connections it holds, not by its thread, and the end is done again
        # until it is done; then the first signal is raised.
        while True:
            try:
                end(interrupt=failed or stopped is not None)
                break
            except Exception:
                raise
            except BaseException as exc:  # Ctrl-C or SIGTERM, again
                stopped = stopped or exc
        if stopped is not None:
            raise stopped
    return results


@contextlib.contextmanager
def signals_noted(raised: list[BaseException]) -> Iterator[None]:
    """While the block runs, what the handlers of SIGINT and SIGTERM raise is also added to
    ``raised``: DuckDB swallows it when the signal stops a query (it raises an error of its
    own), and the run must stop with it (``terminated`` for SIGTERM, not ``interrupted``).
    Handlers are left alone outside the main thread and where they are not Python's."""

    def noting(handler: Handler) -> Handler:
        def noted(number: int, frame: FrameType | None) -> None:
            try:
                handler(number, frame)
            except BaseException as exc:
                raised.append(exc)
                raise

        return noted

    with replaced_handlers(noting):
        yield


def signals_interrupt(con: duckdb.DuckDBPyConnection, body: Callable[[], T]) -> T:
    """Run ``body``, and while it runs let SIGINT or SIGTERM interrupt the statement
    ``con`` runs (``interrupt()``), from a thread that waits for them.

    DuckDB looks for a signal only between the pieces of a query that the calling thread
    runs itself. When one of its own threads takes the whole query, the calling thread
    waits for it, and the signal is seen when the query ends, minutes later on a large
    estate (seen on most runs with 4 threads or more, on some with 2). The signal's number
    reaches the waiting thread through Python's wakeup file descriptor
    (:func:`signal.set_wakeup_fd`), which the interpreter's C handler writes at once,
    whatever the main thread is doing; a descriptor set before is still written (and is
    put back with Python's default ``warn_on_full_buffer``, which cannot be read).

    The signal's Python handler is then still due. It runs here, before the watcher is
    stopped, and what it raises leaves in place of ``body``'s error; the caller's ``with``
    blocks then undo what they did (a handler that ran in a context manager's ``__exit__``
    would stop it before it undid anything). Outside the main thread, where no signal is
    delivered, ``body`` just runs."""
    if threading.current_thread() is not threading.main_thread():
        return body()
    wanted = {signal.SIGINT, signal.SIGTERM}
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    before = signal.set_wakeup_fd(write_end, warn_on_full_buffer=False)

    def watch() -> None:
        while numbers := os.read(read_end, 64):
            if before >= 0:
                with contextlib.suppress(OSError):
                    os.write(before, numbers)
            if wanted.intersection(numbers):
                con.interrupt()

    watcher = threading.Thread(target=watch, name="nhirecon-signals", daemon=True)
    watcher.start()
    try:
        return body()
    finally:
        try:
            _handlers_due()
        finally:
            signal.set_wakeup_fd(before)
            os.close(write_end)  # the watcher reads the end of the pipe and returns
            watcher.join()
            os.close(read_end)


def _handlers_due() -> None:
    """Nothing: Python runs the handlers of signals that arrived when a function starts."""
