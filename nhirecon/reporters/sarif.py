"""SARIF 2.1.0, for code-scanning dashboards (GitHub, GitLab, Azure DevOps).

Rules are the finding kinds, with their help text, default level and control mappings.
Each finding is one result. GitHub code scanning tracks an alert by its rule, its file and
``partialFingerprints.primaryLocationLineHash``
(https://docs.github.com/en/code-security/code-scanning/integrating-with-code-scanning/sarif-support-for-code-scanning),
so each result carries:

- ``primaryLocationLineHash``: the finding's fingerprint (SPEC §5), so the alert follows the
  account across runs, whatever lines move in the export;
- a physical location with a ``region.startLine`` (GitHub needs one): the export file and
  line where the account or identity was read; line 1 of the file for a record whose line
  is not known (a JSON array); the config file and the line that defines the target for a
  record read from a URL (SCIM). Paths are as the report's locations show them: relative to
  the working directory when below it, which is the repository root in CI;
- a logical location ``target/account id``.

Findings accepted by an exception or the baseline are results with a ``suppressions``
entry, so dashboards show them as accepted.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import PurePosixPath
from typing import Any, Final
from urllib.parse import quote

from nhirecon.core.model import KIND_INFO, Finding, FindingKind, Severity
from nhirecon.core.report import Report
from nhirecon.core.values import format_datetime
from nhirecon.reporters import serialize
from nhirecon.reporters.base import Reporter
from nhirecon.reporters.json import stream
from nhirecon.reporters.plain import Items
from nhirecon.reporters.remedies import REMEDIES

SCHEMA_URI: Final = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
LEVELS: Final = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}
SECURITY_SEVERITY: Final = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.0",
    Severity.LOW: "3.0",
    Severity.INFO: "0.0",
}
"""The score GitHub code scanning reads to rank alerts (``security-severity``)."""
FINGERPRINT_KEY: Final = "nhireconFingerprint/v1"
GITHUB_MAX_RESULTS: Final = 25_000
"""The most results GitHub code scanning takes in one run; it rejects a file with more, and
shows at most 5,000 of a run:
https://docs.github.com/en/code-security/code-scanning/troubleshooting-sarif-uploads/results-exceed-limit"""


def _rule(kind: FindingKind) -> dict[str, Any]:
    info = KIND_INFO[kind]
    controls = ", ".join(info.controls)
    return {
        "id": kind.value,
        "name": "".join(part.capitalize() for part in kind.value.split("-")),
        "shortDescription": {"text": info.summary},
        "fullDescription": {"text": f"{info.summary} Controls: {controls}."},
        "help": {
            "text": f"{info.summary}\n\nRemedy: {REMEDIES[kind]}\n\nControls: {controls}.",
            "markdown": (
                f"{info.summary}\n\n**Remedy:** {REMEDIES[kind]}\n\n"
                f"**Controls:** {', '.join(f'`{control}`' for control in info.controls)}"
            ),
        },
        "defaultConfiguration": {"level": LEVELS[info.severity]},
        "properties": {
            "tags": ["security", "identity", *info.controls],
            "security-severity": SECURITY_SEVERITY[info.severity],
            "severity": info.severity.value,
            "controls": list(info.controls),
        },
    }


def artifact_uri(path: str) -> str:
    """A SARIF ``artifactLocation.uri`` (RFC 3986): a relative reference for a relative
    path, a ``file`` URI for an absolute one."""
    posix = PurePosixPath(path)
    if posix.is_absolute():
        return posix.as_uri()
    return quote(str(posix), safe="/")


def physical_location(report: Report, finding: Finding) -> dict[str, Any]:
    """Where the finding's account or identity was read, as a file and a line."""
    subject = finding.account or finding.identity
    place = report.place(finding.target)
    found = place.file_of(subject.location) if subject else None
    if found is None:  # read from a URL: point at the definition in the config
        where, _, number = place.defined_at.rpartition(":")
        found = (where, int(number)) if number.isdigit() else (place.defined_at, 1)
    path, line = found
    return {"artifactLocation": {"uri": artifact_uri(path)}, "region": {"startLine": line}}


def _result(
    report: Report, finding: Finding, rule_index: int, suppression: dict[str, Any] | None
) -> dict[str, Any]:
    subject = finding.account or finding.identity
    subject_id = subject.id if subject else ""
    name = subject.label if subject else finding.fingerprint
    properties: dict[str, Any] = {
        "severity": finding.severity.value,
        "remediation": finding.remediation.value,
        "controls": list(finding.controls),
        "account": serialize.record(finding.account, serialize.ACCOUNT_FIELDS),
        "identity": serialize.record(finding.identity, serialize.IDENTITY_FIELDS),
        "detail": dict(finding.detail),
    }
    properties.update(serialize.finding_context(report, finding))
    result: dict[str, Any] = {
        "ruleId": finding.kind.value,
        "ruleIndex": rule_index,
        "level": LEVELS[finding.severity],
        "message": {"text": f"{finding.target}: {finding.message}"},
        "locations": [
            {
                "physicalLocation": physical_location(report, finding),
                "logicalLocations": [
                    {
                        "name": name,
                        "fullyQualifiedName": f"{finding.target}/{subject_id}",
                        "kind": "member" if finding.account else "resource",
                    }
                ],
            }
        ],
        "partialFingerprints": {
            "primaryLocationLineHash": f"{finding.fingerprint}:1",
            FINGERPRINT_KEY: finding.fingerprint,
        },
        "properties": properties,
    }
    seen = report.seen(finding)
    if seen is not None:
        result["baselineState"] = "new" if seen.new else "unchanged"
    if suppression is not None:
        result["suppressions"] = [suppression]
    return result


class SarifReporter(Reporter):
    name = "sarif"
    description = "SARIF 2.1.0 for code-scanning dashboards: one rule per kind, one result each."
    extensions = (".sarif",)

    def chunks(self, report: Report) -> Iterator[str]:
        """The document piece by piece, a result at a time (see
        :func:`nhirecon.reporters.json.stream`): the text ``json.dumps(document(report),
        indent=2, ensure_ascii=False)`` and a newline, never held whole."""
        yield from stream(document(report))
        yield "\n"

    def render(self, report: Report) -> str:
        return "".join(self.chunks(report))


def github_limit_note(report: Report) -> str | None:
    """A warning for a report whose SARIF run holds more results (findings, counted and
    excepted) than GitHub code scanning takes; ``None`` when it holds no more. The file
    holds every result either way: other dashboards have other limits, or none."""
    count = len(report.findings) + len(report.excepted)
    if count <= GITHUB_MAX_RESULTS:
        return None
    return (
        f"the SARIF report holds {count:,} results: GitHub code scanning rejects a run of more"
        f" than {GITHUB_MAX_RESULTS:,} and shows at most 5,000 of one; the file holds them all,"
        " for a dashboard without that limit"
    )


def _results(report: Report) -> Iterator[dict[str, Any]]:
    """One result per finding, counted then excepted; a baselined or excepted one with
    its ``suppressions``."""
    index = {kind: position for position, kind in enumerate(FindingKind)}
    for finding in report.findings:
        suppression = None
        if report.baseline is not None and report.is_baselined(finding):
            suppression = {
                "kind": "external",
                "status": "accepted",
                "justification": f"accepted in the baseline {report.baseline.path}",
            }
        yield _result(report, finding, index[finding.kind], suppression)
    for finding, rule in report.excepted:
        suppression = {
            "kind": "external",
            "status": "accepted",
            "justification": (
                f"exception until {rule.expires.isoformat()}: {rule.reason} (owner {rule.owner})"
            ),
        }
        yield _result(report, finding, index[finding.kind], suppression)


def document(report: Report) -> dict[str, Any]:
    """The SARIF log, its results as :class:`~nhirecon.reporters.plain.Items` (made
    as they are written)."""
    return {
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "nhirecon",
                        "version": report.tool_version,
                        "semanticVersion": report.tool_version,
                        "rules": [_rule(kind) for kind in FindingKind],
                    }
                },
                "automationDetails": {"id": f"nhirecon/{report.source_name}/"},
                "invocations": [
                    {
                        "executionSuccessful": True,
                        "endTimeUtc": format_datetime(report.generated_at),
                        "properties": {
                            "gate": {
                                "passed": report.gate.passed,
                                "rules": [
                                    {
                                        "rule": outcome.rule.text,
                                        "count": outcome.count,
                                        "passed": outcome.passed,
                                    }
                                    for outcome in report.gate.outcomes
                                ],
                            }
                        },
                    }
                ],
                "columnKind": "unicodeCodePoints",
                "results": Items(lambda: _results(report)),
                "properties": {
                    "source": {"name": report.source_name, "identities": report.identities},
                    "summary": serialize.summary(report),
                },
            }
        ],
    }
