"""Reports as plain data: the JSON schema, shared by every machine-readable format."""

from __future__ import annotations

from collections import Counter
from typing import Any

from nhirecon.core.evidence import Evidence
from nhirecon.core.model import SEVERITY_ORDER, ExceptionRule, Finding, FindingKind, Record
from nhirecon.core.report import Report, ResolvedFinding, RunTrend
from nhirecon.core.values import format_datetime
from nhirecon.state.baseline import entry_data

ACCOUNT_FIELDS = (
    "id",
    "external_id",
    "username",
    "email",
    "display_name",
    "origin",
    "active",
    "kind",
    "created_at",
    "last_login_at",
    "expires_at",
    "credential_rotated_at",
    "last_interactive_login_at",
    "password_enabled",
    "credential_id",
)
IDENTITY_FIELDS = (
    "id",
    "username",
    "email",
    "display_name",
    "status",
    "kind",
    "owner",
    "department",
    "title",
    "manager",
    "expires_at",
    "credential_id",
)


def record(value: Record | None, fields: tuple[str, ...]) -> dict[str, Any] | None:
    if value is None:
        return None
    data: dict[str, Any] = {}
    for name in fields:
        item = value.value(name)
        if hasattr(item, "isoformat"):
            item = format_datetime(item)
        elif hasattr(item, "value") and not isinstance(item, str | bool):
            item = item.value
        data[name] = item
    return data


def exception(rule: ExceptionRule) -> dict[str, Any]:
    return {
        "target": rule.target,
        "account": rule.account,
        "kind": rule.kind.value if rule.kind else None,
        "reason": rule.reason,
        "owner": rule.owner,
        "expires": rule.expires.isoformat(),
    }


def finding(item: Finding) -> dict[str, Any]:
    data: dict[str, Any] = {
        "fingerprint": item.fingerprint,
        "kind": item.kind.value,
        "severity": item.severity.value,
        "target": item.target,
        "account": record(item.account, ACCOUNT_FIELDS),
        "identity": record(item.identity, IDENTITY_FIELDS),
        "message": item.message,
        "detail": dict(item.detail),
        "remediation": item.remediation.value,
        "remediation_reason": item.remediation_reason,
        "controls": list(item.controls),
    }
    if item.expired_exception is not None:
        data["expired_exception"] = exception(item.expired_exception)
    return data


def summary(report: Report) -> dict[str, Any]:
    by_kind = Counter(item.kind.value for item in report.findings)
    by_target = Counter(item.target for item in report.findings)
    by_severity = Counter(item.severity.value for item in report.findings)
    return {
        "total": len(report.findings),
        "excepted": len(report.excepted),
        "by_kind": {kind.value: by_kind[kind.value] for kind in FindingKind if by_kind[kind.value]},
        "by_target": dict(sorted(by_target.items())),
        "by_severity": {
            level.value: by_severity[level.value]
            for level in SEVERITY_ORDER
            if by_severity[level.value]
        },
        **run_summary(report),
    }


def run_summary(report: Report) -> dict[str, Any]:
    """Counts that exist only with history (new, resolved) or a baseline (baselined)."""
    data: dict[str, Any] = {}
    if report.history is not None:
        data["new"] = sum(1 for item in report.findings if (seen := report.seen(item)) and seen.new)
        data["resolved"] = len(report.history.resolved)
    if report.baseline is not None:
        data["baselined"] = len(report.baseline.accepted)
    return data


def finding_context(report: Report, item: Finding) -> dict[str, Any]:
    """Per-finding fields from the history (first_seen, age_days, new) and the baseline."""
    data: dict[str, Any] = {}
    seen = report.seen(item)
    if seen is not None:
        data["first_seen"] = format_datetime(seen.first_seen)
        data["age_days"] = seen.age_days
        data["new"] = seen.new
    if report.baseline is not None:
        data["baselined"] = report.is_baselined(item)
    return data


def resolved(item: ResolvedFinding) -> dict[str, Any]:
    return {
        "fingerprint": item.fingerprint,
        "kind": item.kind.value,
        "target": item.target,
        "account_id": item.account_id,
        "identity_id": item.identity_id,
        "label": item.label,
        "first_seen": format_datetime(item.first_seen),
        "last_seen": format_datetime(item.last_seen),
    }


def trend_point(run: RunTrend) -> dict[str, Any]:
    return {
        "at": format_datetime(run.at),
        "places": list(run.places),
        "total": run.total,
        "excepted": run.excepted,
        "new": run.new,
        "resolved": run.resolved,
        "by_kind": {kind.value: count for kind, count in run.by_kind.items()},
    }


def run_context(report: Report) -> dict[str, Any]:
    """Top-level sections that exist only with history or a baseline."""
    data: dict[str, Any] = {}
    if report.history is not None:
        previous = report.history.previous_run
        data["resolved"] = [resolved(item) for item in report.history.resolved]
        data["history"] = {
            "previous_run": format_datetime(previous) if previous else None,
            "trend": [trend_point(run) for run in report.history.trend],
        }
    if report.baseline is not None:
        data["baseline"] = {
            "path": report.baseline.path,
            "entries": report.baseline.entries,
            "matched": len(report.baseline.accepted),
            "stale": [entry_data(entry) for entry in report.baseline.stale],
        }
    return data


def evidence(value: Evidence) -> dict[str, Any]:
    """``coverage`` (canonical field → records with a value) and ``not_evaluated`` (the
    rules skipped for want of data, with why) of one source or target (SPEC §3.2)."""
    return {
        "coverage": dict(value.coverage),
        "not_evaluated": [
            {"rule": item.rule.value, "reason": item.reason} for item in value.not_evaluated
        ],
    }


def report(value: Report) -> dict[str, Any]:
    """The JSON report, schema version 1."""
    data: dict[str, Any] = {
        "schema_version": value.schema_version,
        "tool": {"name": "nhirecon", "version": value.tool_version},
        "generated_at": format_datetime(value.generated_at),
        "source": {
            "name": value.source_name,
            "connector": value.source_connector,
            "identities": value.identities,
            **evidence(value.source_evidence),
        },
        "targets": [
            {
                "name": stats.name,
                "connector": stats.connector,
                "accounts": stats.accounts,
                "linked": stats.linked,
                "unmatched": stats.unmatched,
                "ambiguous": stats.ambiguous,
                "inactive": stats.inactive,
                "lookalike": stats.lookalike,
                **evidence(stats.evidence),
            }
            for stats in value.targets
        ],
        "summary": summary(value),
        "findings": [finding(item) | finding_context(value, item) for item in value.findings],
        "excepted": [
            {**finding(item), **finding_context(value, item), "exception": exception(rule)}
            for item, rule in value.excepted
        ],
        "allowlist": [
            {
                "list": entry.list.value,
                "target": entry.target,
                "entry": entry.entry,
                "accounts": list(entry.accounts),
                "effect": entry.effect,
            }
            for entry in value.allowlist
        ],
        "gate": {
            "passed": value.gate.passed,
            "rules": [
                {"rule": outcome.rule.text, "count": outcome.count, "passed": outcome.passed}
                for outcome in value.gate.outcomes
            ],
        },
    }
    data.update(run_context(value))
    return data
