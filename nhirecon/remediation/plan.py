"""Remediation plans: findings and config in, actions out. Pure: no I/O, no clock.

An action exists only where a finding's ``remediation`` is ``disable`` or ``delete``: the
finding rules already set it from the target's ``remediate`` and the connector's
``can_write``, and never for ambiguous findings or protected accounts. An account with
several such findings gets one action, the strongest (delete over disable), listing every
finding behind it.

The rails that can be judged without the network are here too: the thresholds, the source
drop, and the checks that bind a plan file to the config and the targets it was made for.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from nhirecon import __version__
from nhirecon.config import Config, Target
from nhirecon.core.model import (
    ACCOUNT_KINDS,
    Finding,
    FindingKind,
    Record,
    Remediation,
    fingerprint,
)
from nhirecon.core.policy import Policy
from nhirecon.core.report import Report
from nhirecon.core.values import ValueError_, format_datetime, parse_datetime
from nhirecon.errors import UsageError
from nhirecon.pipeline import target_rules

PLAN_VERSION: Final = 1
WRITES: Final = (Remediation.DISABLE, Remediation.DELETE)
"""The remediations that are actions; ``delete`` is the stronger."""
FUTURE_SKEW: Final = timedelta(minutes=5)
"""A plan dated further in the future than this is refused (a wrong clock, or an edit)."""
DURATION: Final = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$", re.IGNORECASE)
UNITS: Final = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


@dataclass(frozen=True)
class Reason:
    """One finding behind an action."""

    kind: FindingKind
    fingerprint: str


@dataclass(frozen=True)
class Action:
    """Disable or delete one account of one target."""

    target: str
    account_id: str
    action: Remediation
    findings: tuple[Reason, ...]
    """The findings that call for it, sorted by kind."""
    version: str | None
    """The account's version (SCIM ``meta.version``) when the plan was made."""
    username: str | None = None
    email: str | None = None

    @property
    def label(self) -> str:
        return self.username or self.email or self.account_id

    @property
    def key(self) -> tuple[str, str]:
        return (self.target, self.account_id)

    @property
    def kinds(self) -> str:
        return ", ".join(reason.kind.value for reason in self.findings)


@dataclass(frozen=True)
class PlanTarget:
    """A target the plan covers, as it was when the plan was made."""

    name: str
    connector: str
    url: str | None
    """The service URL (for live connectors); ``apply`` refuses a plan when it differs."""
    accounts: int


@dataclass(frozen=True)
class ManualItem:
    """A finding that needs a person (a ticket): the tool cannot or may not act on it."""

    target: str
    subject: str
    kind: FindingKind
    fingerprint: str
    reason: str


@dataclass(frozen=True)
class Plan:
    """The actions one audit calls for, bound to the config and targets it was made with."""

    created_at: datetime
    """Wall-clock time the plan was made: ``apply --max-age`` is measured from it."""
    evaluated_at: datetime
    """The instant the findings were evaluated at (``--now``)."""
    config_path: str
    config_digest: str
    source: str
    identities: int
    targets: tuple[PlanTarget, ...]
    actions: tuple[Action, ...]
    manual: tuple[ManualItem, ...] = ()
    tool_version: str = __version__

    def target(self, name: str) -> PlanTarget | None:
        return next((target for target in self.targets if target.name == name), None)


def target_url(target: Target) -> str | None:
    """The service URL of a live target, normalised; ``None`` for file exports."""
    url = target.endpoint.options.get("url")
    return str(url).rstrip("/") if isinstance(url, str) else None


def _strongest(actions: Iterable[Remediation]) -> Remediation:
    return Remediation.DELETE if Remediation.DELETE in set(actions) else Remediation.DISABLE


def actions_from(findings: Iterable[Finding]) -> tuple[Action, ...]:
    """One action per account that some finding says to disable or delete, sorted."""
    grouped: dict[tuple[str, str], list[Finding]] = {}
    accounts: dict[tuple[str, str], Record] = {}
    for finding in findings:
        if finding.remediation not in WRITES or finding.account is None:
            continue
        key = (finding.target, finding.account.id)
        grouped.setdefault(key, []).append(finding)
        accounts.setdefault(key, finding.account)
    actions = []
    for key in sorted(grouped):
        account = accounts[key]
        group = sorted(grouped[key], key=lambda found: found.kind.value)
        actions.append(
            Action(
                target=key[0],
                account_id=key[1],
                action=_strongest(found.remediation for found in group),
                findings=tuple(Reason(found.kind, found.fingerprint) for found in group),
                version=account.version,
                username=account.username,
                email=account.email,
            )
        )
    return tuple(actions)


def manual_items(findings: Iterable[Finding]) -> tuple[ManualItem, ...]:
    items = []
    for finding in findings:
        if finding.remediation is not Remediation.MANUAL:
            continue
        subject = finding.account or finding.identity
        items.append(
            ManualItem(
                target=finding.target,
                subject=subject.label if subject else "",
                kind=finding.kind,
                fingerprint=finding.fingerprint,
                reason=finding.remediation_reason,
            )
        )
    return tuple(sorted(items, key=lambda item: (item.target, item.subject, item.kind.value)))


def build(config: Config, report: Report, *, created_at: datetime) -> Plan:
    """The plan for a report made with ``config``."""
    urls = {target.name: target_url(target) for target in config.targets}
    return Plan(
        created_at=created_at,
        evaluated_at=report.generated_at,
        config_path=str(config.path),
        config_digest=config.digest,
        source=report.source_name,
        identities=report.identities,
        targets=tuple(
            PlanTarget(stats.name, stats.connector, urls.get(stats.name), stats.accounts)
            for stats in report.targets
        ),
        actions=actions_from(report.findings),
        manual=manual_items(report.findings),
    )


# --- the rails that need no network -------------------------------------------------------


def threshold_problems(
    actions: Sequence[Action],
    accounts: Mapping[str, int],
    policy: Policy,
    max_actions: int | None = None,
) -> list[str]:
    """Why the actions exceed the thresholds (empty when they do not).

    ``max_actions`` (``--max-actions``) overrides ``policy.max_actions`` for the run;
    ``max_action_percent`` applies per target, of the accounts that target returned.
    Disables and deletes count together.
    """
    limit = policy.max_actions if max_actions is None else max_actions
    found = []
    if len(actions) > limit:
        found.append(
            f"{len(actions)} actions exceed max_actions {limit}"
            " (raise policy.max_actions or pass --max-actions after review)"
        )
    per_target = Counter(action.target for action in actions)
    for name in sorted(per_target):
        count = per_target[name]
        total = accounts.get(name, 0)
        share = 100.0 * count / total if total else 100.0
        if share > policy.max_action_percent:
            found.append(
                f"target {name}: {count} actions are {share:.1f}% of its {total} accounts,"
                f" over max_action_percent {policy.max_action_percent:g}"
            )
    return found


def source_drop_problem(current: int, previous: int | None, max_percent: float) -> str | None:
    """Why the source shrank too much since the last recorded run, or ``None``."""
    if previous is None or previous <= 0:
        return None
    drop = 100.0 * (previous - current) / previous
    if drop > max_percent:
        return (
            f"the source returned {current} identities, {drop:.1f}% fewer than the {previous}"
            f" of the last recorded run (max_source_drop_percent {max_percent:g})"
        )
    return None


def parse_duration(text: str) -> timedelta:
    """``90s``, ``30m``, ``24h``, ``2d``, ``1w`` or plain seconds."""
    match = DURATION.match(text)
    if match is None:
        raise UsageError(f"--max-age: expected a duration like 24h, 30m or 2d, got {text!r}")
    return timedelta(seconds=float(match[1]) * UNITS[match[2].casefold()])


def binding_problems(plan: Plan, config: Config) -> list[str]:
    """Why a plan does not belong to this config and these targets."""
    found = []
    if plan.config_digest != config.digest:
        found.append(
            f"the plan was made with another config (digest {plan.config_digest[:12]}…,"
            f" now {config.digest[:12]}…); make a new plan"
        )
    names = {target.name for target in config.targets}
    for planned in plan.targets:
        if planned.name not in names:
            found.append(f"the plan's target {planned.name!r} is not in the config")
            continue
        url = target_url(config.target(planned.name))
        if planned.url != url:
            found.append(
                f"target {planned.name}: the plan was made for {planned.url or 'no URL'},"
                f" the config now says {url or 'no URL'}"
            )
    return found


def age_problem(plan: Plan, wall_now: datetime, max_age: timedelta) -> str | None:
    """Why a plan is too old (or dated in the future) to apply, or ``None``."""
    age = wall_now - plan.created_at
    if age < -FUTURE_SKEW:
        return f"the plan is dated {format_datetime(plan.created_at)}, in the future"
    if age > max_age:
        hours = age.total_seconds() / 3600
        return (
            f"the plan was made {hours:.1f} h ago, older than --max-age"
            f" {max_age.total_seconds() / 3600:g} h; make a new plan"
        )
    return None


def consistency_problems(plan: Plan, config: Config) -> list[str]:
    """Actions the config would not take: the sign of an edited plan.

    Each action must name a target the plan covers, findings of kinds the target's
    ``remediate`` maps to a remediation its connector can perform, fingerprints that
    match (kind, target, account), the strongest of those remediations, and no protected
    account.
    """
    found = []
    covered = {target.name for target in plan.targets}
    seen: set[tuple[str, str]] = set()
    for action in plan.actions:
        where = f"action {action.action.value} {action.target}/{action.account_id}"
        if action.key in seen:
            found.append(f"{where}: listed twice")
        seen.add(action.key)
        if action.target not in covered or action.target not in {
            target.name for target in config.targets
        }:
            found.append(f"{where}: target not covered by the plan or the config")
            continue
        rules = target_rules(config, config.target(action.target))
        if not action.findings:
            found.append(f"{where}: no finding calls for it")
            continue
        taken = []
        for reason in action.findings:
            expected = fingerprint(reason.kind, action.target, action.account_id)
            mapped = rules.remediate.get(reason.kind)
            if reason.kind not in ACCOUNT_KINDS or reason.kind is FindingKind.AMBIGUOUS:
                found.append(f"{where}: {reason.kind.value} findings never get an action")
            elif reason.fingerprint != expected:
                found.append(f"{where}: fingerprint of its {reason.kind.value} finding is wrong")
            elif mapped is None or mapped.value not in rules.can_write:
                found.append(
                    f"{where}: the config does not {action.action.value} on {reason.kind.value}"
                )
            else:
                taken.append(mapped)
        if taken and len(taken) == len(action.findings) and _strongest(taken) != action.action:
            found.append(f"{where}: the config would {_strongest(taken).value} instead")
        probe = Record(
            id=action.account_id,
            location="plan",
            username=action.username,
            email=action.email,
        )
        if rules.is_protected(probe):
            found.append(f"{where}: the account is protected")
    return found


# --- plan files ---------------------------------------------------------------------------


def to_data(plan: Plan) -> dict[str, Any]:
    return {
        "plan_version": PLAN_VERSION,
        "tool": {"name": "nhirecon", "version": plan.tool_version},
        "created_at": format_datetime(plan.created_at),
        "evaluated_at": format_datetime(plan.evaluated_at),
        "config": {"path": plan.config_path, "digest": plan.config_digest},
        "source": {"name": plan.source, "identities": plan.identities},
        "targets": [
            {
                "name": target.name,
                "connector": target.connector,
                "url": target.url,
                "accounts": target.accounts,
            }
            for target in plan.targets
        ],
        "actions": [
            {
                "target": action.target,
                "account": {
                    "id": action.account_id,
                    "username": action.username,
                    "email": action.email,
                    "version": action.version,
                },
                "action": action.action.value,
                "findings": [
                    {"kind": reason.kind.value, "fingerprint": reason.fingerprint}
                    for reason in action.findings
                ],
            }
            for action in plan.actions
        ],
        "manual": [
            {
                "target": item.target,
                "subject": item.subject,
                "kind": item.kind.value,
                "fingerprint": item.fingerprint,
                "reason": item.reason,
            }
            for item in plan.manual
        ],
    }


def to_json(plan: Plan) -> str:
    """The plan file's text: deterministic JSON."""
    return json.dumps(to_data(plan), indent=2, ensure_ascii=False) + "\n"


class _Reader:
    def __init__(self, where: str) -> None:
        self.where = where

    def fail(self, key: str, message: str) -> UsageError:
        return UsageError(f"{self.where}: {key}: {message} (not a plan nhirecon wrote?)")

    def get(self, data: Any, key: str, name: str, kind: type | tuple[type, ...]) -> Any:
        if not isinstance(data, dict) or name not in data:
            raise self.fail(f"{key}.{name}".lstrip("."), "missing")
        value = data[name]
        if not isinstance(value, kind) or (isinstance(value, bool) and kind in (int, (int,))):
            raise self.fail(f"{key}.{name}".lstrip("."), f"unexpected value {value!r}")
        return value

    def optional_text(self, data: Any, key: str, name: str) -> str | None:
        value = data.get(name) if isinstance(data, dict) else None
        if value is None:
            return None
        if not isinstance(value, str):
            raise self.fail(f"{key}.{name}", f"unexpected value {value!r}")
        return value

    def instant(self, data: Any, name: str) -> datetime:
        text = self.get(data, "", name, str)
        try:
            value = parse_datetime(text)
        except ValueError_ as exc:
            raise self.fail(name, str(exc)) from None
        if value is None:
            raise self.fail(name, "empty")
        return value

    def enum(self, value: Any, key: str, kind: type[FindingKind] | type[Remediation]) -> Any:
        try:
            return kind(value)
        except ValueError:
            raise self.fail(key, f"unknown value {value!r}") from None


def from_json(text: str, where: str) -> Plan:
    """Read a plan file; a malformed one is a usage error naming the key."""
    reader = _Reader(where)
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise UsageError(f"{where}: not a plan file: invalid JSON ({exc})") from None
    if not isinstance(data, dict) or data.get("plan_version") != PLAN_VERSION:
        raise reader.fail("plan_version", f"expected {PLAN_VERSION}")
    config = reader.get(data, "", "config", dict)
    source = reader.get(data, "", "source", dict)
    targets = []
    for index, item in enumerate(reader.get(data, "", "targets", list)):
        key = f"targets[{index}]"
        targets.append(
            PlanTarget(
                name=reader.get(item, key, "name", str),
                connector=reader.get(item, key, "connector", str),
                url=reader.optional_text(item, key, "url"),
                accounts=reader.get(item, key, "accounts", int),
            )
        )
    actions = []
    for index, item in enumerate(reader.get(data, "", "actions", list)):
        key = f"actions[{index}]"
        account = reader.get(item, key, "account", dict)
        reasons = []
        for number, entry in enumerate(reader.get(item, key, "findings", list)):
            entry_key = f"{key}.findings[{number}]"
            reasons.append(
                Reason(
                    kind=reader.enum(
                        reader.get(entry, entry_key, "kind", str), entry_key, FindingKind
                    ),
                    fingerprint=reader.get(entry, entry_key, "fingerprint", str),
                )
            )
        action = reader.enum(reader.get(item, key, "action", str), f"{key}.action", Remediation)
        if action not in WRITES:
            raise reader.fail(f"{key}.action", f"expected disable or delete, got {action.value!r}")
        actions.append(
            Action(
                target=reader.get(item, key, "target", str),
                account_id=reader.get(account, f"{key}.account", "id", str),
                action=action,
                findings=tuple(reasons),
                version=reader.optional_text(account, f"{key}.account", "version"),
                username=reader.optional_text(account, f"{key}.account", "username"),
                email=reader.optional_text(account, f"{key}.account", "email"),
            )
        )
    manual = []
    for index, item in enumerate(data.get("manual") or []):
        key = f"manual[{index}]"
        manual.append(
            ManualItem(
                target=reader.get(item, key, "target", str),
                subject=reader.get(item, key, "subject", str),
                kind=reader.enum(reader.get(item, key, "kind", str), f"{key}.kind", FindingKind),
                fingerprint=reader.get(item, key, "fingerprint", str),
                reason=reader.get(item, key, "reason", str),
            )
        )
    tool = data.get("tool") if isinstance(data.get("tool"), dict) else {}
    assert isinstance(tool, dict)
    return Plan(
        created_at=reader.instant(data, "created_at"),
        evaluated_at=reader.instant(data, "evaluated_at"),
        config_path=reader.get(config, "config", "path", str),
        config_digest=reader.get(config, "config", "digest", str),
        source=reader.get(source, "source", "name", str),
        identities=reader.get(source, "source", "identities", int),
        targets=tuple(targets),
        actions=tuple(actions),
        manual=tuple(manual),
        tool_version=str(tool.get("version", "")),
    )
