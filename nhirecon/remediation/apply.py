"""Applying remediation actions behind the safety rails of SPEC §8.

Order of a run, all or nothing up to the first write:

1. integrity guards: the source returned identities (the pipeline refuses otherwise), every
   pull was complete (the connectors refuse otherwise), the source (and each of its inputs)
   did not shrink more than ``max_source_drop_percent`` since the last recorded run;
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

import logging
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Final

from nhirecon import pipeline
from nhirecon.config import Config
from nhirecon.core.guards import ACCEPT_HINT, SourceCount
from nhirecon.core.report import Report
from nhirecon.errors import SafetyError
from nhirecon.remediation import rails
from nhirecon.remediation.actions import ApplyResult, Outcome, Task, Writer
from nhirecon.remediation.audit_log import AuditLog, audit_log_path
from nhirecon.remediation.execute import Clock, Executed, Progress, execute, wall_clock
from nhirecon.remediation.plan import Action, Plan, actions_from
from nhirecon.state import tracking

log = logging.getLogger(__name__)

DEFAULT_MAX_AGE: Final = timedelta(hours=24)

Confirm = Callable[[Sequence[Action]], bool]
"""Shows the actions to a person and returns their answer."""


def guard(
    config: Config,
    report: Report,
    actions: Sequence[Action],
    *,
    previous_source: SourceCount | None,
    accepted_drop: bool = False,
    max_actions: int | None,
) -> None:
    """The integrity guard and the thresholds; :class:`SafetyError` before any write. A
    drop of the source is measured against ``previous_source`` (see
    :func:`nhirecon.state.tracking.source_drop`), and only warned of when
    ``accepted_drop``."""
    problems = []
    drop = tracking.source_drop(config, report, previous_source, accepted=accepted_drop)
    if drop:
        problems.append(f"{drop} ({ACCEPT_HINT})")
    accounts = {stats.name: stats.accounts for stats in report.targets}
    problems.extend(rails.threshold_problems(actions, accounts, config.policy, max_actions))
    if problems:
        raise SafetyError("refusing to act, nothing was written: " + "; ".join(problems))


def refuse_unconfirmable(actions: Sequence[Action], *, yes: bool, confirm: Confirm | None) -> None:
    """:class:`SafetyError` when ``actions`` need a confirmation nobody can give (no
    ``--yes`` and no terminal): called before anything is written, reports included."""
    if actions and not yes and confirm is None:
        raise SafetyError(
            f"{len(actions)} actions need confirmation and there is no terminal to ask;"
            " review them (nhirecon plan) and pass --yes"
        )


def _confirm(actions: Sequence[Action], *, yes: bool, confirm: Confirm | None) -> None:
    refuse_unconfirmable(actions, yes=yes, confirm=confirm)
    if yes or not actions:
        return
    assert confirm is not None
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
    log.info("each action is recorded in the audit log %s", path)
    executed = Executed()
    try:
        with _writers(config, names) as writers:
            execute(
                tasks,
                writers,
                audit_log,
                run_id=run_id,
                workers=_workers(config, names),
                progress=progress,
                clock=clock,
                executed=executed,
            )
    except BaseException:
        _say_so_far(executed, tasks, path)
        raise
    finally:
        audit_log.close()
    results, unlogged = executed.in_order(tasks)
    return ApplyResult(run_id, results, path, audit_log.failure, unlogged)


def _say_so_far(executed: Executed, tasks: Sequence[Task], path: Path) -> None:
    """On an interrupt, what the actions attempted did: each is in the audit log. Said as
    an error, so that ``-q`` (a cron job) shows it beside the interrupt's own line."""
    results, _ = executed.in_order(tasks)
    if not results:
        return
    counts = {outcome: sum(1 for r in results if r.outcome is outcome) for outcome in Outcome}
    log.error(
        "interrupted after %d of %d actions (%d done, %d skipped, %d failed), each in the"
        " audit log %s; a re-run does only what is left",
        len(results),
        len(tasks),
        counts[Outcome.DONE],
        counts[Outcome.SKIPPED],
        counts[Outcome.FAILED],
        path,
    )


def prepare(
    config: Config,
    report: Report,
    *,
    previous_source: SourceCount | None,
    max_actions: int | None = None,
) -> tuple[Action, ...]:
    """``audit --apply``, first half: the actions of a fresh report, once the integrity
    guard and the thresholds let them through (call it before anything is recorded)."""
    actions = actions_from(report.findings)
    guard(
        config,
        report,
        actions,
        previous_source=previous_source,
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
    problems = rails.binding_problems(plan, config)
    age = rails.age_problem(plan, wall_now, max_age)
    if age:
        problems.append(age)
    if not problems:
        problems = rails.consistency_problems(plan, config)
        if problems:
            problems.insert(0, "the plan holds actions the config would not take (edited?)")
    if problems:
        raise SafetyError("refusing the plan, nothing was written: " + "; ".join(problems))


def tasks_for(plan: Plan, live: Report) -> list[Task]:
    """The plan's actions, each held back when the live audit no longer calls for it for
    a finding the plan names (the reviewer approved that reason, not another), or when
    the plan holds no version of an account that now has one (whether it changed since
    the plan could not be told). An action that goes ahead carries the plan's findings
    that still hold (the audit log's reason) and the account as the fresh audit read it
    (for the re-check of an account without a version)."""
    wanted = {action.key: action for action in actions_from(live.findings)}
    tasks = []
    for action in plan.actions:
        current = wanted.get(action.key)
        hold = None
        if current is None:
            hold = "the finding no longer holds in a fresh audit; not written"
        elif current.action is not action.action:
            hold = f"a fresh audit calls for {current.action.value} instead; not written"
        else:
            holding = {reason.fingerprint for reason in current.findings}
            still = tuple(reason for reason in action.findings if reason.fingerprint in holding)
            if not still:
                hold = (
                    f"the finding the plan names ({action.kinds}) no longer holds in a fresh"
                    f" audit, which finds {current.kinds} instead; not written"
                )
            elif current.version is not None and not action.version:
                hold = (
                    f"the plan holds no version of the account, which reads {current.version}"
                    " now: whether it changed since the plan cannot be told; not written"
                )
            action = replace(action, findings=still or action.findings, record=current.record)
        tasks.append(Task(action, hold))
    return tasks


def apply_plan(
    config: Config,
    plan: Plan,
    *,
    now: datetime,
    previous_source: SourceCount | None,
    accepted_drop: bool = False,
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
        previous_source=previous_source,
        accepted_drop=accepted_drop,
        max_actions=max_actions,
    )
    _confirm(writes, yes=yes, confirm=confirm)
    if not tasks:
        return ApplyResult("", (), audit_log_path(config))
    return run(config, tasks, progress=progress, clock=clock)
