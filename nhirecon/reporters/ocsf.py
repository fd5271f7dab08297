"""OCSF Detection Findings, one JSON object per line, for SIEMs and security data lakes.

Each finding is an OCSF 1.x Detection Finding (class ``2004``, category ``2`` Findings;
https://schema.ocsf.io/1.5.0/classes/detection_finding):

- ``finding_info.uid`` is the finding's fingerprint, stable across runs;
- ``activity_id`` and ``status_id`` follow the history: a new finding is *Create* / *New*,
  one seen before is *Update* / *Other* (``status: "Existing"``), one gone since the
  previous run is *Close* / *Resolved*; without history a finding is *Create* and its
  status *Unknown*. An excepted or baselined finding is *Suppressed*;
- ``severity_id`` maps the severity (critical 5, high 4, medium 3, low 2, info 1);
- the account and the identity are ``resources`` (type ``Account`` / ``Identity``, the
  target or source as ``group``);
- the controls are ``unmapped.compliance``, by framework, as Prowler writes them
  (OCSF's ``compliance`` object belongs to the Compliance Finding class).

Times are OCSF ``timestamp_t``: milliseconds since the Unix epoch.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any, Final

from nhirecon.core.model import KIND_INFO, Finding, FindingKind, Severity
from nhirecon.core.report import Report, ResolvedFinding
from nhirecon.core.values import format_datetime
from nhirecon.reporters import serialize
from nhirecon.reporters.base import Reporter
from nhirecon.reporters.json import compact
from nhirecon.reporters.remedies import REMEDIES

OCSF_VERSION: Final = "1.5.0"
CLASS_UID: Final = 2004
CATEGORY_UID: Final = 2
SEVERITY_ID: Final[Mapping[Severity, tuple[int, str]]] = {
    Severity.CRITICAL: (5, "Critical"),
    Severity.HIGH: (4, "High"),
    Severity.MEDIUM: (3, "Medium"),
    Severity.LOW: (2, "Low"),
    Severity.INFO: (1, "Informational"),
}
ACTIVITY: Final = {"create": (1, "Create"), "update": (2, "Update"), "close": (3, "Close")}
STATUS: Final = {
    "unknown": (0, "Unknown"),
    "new": (1, "New"),
    "suppressed": (3, "Suppressed"),
    "resolved": (4, "Resolved"),
    "existing": (99, "Existing"),
}
FRAMEWORKS: Final = (
    ("OWASP-NHI", "OWASP Top 10 Non-Human Identities Risks"),
    ("NIST-CSF-2.0", "NIST CSF 2.0"),
    ("CIS-8", "CIS Controls v8"),
)


def milliseconds(moment: datetime) -> int:
    """OCSF ``timestamp_t``: whole milliseconds since the Unix epoch."""
    return int(moment.timestamp() * 1000)


def compliance(controls: tuple[str, ...]) -> dict[str, list[str]]:
    """Controls by framework: ``OWASP-NHI1:2025`` → ``{"OWASP Top 10 Non-Human Identities
    Risks": ["NHI1:2025"]}``, ``NIST-CSF-2.0:PR.AA-01`` → ``{"NIST CSF 2.0": ["PR.AA-01"]}``."""
    found: dict[str, list[str]] = {}
    for control in controls:
        for prefix, framework in FRAMEWORKS:
            if control.startswith(prefix):
                requirement = control.removeprefix(prefix).removeprefix(":")
                found.setdefault(framework, []).append(
                    requirement if prefix != "OWASP-NHI" else f"NHI{requirement}"
                )
                break
        else:
            found.setdefault("other", []).append(control)
    return found


def _event(
    report: Report,
    kind: FindingKind,
    fingerprint: str,
    message: str,
    activity: str,
    status: str,
    resources: list[dict[str, Any]],
    unmapped: dict[str, Any],
    first_seen: datetime | None,
) -> dict[str, Any]:
    info = KIND_INFO[kind]
    activity_id, activity_name = ACTIVITY[activity]
    status_id, status_name = STATUS[status]
    severity_id, severity_name = SEVERITY_ID[info.severity]
    now = milliseconds(report.generated_at)
    finding_info: dict[str, Any] = {
        "uid": fingerprint,
        "title": info.summary,
        "desc": message,
        "types": [kind.value],
        "data_sources": [report.source_name],
        "last_seen_time": now,
    }
    if first_seen is not None:
        finding_info["first_seen_time"] = milliseconds(first_seen)
    return {
        "metadata": {
            "version": OCSF_VERSION,
            "product": {
                "name": "nhirecon",
                "vendor_name": "nhirecon",
                "uid": "nhirecon",
                "version": report.tool_version,
            },
            "event_code": kind.value,
        },
        "time": now,
        "category_uid": CATEGORY_UID,
        "category_name": "Findings",
        "class_uid": CLASS_UID,
        "class_name": "Detection Finding",
        "activity_id": activity_id,
        "activity_name": activity_name,
        "type_uid": CLASS_UID * 100 + activity_id,
        "type_name": f"Detection Finding: {activity_name}",
        "severity_id": severity_id,
        "severity": severity_name,
        "status_id": status_id,
        "status": status_name,
        "message": message,
        "finding_info": finding_info,
        "resources": resources,
        "remediation": {"desc": REMEDIES[kind]},
        "unmapped": {"compliance": compliance(info.controls), "controls": list(info.controls)}
        | unmapped,
    }


def _resources(report: Report, finding: Finding) -> list[dict[str, Any]]:
    resources = []
    if finding.account is not None:
        resources.append(
            {
                "type": "Account",
                "uid": finding.account.id,
                "name": finding.account.label,
                "group": {"name": finding.target},
                "data": serialize.record(finding.account, serialize.ACCOUNT_FIELDS),
            }
        )
    if finding.identity is not None:
        resources.append(
            {
                "type": "Identity",
                "uid": finding.identity.id,
                "name": finding.identity.label,
                "group": {"name": report.source_name},
                "data": serialize.record(finding.identity, serialize.IDENTITY_FIELDS),
            }
        )
    return resources


def _finding(report: Report, finding: Finding, suppressed: dict[str, Any] | None) -> dict[str, Any]:
    seen = report.seen(finding)
    if seen is None:
        activity, status = "create", "unknown"
    elif seen.new:
        activity, status = "create", "new"
    else:
        activity, status = "update", "existing"
    unmapped: dict[str, Any] = {
        "target": finding.target,
        "remediation": finding.remediation.value,
        "remediation_reason": finding.remediation_reason,
        "detail": dict(finding.detail),
    }
    if report.is_baselined(finding) and report.baseline is not None:
        suppressed = {"baseline": str(report.baseline.path)}
    if suppressed is not None:
        status = "suppressed"
        unmapped["suppressed_by"] = suppressed
    return _event(
        report,
        finding.kind,
        finding.fingerprint,
        finding.message,
        activity,
        status,
        _resources(report, finding),
        unmapped,
        seen.first_seen if seen else None,
    )


def _resolved(report: Report, item: ResolvedFinding) -> dict[str, Any]:
    resources: list[dict[str, Any]] = []
    if item.account_id is not None:
        resources.append(
            {
                "type": "Account",
                "uid": item.account_id,
                "name": item.label,
                "group": {"name": item.target},
            }
        )
    if item.identity_id is not None:
        resources.append(
            {"type": "Identity", "uid": item.identity_id, "group": {"name": report.source_name}}
        )
    return _event(
        report,
        item.kind,
        item.fingerprint,
        f"{item.label}: no longer found",
        "close",
        "resolved",
        resources,
        {"target": item.target, "last_seen": format_datetime(item.last_seen)},
        item.first_seen,
    )


def events(report: Report) -> Iterator[dict[str, Any]]:
    """Every event of a report: counted findings, then excepted ones, then resolved ones."""
    for finding in report.findings:
        yield _finding(report, finding, None)
    for finding, rule in report.excepted:
        yield _finding(report, finding, {"exception": serialize.exception(rule)})
    if report.history is not None:
        for item in report.history.resolved:
            yield _resolved(report, item)


class OcsfReporter(Reporter):
    name = "ocsf"
    description = "OCSF 1.x Detection Findings, one JSON object per line, for SIEMs and data lakes."
    extensions = (".ocsf.jsonl", ".ocsf")

    def chunks(self, report: Report) -> Iterator[str]:
        """A line per event, made as it is written: ``json.dumps(event,
        ensure_ascii=False, separators=(",", ":"))`` and a newline (see
        :func:`nhirecon.reporters.json.compact`)."""
        for event in events(report):
            yield compact(event) + "\n"

    def render(self, report: Report) -> str:
        return "".join(self.chunks(report))
