"""Executing remediation actions: each target's on its own workers, each outcome appended
to the audit log by the worker that got it, as soon as it has it (SPEC §8 "Audit log").

No rail is checked here (:mod:`nhirecon.remediation.apply` checks them first). What is
attempted is collected as it happens (:class:`Executed`), so that an interrupted run can
still say what it did; once the audit log refuses a line, nothing more is attempted.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from nhirecon.core.values import format_datetime
from nhirecon.errors import SafetyError
from nhirecon.remediation.actions import ActionResult, Task, Writer, perform
from nhirecon.remediation.audit_log import AuditLog

log = logging.getLogger(__name__)

Progress = Callable[[str, int], None]
Clock = Callable[[], datetime]


def wall_clock() -> datetime:
    return datetime.now(UTC)


def _entry(run_id: str, result: ActionResult, clock: Clock) -> dict[str, Any]:
    action = result.action
    return {
        "time": format_datetime(clock().replace(microsecond=0)),
        "run_id": run_id,
        "target": action.target,
        "account": {"id": action.account_id, "username": action.username, "email": action.email},
        "action": action.action.value,
        "findings": [
            {"kind": reason.kind.value, "fingerprint": reason.fingerprint}
            for reason in action.findings
        ],
        "outcome": result.outcome.value,
        "http_status": result.status,
        "detail": result.detail,
        "observed": result.observed,
    }


@dataclass
class Executed:
    """What :func:`execute` did: the actions attempted, and those of them whose line the
    audit log could not take."""

    results: list[ActionResult] = field(default_factory=list)
    unlogged: list[ActionResult] = field(default_factory=list)

    def in_order(self, tasks: Sequence[Task]) -> tuple[tuple[ActionResult, ...], ...]:
        order = {task.action.key: index for index, task in enumerate(tasks)}
        return tuple(
            tuple(sorted(found, key=lambda result: order[result.action.key]))
            for found in (self.results, self.unlogged)
        )


def execute(
    tasks: Sequence[Task],
    writers: Mapping[str, Writer],
    audit_log: AuditLog,
    *,
    run_id: str,
    workers: Mapping[str, int],
    progress: Progress = lambda label, count: None,
    clock: Clock = wall_clock,
    executed: Executed,
) -> None:
    """Attempt every task, each target on its own workers; ``executed`` collects what was
    attempted as it happens, so that a caller interrupted still knows it.

    Each outcome is written to the audit log by the worker that got it, as soon as it has
    it. Once a line cannot be written, no further task is attempted (those in flight finish
    and are collected as unlogged). On an interrupt, tasks not yet started are dropped;
    those in flight finish and are logged, even through a second interrupt, then the
    interrupt goes on.
    """
    lock = threading.Lock()

    def attempt(writer: Writer, task: Task) -> None:
        if audit_log.failure:  # an action no line can record is never attempted
            return
        result = perform(writer, task)
        try:
            audit_log.write(_entry(run_id, result, clock))
        except SafetyError:
            with lock:
                executed.results.append(result)
                executed.unlogged.append(result)
            return
        with lock:
            executed.results.append(result)

    by_target: dict[str, list[Task]] = {}
    for task in tasks:
        by_target.setdefault(task.action.target, []).append(task)
    for target in sorted(by_target):
        if audit_log.failure:
            break
        label = f"applying {target}"
        progress(label, 0)
        pool = ThreadPoolExecutor(max(1, workers.get(target, 1)), thread_name_prefix="nhirecon")
        futures: list[Future[None]] = []
        try:
            futures = [pool.submit(attempt, writers[target], task) for task in by_target[target]]
            for count, future in enumerate(as_completed(futures), start=1):
                future.result()
                progress(label, count)
        except BaseException:
            for future in futures:
                future.cancel()
            raise
        finally:
            _finish(pool, futures)


def _finish(pool: ThreadPoolExecutor, futures: Sequence[Future[None]]) -> None:
    """Wait for the actions in flight: a second Ctrl-C or SIGTERM does not stop the wait,
    so that every write made is logged (each is bounded by its HTTP timeouts). The wait is
    on the futures: a thread's ``join`` cut short by an interrupt may not be waited again."""
    said = False
    while True:
        try:
            wait(futures)
            pool.shutdown(wait=True)
            return
        except BaseException:
            if not said:
                log.warning("waiting for the actions in flight to finish and be logged")
                said = True
