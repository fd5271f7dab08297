"""What an input provided, and which rules its data cannot support (SPEC §3.2).

A rule that needs a field an input does not provide at all is not evaluated for that
input, and the report says so: an export without a sign-in column says nothing about
dormancy, so no account of it is "never used".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

from nhirecon.core.model import CANONICAL_FIELDS, Finding, FindingKind
from nhirecon.core.policy import CorrelationRule


@dataclass(frozen=True, slots=True)
class NotEvaluated:
    """A rule skipped for one source or target, and why."""

    rule: FindingKind
    reason: str
    input: str | None = None
    """The one input of a source (``source.include[0]``) it was skipped for, where the
    others support it: their findings of the rule stand. ``None``: the whole place."""


@dataclass(frozen=True, slots=True)
class Evidence:
    """What one source or target provided."""

    provided: frozenset[str] = frozenset()
    """Fields the input has data for: a column of its header, or a path found in at least
    one record."""
    coverage: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    """Canonical field → how many records have a value for it (every canonical field)."""
    not_evaluated: tuple[NotEvaluated, ...] = ()


TARGET_NEEDS: Final[Mapping[FindingKind, tuple[str, ...]]] = MappingProxyType(
    {
        FindingKind.DORMANT: ("last_login_at",),
        FindingKind.STALE_CREDENTIAL: ("credential_rotated_at",),
        FindingKind.HUMAN_USE: ("password_enabled", "last_interactive_login_at"),
        FindingKind.SHARED_CREDENTIAL: ("credential_id",),
    }
)
"""Account rules and the fields of the target's own export each one reads (any of them)."""
SOURCE_NEEDS: Final[Mapping[FindingKind, tuple[str, ...]]] = MappingProxyType(
    {
        # Whether an account belongs to a leaver is read from its identity's status: a
        # source with none (a column renamed away from the name read by default) makes
        # every identity active, and no account a leaver's.
        FindingKind.LEAVER: ("status",),
        FindingKind.OWNERLESS: ("owner",),
        FindingKind.HUMAN_USE: ("password_enabled", "last_interactive_login_at"),
        FindingKind.SHARED_CREDENTIAL: ("credential_id",),
    }
)
"""Source rules, and target rules that read the source's records, and the fields of the
source each one reads (any of them)."""


def evidence(
    provided: Iterable[str],
    values: Mapping[str, int],
    needs: Mapping[FindingKind, tuple[str, ...]],
) -> Evidence:
    """The evidence of one input: its coverage of every canonical field, and the rules of
    ``needs`` none of whose fields it provides at all."""
    present = frozenset(provided)
    coverage = MappingProxyType({name: values.get(name, 0) for name in CANONICAL_FIELDS})
    skipped = tuple(
        NotEvaluated(rule, f"the input provides no {' or '.join(names)}")
        for rule, names in needs.items()
        if present.isdisjoint(names)
    )
    return Evidence(present, coverage, skipped)


def evaluated(findings: Iterable[Finding], place: str, skipped: Evidence) -> list[Finding]:
    """``findings`` without those of ``place`` from rules its evidence could not support."""
    rules = {item.rule for item in skipped.not_evaluated if item.input is None}
    if not rules:
        return list(findings)
    return [f for f in findings if not (f.target == place and f.kind in rules)]


def unreadable_rules(
    correlate: Sequence[CorrelationRule], accounts: Evidence, identities: Evidence
) -> str | None:
    """Why a target's ``correlate`` can link nothing (SPEC §3.2: no silent misreads), or
    ``None``: no rule reads an account field the target provides and an identity field
    the source provides, so every account would be an ``orphan``. Only rules on canonical
    fields are judged: the evidence does not say which custom attributes an input holds.
    """
    if not correlate or any(
        rule.account not in CANONICAL_FIELDS or rule.identity not in CANONICAL_FIELDS
        for rule in correlate
    ):
        return None
    if any(
        rule.account in accounts.provided and rule.identity in identities.provided
        for rule in correlate
    ):
        return None
    read = "; ".join(
        f"account.{rule.account} ({_provided(rule.account, accounts, 'target')}) ="
        f" identity.{rule.identity} ({_provided(rule.identity, identities, 'source')})"
        for rule in correlate
    )
    return f"no correlate rule can link an account: {read}; every account would be an orphan"


def _provided(name: str, evidence: Evidence, place: str) -> str:
    return f"the {place} has it" if name in evidence.provided else f"the {place} has none"
