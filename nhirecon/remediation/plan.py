"""Remediation plans: findings and config in, actions out. Pure: no I/O, no clock.

An action exists only where a finding's ``remediation`` is ``disable`` or ``delete``: the
finding rules already set it from the target's ``remediate`` and the connector's
``can_write``, and never for ambiguous findings or protected accounts. An account with
several such findings gets one action, the strongest (delete over disable), listing every
finding behind it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from nhirecon import __version__
from nhirecon.config import Config, Target
from nhirecon.core.model import Finding, FindingKind, Record, Remediation
from nhirecon.core.report import Report

WRITES: Final = (Remediation.DISABLE, Remediation.DELETE)
"""The remediations that are actions; ``delete`` is the stronger."""


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
    record: Record | None = field(default=None, compare=False, repr=False)
    """The account as the audit read it, for the re-check of an account without a version
    (see :func:`nhirecon.remediation.actions.perform`); not kept in a plan file: ``apply``
    takes it from its own fresh audit."""

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
    """The service URL of a live target, normalised; ``None`` for file exports. A connector
    without a ``url`` option names what it reaches (``aws-iam`` asks AWS which account)."""
    endpoint = target.endpoint
    return endpoint.connector.locate(endpoint.options, endpoint.context)


def strongest(actions: Iterable[Remediation]) -> Remediation:
    """``delete`` if any of them is, else ``disable``."""
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
                action=strongest(found.remediation for found in group),
                findings=tuple(Reason(found.kind, found.fingerprint) for found in group),
                version=account.version,
                username=account.username,
                email=account.email,
                record=account,
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
    reported = {stats.name for stats in report.targets}
    urls = {target.name: target_url(target) for target in config.targets if target.name in reported}
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
