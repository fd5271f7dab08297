"""Plans, thresholds and the per-action re-check as pure functions, with a fake writer."""

from __future__ import annotations

import json
import os
import re
import stat
import threading
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from nhirecon.connectors.scim_writes import AccountState, LiveAccount, WriteResult
from nhirecon.core import guards
from nhirecon.core.model import KIND_INFO, Finding, FindingKind, Record, Remediation, fingerprint
from nhirecon.core.policy import Policy
from nhirecon.errors import ConnectorError, SafetyError, UsageError
from nhirecon.remediation import audit_log, plan_file, rails
from nhirecon.remediation import plan as planning
from nhirecon.remediation.actions import Task, perform

NOW = datetime(2026, 11, 28, tzinfo=UTC)


def finding(
    kind: FindingKind, account_id: str, remedy: Remediation, target: str = "app"
) -> Finding:
    account = Record(
        id=account_id,
        location="x",
        username=f"user-{account_id}",
        version=f'W/"{account_id}"',
    )
    return Finding(
        kind=kind,
        severity=KIND_INFO[kind].severity,
        target=target,
        account=account,
        identity=None,
        message="",
        detail={},
        remediation=remedy,
        remediation_reason="by hand" if remedy is Remediation.MANUAL else "",
        fingerprint=fingerprint(kind, target, account_id),
    )


def action(account_id: str, target: str = "app", kind: str = "orphan") -> planning.Action:
    return planning.Action(
        target=target,
        account_id=account_id,
        action=Remediation.DISABLE,
        findings=(planning.Reason(FindingKind(kind), "f"),),
        version='W/"1"',
    )


def test_one_action_per_account_the_strongest_with_every_finding() -> None:
    findings = [
        finding(FindingKind.DORMANT, "2", Remediation.DISABLE),
        finding(FindingKind.ORPHAN, "2", Remediation.DELETE),
        finding(FindingKind.LEAVER, "1", Remediation.DISABLE),
        finding(FindingKind.STALE_ATTRIBUTE, "1", Remediation.NONE),
        finding(FindingKind.AMBIGUOUS, "3", Remediation.MANUAL),
        finding(FindingKind.ORPHAN, "4", Remediation.NONE),
        finding(FindingKind.LEAVER, "1", Remediation.DISABLE, target="crm"),
    ]
    actions = planning.actions_from(findings)
    assert [(a.target, a.account_id, a.action) for a in actions] == [
        ("app", "1", Remediation.DISABLE),
        ("app", "2", Remediation.DELETE),
        ("crm", "1", Remediation.DISABLE),
    ]
    assert [reason.kind for reason in actions[1].findings] == [
        FindingKind.DORMANT,
        FindingKind.ORPHAN,
    ]
    assert actions[1].version == 'W/"2"'
    assert actions[1].label == "user-2"
    manual = planning.manual_items(findings)
    assert [(item.kind, item.subject, item.reason) for item in manual] == [
        (FindingKind.AMBIGUOUS, "user-3", "by hand")
    ]


def test_max_actions_counts_the_run_and_can_be_overridden() -> None:
    policy = Policy(max_actions=3, max_action_percent=100)
    three = [action(str(n)) for n in range(3)]
    assert rails.threshold_problems(three, {"app": 10}, policy) == []
    four = [*three, action("9", target="crm")]
    (problem,) = rails.threshold_problems(four, {"app": 10, "crm": 10}, policy)
    assert "4 actions exceed max_actions 3" in problem
    assert rails.threshold_problems(four, {"app": 10, "crm": 10}, policy, 4) == []
    assert rails.threshold_problems([], {}, Policy(max_actions=0)) == []


def test_max_action_percent_is_per_target() -> None:
    policy = Policy(max_actions=100, max_action_percent=10)
    ten_percent = [action(str(n)) for n in range(10)]
    assert rails.threshold_problems(ten_percent, {"app": 100}, policy) == []
    over = [*ten_percent, action("x")]
    (problem,) = rails.threshold_problems(over, {"app": 100}, policy)
    assert "target app: 11 actions are 11.0% of its 100 accounts" in problem
    spread = [*ten_percent, action("y", target="crm")]
    (problem,) = rails.threshold_problems(spread, {"app": 100, "crm": 5}, policy)
    assert problem.startswith("target crm: 1 actions are 20.0%")


@pytest.mark.parametrize(
    ("current", "previous", "tripped"),
    [(100, None, False), (80, 100, False), (79, 100, True), (150, 100, False), (0, 0, False)],
)
def test_source_drop(current: int, previous: int | None, tripped: bool) -> None:
    before = None if previous is None else guards.SourceCount(previous)
    problem = guards.source_drop_problem(guards.SourceCount(current), before, 20)
    assert (problem is not None) is tripped


def test_each_input_of_the_source_is_held_to_the_limit() -> None:
    """A small input cut short barely moves the total: it is refused on its own count,
    known by its key in the config (its file may be renamed), named with what it reads."""
    before = guards.SourceCount(1100, {"source": 1000, "source.include[0]": 100})
    labels = {"source": "source (hr.csv)", "source.include[0]": "source.include[0] (d.csv)"}
    now = guards.SourceCount(1010, {"source": 1000, "source.include[0]": 10}, labels)
    problem = guards.source_drop_problem(now, before, 20)
    assert problem == (
        "source input source.include[0] (d.csv) returned 10 identities, 90.0% fewer than the"
        " 100 of the last recorded run (max_source_drop_percent 20)"
    )
    both = guards.SourceCount(10, {"source": 0, "source.include[0]": 10}, labels)
    found = guards.source_drop_problem(both, before, 20) or ""
    assert found.startswith("the source returned 10 identities, 99.1% fewer than the 1100")
    assert "; source input source (hr.csv) returned 0 identities, 100.0% fewer" in found
    grown = guards.SourceCount(1200, {"source": 1119, "source.include[0]": 81})
    assert guards.source_drop_problem(grown, before, 20) is None, "19% fewer: within"
    added = guards.SourceCount(1010, {"source": 1000, "source.include[1]": 10})
    assert guards.source_drop_problem(added, before, 20) is None, "nothing to compare with"
    unrecorded = guards.SourceCount(1010, {"source": 1000, "source.include[0]": 10})
    assert guards.source_drop_problem(unrecorded, guards.SourceCount(1100), 20) is None


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("24h", 86400), ("30m", 1800), ("90", 90), ("90s", 90), ("2d", 172800), ("1.5h", 5400)],
)
def test_durations(text: str, seconds: float) -> None:
    assert rails.parse_duration(text) == timedelta(seconds=seconds)


def test_bad_duration_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="--max-age"):
        rails.parse_duration("tomorrow")


def test_plan_age() -> None:
    made = planning.Plan(NOW, NOW, "c.yaml", "d", "hr", 1, (), ())
    assert rails.age_problem(made, NOW + timedelta(hours=23), timedelta(hours=24)) is None
    assert rails.age_problem(made, NOW + timedelta(hours=25), timedelta(hours=24))
    assert rails.age_problem(made, NOW - timedelta(minutes=4), timedelta(hours=24)) is None
    assert "future" in (rails.age_problem(made, NOW - timedelta(hours=1), timedelta(1)) or "")


def test_plan_files_round_trip_and_are_deterministic() -> None:
    findings = [
        finding(FindingKind.LEAVER, "1", Remediation.DISABLE),
        finding(FindingKind.AMBIGUOUS, "3", Remediation.MANUAL),
    ]
    made = planning.Plan(
        created_at=NOW,
        evaluated_at=NOW - timedelta(days=1),
        config_path="nhirecon.yaml",
        config_digest="abc",
        source="hr",
        identities=8,
        targets=(planning.PlanTarget("app", "scim", "https://scim.example.com/v2", 11),),
        actions=planning.actions_from(findings),
        manual=planning.manual_items(findings),
    )
    text = plan_file.to_json(made)
    assert plan_file.to_json(plan_file.from_json(text, "p.json")) == text
    assert plan_file.from_json(text, "p.json") == made


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.pop("config"), "config: missing"),
        (lambda d: d.update(plan_version=2), "plan_version"),
        (lambda d: d.update(plan_version=True), "plan_version: expected 1"),
        (lambda d: d.update(plan_version=1.0), "plan_version: expected 1"),
        (lambda d: d["actions"][0].update(action="wipe"), "actions[0].action: unknown value"),
        (lambda d: d["actions"][0].update(action="none"), "expected disable or delete"),
        (lambda d: d["targets"][0].update(accounts="11"), "targets[0].accounts"),
        (lambda d: d.update(created_at="yesterday"), "created_at"),
    ],
)
def test_malformed_plans_are_usage_errors_naming_the_key(edit: object, message: str) -> None:
    made = planning.Plan(
        NOW,
        NOW,
        "c",
        "d",
        "hr",
        1,
        (planning.PlanTarget("app", "scim", None, 3),),
        planning.actions_from([finding(FindingKind.LEAVER, "1", Remediation.DISABLE)]),
    )
    data = plan_file.to_data(made)
    edit(data)  # type: ignore[operator]
    with pytest.raises(UsageError, match=re.escape(message)):
        plan_file.from_json(json.dumps(data), "p.json")
    with pytest.raises(UsageError, match="invalid JSON"):
        plan_file.from_json("{", "p.json")


# --- the per-action re-check, with a fake writer --------------------------------------------


@dataclass
class FakeWriter:
    states: list[LiveAccount]
    """What each read returns, in turn (the last one repeats)."""
    write: WriteResult | Exception = field(default_factory=lambda: WriteResult(204, True))
    written: list[str] = field(default_factory=list)

    def read(self, resource_id: str) -> LiveAccount:
        state = self.states.pop(0) if len(self.states) > 1 else self.states[0]
        if isinstance(state, Exception):
            raise state
        return state

    def _write(self, name: str) -> WriteResult:
        self.written.append(name)
        if isinstance(self.write, Exception):
            raise self.write
        return self.write

    def disable(self, resource_id: str, live: LiveAccount) -> WriteResult:
        return self._write("disable")

    def delete(self, resource_id: str, live: LiveAccount) -> WriteResult:
        return self._write("delete")


ACTIVE = LiveAccount(AccountState.ACTIVE, 'W/"1"', {"id": "1"})
DISABLED = LiveAccount(AccountState.DISABLED, 'W/"2"', {"id": "1"})
DISABLED_AS_PLANNED = LiveAccount(AccountState.DISABLED, 'W/"1"', {"id": "1"})
GONE = LiveAccount(AccountState.GONE)


def task(
    kind: Remediation = Remediation.DISABLE, hold: str | None = None, version: str | None = 'W/"1"'
) -> Task:
    return Task(
        planning.Action("app", "1", kind, (planning.Reason(FindingKind.ORPHAN, "f"),), version),
        hold,
    )


ACTIVE_LATER = LiveAccount(AccountState.ACTIVE, 'W/"2"', {"id": "1"})
ACTIVE_STRONG = LiveAccount(AccountState.ACTIVE, '"1"', {"id": "1"})
UNVERSIONED = LiveAccount(AccountState.ACTIVE, None, {"id": "1"})


@pytest.mark.parametrize(
    ("writer", "the_task", "outcome", "detail", "observed", "written"),
    [
        (FakeWriter([GONE]), task(), "done", "already gone", "", []),
        (FakeWriter([DISABLED]), task(), "done", "already disabled", "", []),
        (
            FakeWriter([DISABLED_AS_PLANNED, GONE]),
            task(Remediation.DELETE),
            "done",
            "deleted",
            "verified gone",
            ["delete"],
        ),
        (FakeWriter([DISABLED]), task(Remediation.DELETE), "skipped", "changed since", "", []),
        (FakeWriter([ACTIVE]), task(hold="no longer holds"), "skipped", "no longer holds", "", []),
        (
            FakeWriter([LiveAccount(AccountState.ACTIVE, 'W/"5"', {})]),
            task(),
            "skipped",
            'changed since the plan (version W/"1" → W/"5"); not written',
            "",
            [],
        ),
        # A version when the account was read, and none when it is read again: a service
        # (or a proxy) that drops it must not turn the check of what changed off.
        (
            FakeWriter([UNVERSIONED, DISABLED]),
            task(),
            "failed",
            'the re-check gave no version (the account was read with W/"1"): whether it'
            " changed since cannot be told; not written",
            "",
            [],
        ),
        # A service that never gives one: nothing to compare, before or now.
        (
            FakeWriter([UNVERSIONED, DISABLED]),
            task(version=None),
            "done",
            "disabled",
            "verified inactive",
            ["disable"],
        ),
        (FakeWriter([GONE]), task(version=None), "done", "already gone", "", []),
        # RFC 9110 weak comparison: W/"1" and "1" are the same version.
        (
            FakeWriter([ACTIVE_STRONG, DISABLED]),
            task(),
            "done",
            "disabled",
            "verified inactive",
            ["disable"],
        ),
        (
            FakeWriter([ACTIVE, DISABLED]),
            task(),
            "done",
            "disabled",
            "verified inactive",
            ["disable"],
        ),
        # A 2xx that changed nothing is no success.
        (
            FakeWriter([ACTIVE, ACTIVE]),
            task(),
            "failed",
            "the service answered 204 but the account reads active",
            "not applied: still active",
            ["disable"],
        ),
        (
            FakeWriter([ACTIVE, ACTIVE], WriteResult(200, True)),
            task(Remediation.DELETE),
            "failed",
            "the service answered 200 but the account reads active",
            "not applied: still active",
            ["delete"],
        ),
        (
            FakeWriter([ACTIVE, ConnectorError("GET u: HTTP 503")]),  # type: ignore[list-item]
            task(),
            "failed",
            "the write answered 204 but reading the account back failed",
            "not verified",
            ["disable"],
        ),
        (
            FakeWriter([ACTIVE, GONE], WriteResult(404, False, "gone")),
            task(Remediation.DELETE),
            "done",
            "already gone",
            "verified gone",
            ["delete"],
        ),
        (
            FakeWriter([ACTIVE, DISABLED], WriteResult(412, False, "changed")),
            task(),
            "done",
            "already disabled (an earlier attempt went through)",
            "already disabled",
            ["disable"],
        ),
        (
            FakeWriter([ACTIVE, ACTIVE_LATER], WriteResult(412, False, "changed")),
            task(),
            "skipped",
            'changed while being applied (version W/"1" → W/"2")',
            "not applied: still active",
            ["disable"],
        ),
        # 412 although the version is the one the service gave: a failure, never a skip.
        (
            FakeWriter([ACTIVE, ACTIVE], WriteResult(412, False, "precondition")),
            task(),
            "failed",
            '412 with unchanged version W/"1"',
            "failed: 412 with unchanged version",
            ["disable"],
        ),
        (
            FakeWriter([ACTIVE, GONE], ConnectorError("PATCH u: connection reset")),
            task(Remediation.DELETE),
            "done",
            "already gone (an earlier attempt went through)",
            "already gone",
            ["delete"],
        ),
        (
            FakeWriter([ACTIVE, ACTIVE], ConnectorError("PATCH u: connection reset")),
            task(),
            "failed",
            "PATCH u: connection reset",
            "not applied: still active",
            ["disable"],
        ),
        (
            FakeWriter([ACTIVE], WriteResult(500, False, "boom")),
            task(),
            "failed",
            "boom",
            "not applied: still active",
            ["disable"],
        ),
        (
            FakeWriter([ConnectorError("GET u: HTTP 503")]),  # type: ignore[list-item]
            task(),
            "failed",
            "re-check failed: GET u: HTTP 503",
            "",
            [],
        ),
    ],
)
def test_perform(
    writer: FakeWriter,
    the_task: Task,
    outcome: str,
    detail: str,
    observed: str,
    written: list[str],
) -> None:
    result = perform(writer, the_task)
    assert result.outcome.value == outcome
    assert result.detail.startswith(detail)
    assert result.observed == observed
    assert writer.written == written


@dataclass
class RemappingWriter(FakeWriter):
    """A writer that maps what it reads, as the SCIM connector's does."""

    now: Record | None = None

    def record_of(self, resource: object) -> Record | None:
        return self.now


SEEN = Record(id="1", location="app.json:2", username="ann", department="Sales")


@pytest.mark.parametrize(
    ("now", "outcome", "detail"),
    [
        (SEEN, "done", "disabled"),
        (replace(SEEN, location="https://scim.example/Users/1"), "done", "disabled"),
        (replace(SEEN, department="Finance"), "skipped", "changed since it was read"),
        (None, "skipped", "changed since it was read (the target's filter or where no longer"),
    ],
)
def test_an_unversioned_account_is_compared_as_it_was_read(
    now: Record | None, outcome: str, detail: str
) -> None:
    the_task = Task(replace(task(version=None).action, record=SEEN))
    result = perform(RemappingWriter([UNVERSIONED, DISABLED], now=now), the_task)
    assert (result.outcome.value, result.detail[: len(detail)]) == (outcome, detail)
    if now is not None and now.department != SEEN.department:
        assert result.detail == "changed since it was read (department differ); not written"
    # A writer that cannot map what it reads has nothing to compare with.
    plain = perform(FakeWriter([UNVERSIONED, DISABLED]), the_task)
    assert (plain.outcome.value, plain.detail) == ("done", "disabled")


def test_audit_log_is_private_appended_and_whole_lines(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "actions.jsonl"
    path.parent.mkdir()
    path.write_text('{"earlier": true}\n')
    os.chmod(path, 0o644)
    log = audit_log.AuditLog(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

    def writer(number: int) -> None:
        for index in range(50):
            log.write({"thread": number, "index": index, "detail": "x" * 500})

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    log.close()
    entries = audit_log.read_audit_log(path)
    assert entries[0] == {"earlier": True}
    assert len(entries) == 201


def test_audit_log_that_cannot_be_opened_refuses(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(SafetyError, match="cannot open the audit log"):
        audit_log.AuditLog(blocker / "actions.jsonl")


def test_the_review_screens_show_hostile_names_inert() -> None:
    from nhirecon.cli import remediation_view
    from nhirecon.remediation.actions import ActionResult, Outcome

    hostile = "zed\r\x1b[1A\x1b[2K\x1b]52;c;aGk=\x07"
    action = planning.Action(
        "app", "1\n", Remediation.DELETE, (planning.Reason(FindingKind.ORPHAN, "f"),), None, hostile
    )
    listed = remediation_view.actions_text([action])
    line = remediation_view.result_line(ActionResult(action, Outcome.DONE, 204, "deleted"))
    for text in (listed, line):
        assert "\x1b" not in text and "\r" not in text and "\x07" not in text
        assert "\\x1b[1A" in text
    assert listed.count("\n") == 2, "one line per action, after the header"
    assert "\n" not in line
