"""Reports as plain data: the JSON schema, shared by every machine-readable format."""

from __future__ import annotations

from collections import Counter
from typing import Any

from nhirecon.model import SEVERITY_ORDER, ExceptionRule, Finding, FindingKind, Record, Report
from nhirecon.values import format_datetime

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
    }


def report(value: Report) -> dict[str, Any]:
    """The JSON report, schema version 1."""
    return {
        "schema_version": value.schema_version,
        "tool": {"name": "nhirecon", "version": value.tool_version},
        "generated_at": format_datetime(value.generated_at),
        "source": {
            "name": value.source_name,
            "connector": value.source_connector,
            "identities": value.identities,
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
            }
            for stats in value.targets
        ],
        "summary": summary(value),
        "findings": [finding(item) for item in value.findings],
        "excepted": [
            {**finding(item), "exception": exception(rule)} for item, rule in value.excepted
        ],
        "gate": {
            "passed": value.gate.passed,
            "rules": [
                {"rule": outcome.rule.text, "count": outcome.count, "passed": outcome.passed}
                for outcome in value.gate.outcomes
            ],
        },
    }
