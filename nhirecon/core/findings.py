"""The finding rules of SPEC §5: pure functions of records, links, policy and ``now``."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from nhirecon.core import compare
from nhirecon.core.allowlist import names
from nhirecon.core.correlate import Link, LinkStatus
from nhirecon.core.ids import id_problem
from nhirecon.core.model import (
    HUMAN,
    KIND_INFO,
    Finding,
    FindingKind,
    Origin,
    Record,
    Remediation,
    fingerprint,
)
from nhirecon.core.policy import Policy
from nhirecon.core.values import format_datetime, key_for, telltales


@functools.lru_cache(maxsize=64)
def _days(days: int) -> timedelta:
    """``timedelta(days=days)``, made once per value: a rule asks for the same few limits
    for every account, and making one costs several times the comparison it serves."""
    return timedelta(days=days)


@dataclass(frozen=True)
class Clock:
    """The instant the audit is evaluated at, and the policy's limits measured from it."""

    now: datetime
    policy: Policy

    def days_since(self, moment: datetime) -> int:
        return (self.now - moment).days

    def older_than(self, moment: datetime, days: int) -> bool:
        """Whether more than ``days`` days passed from ``moment`` to now."""
        return self.now - moment > _days(days)


@dataclass(frozen=True)
class TargetRules:
    """What the rules need to know about one target."""

    name: str
    connector: str
    compare: Sequence[str]
    remediate: Mapping[FindingKind, Remediation]
    can_write: frozenset[str]
    protected: frozenset[str]
    """Its ``protected`` entries, as :func:`nhirecon.core.allowlist.entry_key` keys them."""

    def is_protected(self, account: Record) -> bool:
        return bool(self.protected) and not self.protected.isdisjoint(names(account))


def subject_keys(record: Record) -> set[str]:
    """The normalised names (SPEC §4) an ``owner`` can use for an identity: its id and
    every username and email it has."""
    if record.multi_values:
        names: tuple[str | None, ...] = (
            record.id,
            *record.values("username"),
            *record.values("email"),
        )
    else:
        names = (record.id, record.username, record.email)
    return {key for key in (key_for(value, "casefold") for value in names) if key is not None}


def make(
    kind: FindingKind,
    target: str,
    account: Record | None,
    identity: Record | None,
    message: str,
    detail: Mapping[str, Any],
    remediation: tuple[Remediation, str],
) -> Finding:
    subject = account or identity
    assert subject is not None
    return Finding(
        kind=kind,
        severity=KIND_INFO[kind].severity,
        target=target,
        account=account,
        identity=identity,
        message=message,
        detail=detail,
        remediation=remediation[0],
        remediation_reason=remediation[1],
        fingerprint=fingerprint(kind, target, subject.id),
    )


def remedy(
    kind: FindingKind, target: TargetRules, account: Record, ambiguous: bool = False
) -> tuple[Remediation, str]:
    """What can be done about a finding. An account whose correlation is ambiguous gets no
    action for any of its findings: which identity it belongs to is not known."""
    if kind is FindingKind.AMBIGUOUS:
        return Remediation.MANUAL, "correlation is ambiguous: link the account by hand"
    if kind is FindingKind.DUPLICATE_ACCOUNT:
        return Remediation.MANUAL, "decide by hand which of the accounts to keep"
    if ambiguous and target.remediate.get(kind) is not None:
        return Remediation.MANUAL, "correlation is ambiguous: link the account by hand first"
    if target.is_protected(account):
        return Remediation.NONE, "protected account: never disabled or deleted"
    action = target.remediate.get(kind)
    if action is None:
        return Remediation.NONE, ""
    if action.value not in target.can_write:
        return (
            Remediation.MANUAL,
            f"{action.value} by hand: the {target.connector} connector cannot write",
        )
    problem = id_problem(account.id)
    if problem:
        return Remediation.MANUAL, f"{action.value} by hand: {problem}"
    return action, ""


def day(moment: datetime) -> str:
    """The UTC date of an instant, for messages: ``2026-11-28``."""
    return format_datetime(moment)[:10]


def account_findings(
    target: TargetRules,
    account: Record,
    link: Link,
    source: str,
    clock: Clock,
    active_status: frozenset[str],
) -> list[Finding]:
    """Every finding for one account of a target; inactive accounts have none."""
    if not account.active:
        return []
    found: list[Finding] = []

    lookalike = link.lookalike.as_detail() if link.lookalike else None

    def add(
        kind: FindingKind, message: str, detail: Mapping[str, Any], identity: Record | None = None
    ) -> None:
        if lookalike is not None:
            message = f"{message} {lookalike_note(lookalike)}"
            detail = {**detail, "lookalike": lookalike}
        found.append(
            make(
                kind,
                target.name,
                account,
                identity,
                message,
                detail,
                remedy(kind, target, account, ambiguous),
            )
        )

    ambiguous = link.status is LinkStatus.AMBIGUOUS

    name = account.label
    policy = clock.policy
    is_leaver = False
    if link.status is LinkStatus.AMBIGUOUS:
        ids = [candidate.id for candidate in link.candidates]
        add(
            FindingKind.AMBIGUOUS,
            f"{name}: rule {link.rule} matched {len(ids)} identities in {source}"
            f" ({', '.join(ids)})",
            {"rule": str(link.rule), "candidates": ids},
        )
    elif link.status is LinkStatus.UNMATCHED:
        created = account.created_at
        # A creation after the run's instant (a sentinel such as 9999-12-31, a slip of the
        # zone or format) is no sign of a young account: it gives no grace.
        in_grace = (
            created is not None
            and policy.orphan_grace_days > 0
            and created <= clock.now
            and not clock.older_than(created, policy.orphan_grace_days)
        )
        if not in_grace:
            if account.origin is Origin.JIT:
                add(
                    FindingKind.JIT_ORPHAN,
                    f"{name}: created at sign-in (JIT) and owned by no identity in {source}",
                    {"origin": account.origin.value},
                )
            else:
                add(
                    FindingKind.ORPHAN,
                    f"{name}: owned by no identity in {source} (origin {account.origin.value})",
                    {"origin": account.origin.value},
                )
    else:
        identity = link.identity
        assert identity is not None
        is_leaver = not is_active(identity, active_status)
        if is_leaver:
            add(
                FindingKind.LEAVER,
                f"{name}: belongs to {identity.label}, whose status in {source} is "
                f"{identity.status!r}",
                {"identity_status": identity.status},
                identity,
            )
        drift = compare.drift(target.compare, identity, account)
        if drift:
            fields = ", ".join(
                f"{item['field']}: {source} {_said(item['source'])},"
                f" {target.name} {_said(item['target'])}"
                for item in drift
            )
            add(
                FindingKind.STALE_ATTRIBUTE,
                f"{name}: differs from {source} ({fields})",
                {"fields": drift},
                identity,
            )
        if account.origin is Origin.JIT:
            add(
                FindingKind.UNMANAGED,
                f"{name}: created at sign-in (JIT), never brought under lifecycle sync",
                {"origin": account.origin.value},
                identity,
            )
    expiry = None if is_leaver else _expiry(account, link.identity, clock)
    if expiry is not None:
        whose, moment = expiry
        add(
            FindingKind.EXPIRED,
            f"{name}: {whose} expired on {day(moment)} ({ago(clock.days_since(moment))})",
            {"expired": whose, "expires_at": format_datetime(moment)},
            link.identity,
        )
    _usage_findings(account, link.identity, clock, add)
    used = human_use(account, link.identity, clock)
    if used is not None:
        add(FindingKind.HUMAN_USE, f"{name}: {used[0]}", used[1], link.identity)
    return found


def human_use(
    record: Record, identity: Record | None, clock: Clock
) -> tuple[str, dict[str, Any]] | None:
    """Why a non-human identity (or an account of one) is used like a person: it has an
    interactive password, or signed in interactively within ``dormant_days`` (OWASP
    NHI10:2025). ``None`` for people, and when neither is known."""
    kind = record.kind if not record.is_human else identity.kind if identity else record.kind
    if kind == HUMAN:
        return None
    signed_in = record.last_interactive_login_at
    recent = signed_in is not None and not clock.older_than(signed_in, clock.policy.dormant_days)
    if not record.password_enabled and not recent:
        return None
    reasons = []
    if record.password_enabled:
        reasons.append("has an interactive password")
    if recent and signed_in is not None:
        reasons.append(f"signed in interactively on {day(signed_in)}")
    detail: dict[str, Any] = {
        "kind": kind,
        "password_enabled": bool(record.password_enabled),
        "last_interactive_login_at": format_datetime(signed_in) if signed_in else None,
    }
    return f"{kind} {' and '.join(reasons)}", detail


def ago(days: int, limit: int | None = None) -> str:
    """``N days ago``, ``1 day ago`` or ``less than a day ago`` (``days`` counts whole
    days); ``more than N days ago`` when a finding says the age is over a ``limit`` of N
    days that the whole days only reach (``N days ago; limit N`` would read as within it)."""
    if limit is not None and days == limit:
        return f"more than {days} days ago"
    if days == 0:
        return "less than a day ago"
    return "1 day ago" if days == 1 else f"{days} days ago"


def _said(value: object) -> str:
    """A compared value in a message: quoted as Python writes it, or ``(empty)``."""
    return "(empty)" if value is None else repr(value)


def lookalike_note(lookalike: Mapping[str, str]) -> str:
    """The words a finding's message ends with when its link was a look-alike: the field,
    both values, and the characters that set them apart (:func:`telltales`), since a sign
    such as ``\u212a`` looks exactly like the letter it passes for."""
    ours, theirs = lookalike["account_value"], lookalike["identity_value"]
    odd = list(telltales(ours, theirs))
    if len(odd) > _TELLTALES:
        odd[_TELLTALES:] = [f"and {len(odd) - _TELLTALES} more"]
    return (
        f"[linked by a look-alike {lookalike['field']}: {ours!r} here, {theirs!r} in the"
        f" source{'; ' if odd else ''}{', '.join(odd)}]"
    )


_TELLTALES = 3
"""How many characters a look-alike note names; past that, it counts the rest."""


def _expiry(account: Record, identity: Record | None, clock: Clock) -> tuple[str, datetime] | None:
    identity_expiry = identity.expires_at if identity else None
    for whose, moment in (("account", account.expires_at), ("identity", identity_expiry)):
        if moment is not None and moment < clock.now:
            return whose, moment
    return None


def _usage_findings(account: Record, identity: Record | None, clock: Clock, add: Any) -> None:
    policy = clock.policy
    name = account.label
    last = account.last_login_at
    if last is not None:
        if clock.older_than(last, policy.dormant_days):
            add(
                FindingKind.DORMANT,
                f"{name}: last used {day(last)}"
                f" ({ago(clock.days_since(last), policy.dormant_days)};"
                f" limit {policy.dormant_days})",
                {"last_login_at": format_datetime(last), "days": clock.days_since(last)},
                identity,
            )
    elif account.created_at is not None and clock.older_than(
        account.created_at, policy.dormant_days
    ):
        created = account.created_at
        add(
            FindingKind.DORMANT,
            f"{name}: never used since it was created on {day(created)} "
            f"({ago(clock.days_since(created), policy.dormant_days)})",
            {
                "last_login_at": None,
                "created_at": format_datetime(created),
                "days": clock.days_since(created),
            },
            identity,
        )
    rotated = account.credential_rotated_at
    if rotated is not None and clock.older_than(rotated, policy.credential_max_age_days):
        add(
            FindingKind.STALE_CREDENTIAL,
            f"{name}: credential last rotated {day(rotated)}"
            f" ({ago(clock.days_since(rotated), policy.credential_max_age_days)};"
            f" limit {policy.credential_max_age_days})",
            {"credential_rotated_at": format_datetime(rotated), "days": clock.days_since(rotated)},
            identity,
        )


def is_active(identity: Record, active_status: frozenset[str]) -> bool:
    """Whether ``identity`` counts as active: its status is one of ``active_status``
    (case-folded), or it has none. An identity without a status counts as active whatever
    words ``active_status`` lists (an inventory beside an HR export often has no status)."""
    return identity.status is None or identity.status.casefold() in active_status
