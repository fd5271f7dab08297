"""Small builders for records and targets used by the unit tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from nhirecon.core.findings import Clock, TargetRules
from nhirecon.core.model import FindingKind, Record, Remediation
from nhirecon.core.policy import CorrelationRule, Policy

NOW = datetime(2026, 11, 28, tzinfo=UTC)
CLOCK = Clock(NOW, Policy())
ACTIVE = frozenset({"active", "leave"})


def person(id: str, **fields: Any) -> Record:
    fields.setdefault("status", "active")
    return Record(id=id, location=f"hr.csv:{id}", **fields)


def account(id: str, **fields: Any) -> Record:
    return Record(id=id, location=f"app.csv:{id}", **fields)


def days_ago(days: float) -> datetime:
    from datetime import timedelta

    return NOW - timedelta(days=days)


def rules(
    *,
    compare: tuple[str, ...] = (),
    remediate: dict[FindingKind, Remediation] | None = None,
    can_write: frozenset[str] = frozenset(),
    protected: frozenset[str] = frozenset(),
    connector: str = "csv",
) -> TargetRules:
    return TargetRules(
        name="app",
        connector=connector,
        compare=compare,
        remediate=remediate or {},
        can_write=can_write,
        protected=protected,
    )


EMAIL = CorrelationRule("email", "email")
EXTERNAL_ID = CorrelationRule("external_id", "id")
USERNAME_TO_EMAIL = CorrelationRule("username", "email")
