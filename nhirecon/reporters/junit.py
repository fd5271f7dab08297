"""JUnit XML, for CI test reports: one suite per place, one test case per finding kind.

The source and every target the run covered is a ``<testsuite>``; each finding kind that
can occur there is a ``<testcase>``, so that the list of cases is the same from run to run
and a CI system shows a kind going from failing to passing. A case fails when the gate
counts its findings under a rule that failed (baselined and excepted findings never
count); the other findings of the case are listed in its ``<system-out>``.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from typing import Final

from nhirecon.core.gate import count
from nhirecon.core.model import Finding, FindingKind, GateRule
from nhirecon.core.report import Report, TargetStats
from nhirecon.core.text import inert
from nhirecon.core.values import format_datetime
from nhirecon.reporters.base import Reporter

SOURCE_KINDS: Final[tuple[FindingKind, ...]] = (
    FindingKind.EXPIRED,
    FindingKind.OWNERLESS,
    FindingKind.HUMAN_USE,
    FindingKind.SHARED_CREDENTIAL,
)
"""The kinds found about the source itself (SPEC §5): its non-human identities' own
findings, and a credential id that one of them shares."""
TARGET_KINDS: Final[tuple[FindingKind, ...]] = tuple(
    kind for kind in FindingKind if kind is not FindingKind.OWNERLESS
)
_NOT_XML: Final = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml(text: str) -> str:
    """Text safe in XML 1.0: characters XML cannot carry become U+FFFD."""
    return _NOT_XML.sub("\ufffd", text)


def _line(report: Report, finding: Finding) -> str:
    """One finding, on one line (:func:`~nhirecon.core.text.inert`: a line break in a
    value is shown escaped, so that no value forges a finding's line in a CI page): its
    message names the account or identity first."""
    notes = []
    seen = report.seen(finding)
    if seen is not None:
        notes.append("new" if seen.new else f"age {seen.age_days} d")
    if report.is_baselined(finding):
        notes.append("baselined")
    suffix = f" [{', '.join(notes)}]" if notes else ""
    # inert() leaves no character XML 1.0 cannot carry: each is one str.isprintable refuses
    return inert(
        f"{finding.severity.value} {finding.message} (fingerprint {finding.fingerprint}){suffix}"
    )


def _failing_rules(report: Report, finding: Finding) -> list[GateRule]:
    if report.is_baselined(finding):
        return []
    return [
        outcome.rule
        for outcome in report.gate.outcomes
        if not outcome.passed and count(outcome.rule, [finding])
    ]


def _case(
    suite: ET.Element, place: str, kind: FindingKind, report: Report, findings: Sequence[Finding]
) -> bool:
    case = ET.SubElement(
        suite, "testcase", {"classname": _xml(f"nhirecon.{place}"), "name": kind.value, "time": "0"}
    )
    ruled = [(finding, _failing_rules(report, finding)) for finding in findings]
    failing = [finding for finding, rules in ruled if rules]
    others = [finding for finding, rules in ruled if not rules]
    if failing:
        rules = sorted({rule.text for _, found in ruled for rule in found})
        failure = ET.SubElement(
            case,
            "failure",
            {
                "type": kind.value,
                "message": _xml(
                    f"{len(failing)} {kind.value} finding{'s' if len(failing) != 1 else ''} "
                    f"in {place} counted by the gate ({', '.join(rules)})"
                ),
            },
        )
        failure.text = "\n".join(_line(report, finding) for finding in failing)
    if others:
        out = ET.SubElement(case, "system-out")
        out.text = "\n".join(_line(report, finding) for finding in others)
    return bool(failing)


class JunitReporter(Reporter):
    name = "junit"
    description = "JUnit XML for CI: a suite per target, a case per kind, failures for the gate."
    extensions = (".xml", ".junit.xml")

    def render(self, report: Report) -> str:
        stamp = format_datetime(report.generated_at).removesuffix("Z")
        root = ET.Element("testsuites", {"name": "nhirecon"})
        places: list[tuple[str, tuple[FindingKind, ...], TargetStats | None]] = [
            (report.source_name, SOURCE_KINDS, None)
        ]
        places += [(stats.name, TARGET_KINDS, stats) for stats in report.targets]
        by_case: dict[tuple[str, FindingKind], list[Finding]] = {}
        for finding in report.findings:  # in the report's order, as each case lists them
            by_case.setdefault((finding.target, finding.kind), []).append(finding)
        total = failures = 0
        for place, kinds, stats in places:
            suite = ET.SubElement(root, "testsuite", {"name": _xml(f"nhirecon.{place}")})
            properties = ET.SubElement(suite, "properties")
            facts = (
                {"identities": report.identities}
                if stats is None
                else {
                    "accounts": stats.accounts,
                    "linked": stats.linked,
                    "unmatched": stats.unmatched,
                    "ambiguous": stats.ambiguous,
                    "inactive": stats.inactive,
                }
            )
            for key, value in facts.items():
                ET.SubElement(properties, "property", {"name": key, "value": str(value)})
            failed = 0
            for kind in kinds:
                failed += _case(suite, place, kind, report, by_case.get((place, kind), []))
            suite.attrib.update(
                {
                    "tests": str(len(kinds)),
                    "failures": str(failed),
                    "errors": "0",
                    "skipped": "0",
                    "time": "0",
                    "timestamp": stamp,
                }
            )
            total += len(kinds)
            failures += failed
        root.attrib.update(
            {"tests": str(total), "failures": str(failures), "errors": "0", "time": "0"}
        )
        ET.indent(root)
        body = ET.tostring(root, encoding="unicode")
        return f'<?xml version="1.0" encoding="UTF-8"?>\n{body}\n'
