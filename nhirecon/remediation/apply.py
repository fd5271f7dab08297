"""Applying remediation actions behind the safety rails of SPEC §8.

Order of a run, all or nothing up to the first write:

1. integrity guards: the source returned identities (the engine refuses otherwise), every
   pull was complete (the connectors refuse otherwise), the source did not shrink more
   than ``max_source_drop_percent`` since the last recorded run;
2. for a plan file: it belongs to this config and these target URLs, it is not older than
   ``--max-age``, and every action in it is one the config would take;
3. thresholds: ``max_actions`` over the run, ``max_action_percent`` per target;
4. confirmation: asked on a terminal, skipped with ``--yes``, refused otherwise.

Then each action, on its target's workers: read the account live (gone: done; already
disabled: a disable is done; changed since the plan: skipped), write it (with ``If-Match``
where the service supports ETags), and append the outcome to the audit log, flushed to disk
before the next line.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any, Final, Protocol, runtime_checkable

from nhirecon import pipeline
from nhirecon.config import Config
from nhirecon.connectors.scim_client import AccountState, LiveAccount, WriteResult
from nhirecon.core.model import Remediation
from nhirecon.core.report import Report
from nhirecon.core.values import format_datetime
from nhirecon.errors import ConnectorError, NhireconError, SafetyError
from nhirecon.exit_codes import ExitCode
from nhirecon.output import make_folder
from nhirecon.remediation import plan as planning
from nhirecon.remediation.plan import Action, Plan
from nhirecon.state import history, tracking

log = logging.getLogger(__name__)

DEFAULT_AUDIT_LOG: Final = Path(".nhirecon/actions.jsonl")
"""Relative to the config file's folder."""
DEFAULT_MAX_AGE: Final = timedelta(hours=24)
PRIVATE: Final = 0o600
PRECONDITION_FAILED: Final = 412
NOT_FOUND: Final = 404

Confirm = Callable[[Sequence[Action]], bool]
"""Shows the actions to a person and returns their answer."""
Progress = Callable[[str, int], None]
Clock = Callable[[], datetime]


def wall_clock() -> datetime:
    return datetime.now(UTC)


class Outcome(StrEnum):
    DONE = "done"
    """The account is in the wanted state: written now, or found so."""
    SKIPPED = "skipped"
    """Not written, on purpose: it changed since the plan, or the finding no longer holds."""
    FAILED = "failed"
    """The write (or the read before it) failed."""


@runtime_checkable
class Writer(Protocol):
    """What a connector that can remediate hands out (see ``ScimConnector.writer``)."""

    def read(self, resource_id: str) -> LiveAccount: ...

    def disable(self, resource_id: str, live: LiveAccount) -> WriteResult: ...

    def delete(self, resource_id: str, live: LiveAccount) -> WriteResult: ...


@dataclass(frozen=True)
class ActionResult:
    action: Action
    outcome: Outcome
    status: int | None
    """The HTTP status of the write, or of the read when nothing was written."""
    detail: str


@dataclass(frozen=True)
class ApplyResult:
    run_id: str
    results: tuple[ActionResult, ...]
    audit_log: Path

    def count(self, outcome: Outcome) -> int:
        return sum(1 for result in self.results if result.outcome is outcome)

    @property
    def exit_code(self) -> ExitCode:
        failed = self.count(Outcome.FAILED)
        return ExitCode.ACTIONS_FAILED if failed else ExitCode.OK

    def summary(self) -> str:
        if not self.results:
            return "nothing to apply"
        return (
            f"applied {len(self.results)} actions: {self.count(Outcome.DONE)} done,"
            f" {self.count(Outcome.SKIPPED)} skipped, {self.count(Outcome.FAILED)} failed"
            f" (run {self.run_id}; audit log {self.audit_log})"
        )


@dataclass(frozen=True)
class Task:
    """An action to attempt, and why it must not be written (``None``: write it)."""

    action: Action
    hold: str | None = None


# --- the audit log ------------------------------------------------------------------------


class AuditLog:
    """JSON lines, appended; each line is flushed and synced to disk before the next.

    The file is created with mode 0600 and kept so. Safe to share between threads.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        try:
            make_folder(path.parent)
            self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, PRIVATE)
            os.fchmod(self._fd, PRIVATE)
        except OSError as exc:
            raise SafetyError(
                f"{path}: cannot open the audit log ({exc.strerror or exc});"
                " nothing is written without it"
            ) from None

    def write(self, entry: Mapping[str, Any]) -> None:
        line = (json.dumps(entry, ensure_ascii=False, sort_keys=True) + "\n").encode()
        with self._lock:
            os.write(self._fd, line)
            os.fsync(self._fd)

    def close(self) -> None:
        with self._lock:
            os.close(self._fd)


def audit_log_path(config: Config) -> Path:
    return config.audit_log or config.path.resolve().parent / DEFAULT_AUDIT_LOG


def read_audit_log(path: Path) -> list[dict[str, Any]]:
    """Every entry of an audit log (for tests and reviews); a torn last line is skipped."""
    entries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return entries


# --- one action ---------------------------------------------------------------------------


def achieved(action: Remediation, live: LiveAccount) -> str | None:
    """Why the account is already as the action wants it, or ``None``."""
    if live.state is AccountState.GONE:
        return "already gone"
    if action is Remediation.DISABLE and live.state is AccountState.DISABLED:
        return "already disabled"
    return None


def perform(writer: Writer, task: Task) -> ActionResult:
    """Re-check one account live, then write it, or say why not."""
    action = task.action
    try:
        live = writer.read(action.account_id)
    except ConnectorError as exc:
        return ActionResult(action, Outcome.FAILED, _status(exc), f"re-check failed: {exc}")
    done = achieved(action.action, live)
    if done:
        return ActionResult(action, Outcome.DONE, None, done)
    if task.hold:
        return ActionResult(action, Outcome.SKIPPED, None, task.hold)
    if action.version and live.version and live.version != action.version:
        return ActionResult(
            action,
            Outcome.SKIPPED,
            None,
            f"changed since the plan (version {action.version} → {live.version}); not written",
        )
    try:
        if action.action is Remediation.DELETE:
            result = writer.delete(action.account_id, live)
        else:
            result = writer.disable(action.account_id, live)
    except ConnectorError as exc:
        return _after_failure(writer, action, _status(exc), str(exc))
    if result.ok:
        return ActionResult(action, Outcome.DONE, result.status, f"{action.action.value}d")
    if result.status == NOT_FOUND:
        return ActionResult(action, Outcome.DONE, result.status, "already gone")
    if result.status == PRECONDITION_FAILED:
        return _after_failure(writer, action, result.status, result.detail, precondition=True)
    return ActionResult(action, Outcome.FAILED, result.status, result.detail or "write refused")


def _after_failure(
    writer: Writer, action: Action, status: int | None, detail: str, *, precondition: bool = False
) -> ActionResult:
    """A write failed or was refused: read again, since an earlier try may have gone through
    (a connection dropped after the service committed, then the retry met ``If-Match``)."""
    try:
        live = writer.read(action.account_id)
    except ConnectorError:
        live = None
    done = achieved(action.action, live) if live is not None else None
    if done:
        return ActionResult(
            action, Outcome.DONE, status, f"{done} (an earlier attempt went through)"
        )
    if precondition:
        return ActionResult(
            action, Outcome.SKIPPED, status, "changed while being applied (If-Match refused)"
        )
    return ActionResult(action, Outcome.FAILED, status, detail)


def _status(exc: NhireconError) -> int | None:
    status = getattr(exc, "status", None)
    return status if isinstance(status, int) else None


# --- a run --------------------------------------------------------------------------------


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
    }


def execute(
    tasks: Sequence[Task],
    writers: Mapping[str, Writer],
    audit_log: AuditLog,
    *,
    run_id: str,
    workers: Mapping[str, int],
    progress: Progress = lambda label, count: None,
    clock: Clock = wall_clock,
) -> tuple[ActionResult, ...]:
    """Attempt every task, each target on its own workers.

    Each outcome is written to the audit log by the worker that got it, as soon as it has
    it. On an interrupt, tasks not yet started are dropped; those in flight finish (and are
    logged), then the interrupt goes on.
    """

    def attempt(writer: Writer, task: Task) -> ActionResult:
        result = perform(writer, task)
        audit_log.write(_entry(run_id, result, clock))
        return result

    results: list[ActionResult] = []
    by_target: dict[str, list[Task]] = {}
    for task in tasks:
        by_target.setdefault(task.action.target, []).append(task)
    for target in sorted(by_target):
        label = f"applying {target}"
        progress(label, 0)
        pool = ThreadPoolExecutor(max(1, workers.get(target, 1)), thread_name_prefix="nhirecon")
        futures: list[Future[ActionResult]] = []
        try:
            futures = [pool.submit(attempt, writers[target], task) for task in by_target[target]]
            for count, future in enumerate(as_completed(futures), start=1):
                results.append(future.result())
                progress(label, count)
        except BaseException:
            for future in futures:
                future.cancel()
            raise
        finally:
            pool.shutdown(wait=True)
    order = {task.action.key: index for index, task in enumerate(tasks)}
    return tuple(sorted(results, key=lambda result: order[result.action.key]))


def previous_source_count(config: Config) -> int | None:
    """The source's identity count at the last run recorded in the history store."""
    return history.last_source_count(tracking.history_path(config), config.source.name)


def guard(
    config: Config,
    report: Report,
    actions: Sequence[Action],
    *,
    previous_identities: int | None,
    max_actions: int | None,
) -> None:
    """The integrity guard and the thresholds; :class:`SafetyError` before any write."""
    problems = []
    drop = planning.source_drop_problem(
        report.identities, previous_identities, config.policy.max_source_drop_percent
    )
    if drop:
        problems.append(drop)
    accounts = {stats.name: stats.accounts for stats in report.targets}
    problems.extend(planning.threshold_problems(actions, accounts, config.policy, max_actions))
    if problems:
        raise SafetyError("refusing to act, nothing was written: " + "; ".join(problems))


def _confirm(actions: Sequence[Action], *, yes: bool, confirm: Confirm | None) -> None:
    if yes or not actions:
        return
    if confirm is None:
        raise SafetyError(
            f"{len(actions)} actions need confirmation and there is no terminal to ask;"
            " review them (nhirecon plan) and pass --yes"
        )
    if not confirm(actions):
        raise SafetyError("not confirmed; nothing was written")


@contextmanager
def _writers(config: Config, names: Sequence[str]) -> Iterator[dict[str, Writer]]:
    opened = []
    writers: dict[str, Writer] = {}
    try:
        for name in names:
            connector = config.target(name).endpoint.open()
            opened.append(connector)
            writer = getattr(connector, "writer", None)
            found = writer() if callable(writer) else None
            if not isinstance(found, Writer):
                raise SafetyError(f"target {name}: its connector cannot write")
            writers[name] = found
        yield writers
    finally:
        for connector in opened:
            close = getattr(connector, "close", None)
            if callable(close):
                close()


def _workers(config: Config, names: Sequence[str]) -> dict[str, int]:
    found = {}
    for name in names:
        value = config.target(name).endpoint.options.get("max_workers", 4)
        found[name] = value if isinstance(value, int) and value > 0 else 1
    return found


def run(
    config: Config,
    tasks: Sequence[Task],
    *,
    progress: Progress,
    clock: Clock = wall_clock,
    run_id: str | None = None,
) -> ApplyResult:
    """Open the writers and the audit log and execute; no rail is checked here."""
    run_id = run_id or uuid.uuid4().hex
    path = audit_log_path(config)
    names = sorted({task.action.target for task in tasks})
    audit_log = AuditLog(path)
    try:
        with _writers(config, names) as writers:
            results = execute(
                tasks,
                writers,
                audit_log,
                run_id=run_id,
                workers=_workers(config, names),
                progress=progress,
                clock=clock,
            )
    finally:
        audit_log.close()
    return ApplyResult(run_id, results, path)


def prepare(
    config: Config,
    report: Report,
    *,
    previous_identities: int | None,
    max_actions: int | None = None,
) -> tuple[Action, ...]:
    """``audit --apply``, first half: the actions of a fresh report, once the integrity
    guard and the thresholds let them through (call it before anything is recorded)."""
    actions = planning.actions_from(report.findings)
    guard(
        config,
        report,
        actions,
        previous_identities=previous_identities,
        max_actions=max_actions,
    )
    return actions


def apply_actions(
    config: Config,
    actions: Sequence[Action],
    *,
    yes: bool = False,
    confirm: Confirm | None = None,
    progress: Progress = lambda label, count: None,
    clock: Clock = wall_clock,
) -> ApplyResult:
    """``audit --apply``, second half: confirm, then execute with the live re-check."""
    _confirm(actions, yes=yes, confirm=confirm)
    if not actions:
        return ApplyResult("", (), audit_log_path(config))
    return run(config, [Task(action) for action in actions], progress=progress, clock=clock)


def check_plan(config: Config, plan: Plan, *, wall_now: datetime, max_age: timedelta) -> None:
    """The checks a plan file must pass before anything is pulled or written."""
    problems = planning.binding_problems(plan, config)
    age = planning.age_problem(plan, wall_now, max_age)
    if age:
        problems.append(age)
    if not problems:
        problems = planning.consistency_problems(plan, config)
        if problems:
            problems.insert(0, "the plan holds actions the config would not take (edited?)")
    if problems:
        raise SafetyError("refusing the plan, nothing was written: " + "; ".join(problems))


def tasks_for(plan: Plan, live: Report) -> list[Task]:
    """The plan's actions, each held back when the live audit no longer calls for it."""
    wanted = {action.key: action for action in planning.actions_from(live.findings)}
    tasks = []
    for action in plan.actions:
        current = wanted.get(action.key)
        hold = None
        if current is None:
            hold = "the finding no longer holds in a fresh audit; not written"
        elif current.action is not action.action:
            hold = f"a fresh audit calls for {current.action.value} instead; not written"
        tasks.append(Task(action, hold))
    return tasks


def apply_plan(
    config: Config,
    plan: Plan,
    *,
    now: datetime,
    previous_identities: int | None,
    max_age: timedelta = DEFAULT_MAX_AGE,
    max_actions: int | None = None,
    yes: bool = False,
    confirm: Confirm | None = None,
    progress: Progress = lambda label, count: None,
    clock: Clock = wall_clock,
) -> ApplyResult:
    """``apply PLAN``: check the plan, audit again live, and apply what still holds."""
    check_plan(config, plan, wall_now=clock(), max_age=max_age)
    if not plan.actions:
        return ApplyResult("", (), audit_log_path(config))
    names = sorted({action.target for action in plan.actions})
    live = pipeline.audit(config, now=now, only=names, gate_rules=(), progress=progress)
    tasks = tasks_for(plan, live)
    writes = [task.action for task in tasks if task.hold is None]
    guard(
        config,
        live,
        writes,
        previous_identities=previous_identities,
        max_actions=max_actions,
    )
    _confirm(writes, yes=yes, confirm=confirm)
    if not tasks:
        return ApplyResult("", (), audit_log_path(config))
    return run(config, tasks, progress=progress, clock=clock)
