"""Narrow a report to some finding kinds and severities, for a person reading it.

``nhirecon audit --kind orphan --severity high`` shows fewer findings, never a different
run: the summary, the gate and the statistics stay those of the whole run, so a narrowed
table still tells the truth about what the gate counted.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields

from nhirecon.core.model import SEVERITY_ORDER, Finding, FindingKind, Severity
from nhirecon.core.report import Report


@dataclass(frozen=True, slots=True, kw_only=True)
class Selection(Report):
    """A report whose ``findings`` and ``excepted`` :func:`select` narrowed. Every other
    field, the gate included, is the whole run's."""

    whole: Report
    """The run before any narrowing: the summary counts come from its findings."""
    kinds: frozenset[FindingKind]
    """The kinds kept; every kind when the selection is not by kind."""
    severities: frozenset[Severity]
    """The severities kept; every severity when the selection is not by severity."""


def _kinds(values: Iterable[FindingKind | str]) -> frozenset[FindingKind]:
    chosen = set()
    for value in values:
        try:
            chosen.add(FindingKind(value))
        except ValueError:
            names = ", ".join(kind.value for kind in FindingKind)
            raise ValueError(f"unknown finding kind {value!r} (kinds: {names})") from None
    return frozenset(chosen) if chosen else frozenset(FindingKind)


def _severities(values: Iterable[Severity | str]) -> frozenset[Severity]:
    chosen = set()
    for value in values:
        try:
            chosen.add(Severity(value))
        except ValueError:
            names = ", ".join(severity.value for severity in SEVERITY_ORDER)
            raise ValueError(f"unknown severity {value!r} (one of {names})") from None
    return frozenset(chosen) if chosen else frozenset(Severity)


def whole(report: Report) -> Report:
    """The whole run behind ``report``: itself unless :func:`select` narrowed it."""
    return report.whole if isinstance(report, Selection) else report


def select(
    report: Report,
    *,
    kinds: Iterable[FindingKind | str] = (),
    severities: Iterable[Severity | str] = (),
) -> Report:
    """``report`` with only the findings, counted and excepted, of the given kinds and
    severities; everything else as it was.

    - ``kinds`` and ``severities`` take the enums or their values (``"jit-orphan"``,
      ``"high"``). An empty one does not narrow; within one, any value matches; a finding
      is kept when it matches both. A severity is matched exactly: ``high`` is not
      ``critical`` (unlike the gate's ``severity:high``, which means high and above).
    - An unknown value raises ``ValueError`` naming it and the allowed values, before
      anything is narrowed.
    - When neither narrows (both empty, or naming every value), ``report`` itself is
      returned. Otherwise the result is a
      :class:`Selection`: ``findings`` and ``excepted`` are narrowed, in their order;
      the gate, the targets' statistics, the history, the baseline and the allowlist are
      the whole run's, and :func:`whole` gives the report the summary counts are taken
      from (the table's headline, targets and kinds tables show the whole run, and a line
      says how many findings the selection shows).
    - Narrowing a selection narrows it further (the kinds and the severities kept are
      the intersections), still against the same whole run.
    - Pure: ``report`` is not changed.

    Meant for the formats a person reads (``table``, ``markdown``); machine formats
    should get the whole report, as their summaries count the findings they list.
    """
    wanted_kinds, wanted_severities = _kinds(kinds), _severities(severities)
    if wanted_kinds == frozenset(FindingKind) and wanted_severities == frozenset(Severity):
        return report
    if isinstance(report, Selection):
        wanted_kinds &= report.kinds
        wanted_severities &= report.severities
    run = whole(report)

    def kept(finding: Finding) -> bool:
        return finding.kind in wanted_kinds and finding.severity in wanted_severities

    values = {field.name: getattr(run, field.name) for field in fields(Report)}
    values["findings"] = tuple(finding for finding in run.findings if kept(finding))
    values["excepted"] = tuple(pair for pair in run.excepted if kept(pair[0]))
    return Selection(**values, whole=run, kinds=wanted_kinds, severities=wanted_severities)
