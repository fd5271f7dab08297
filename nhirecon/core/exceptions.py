"""Accepted risk: the config's ``exceptions`` suppress matching findings until they expire."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from datetime import datetime

from nhirecon.core.findings import subject_keys
from nhirecon.core.model import ExceptionRule, Finding
from nhirecon.core.values import key_for


class Exceptions:
    """Matches findings against exceptions, as of one instant."""

    def __init__(self, rules: Sequence[ExceptionRule], now: datetime) -> None:
        self.now = now
        self.by_target: dict[tuple[str, str], list[ExceptionRule]] = {}
        for rule in rules:
            key = key_for(rule.account, "casefold")
            if key is not None:
                self.by_target.setdefault((rule.target, key), []).append(rule)

    def _matching(self, finding: Finding) -> list[ExceptionRule]:
        subject = finding.account or finding.identity
        if subject is None or not self.by_target:
            return []
        return [
            rule
            for key in sorted(subject_keys(subject))
            for rule in self.by_target.get((finding.target, key), ())
            if rule.kind is None or rule.kind is finding.kind
        ]

    def split(
        self, findings: Iterable[Finding]
    ) -> tuple[list[Finding], list[tuple[Finding, ExceptionRule]]]:
        """(findings that count, findings suppressed with their exception)."""
        counted: list[Finding] = []
        excepted: list[tuple[Finding, ExceptionRule]] = []
        for finding in findings:
            rules = self._matching(finding)
            active = [rule for rule in rules if self.now < rule.ends]
            if active:
                excepted.append((finding, active[0]))
            elif rules:
                counted.append(_with_expired(finding, max(rules, key=lambda rule: rule.expires)))
            else:
                counted.append(finding)
        return counted, excepted


def _with_expired(finding: Finding, rule: ExceptionRule) -> Finding:
    ended = rule.expires.isoformat()
    return dataclasses.replace(
        finding,
        message=f"{finding.message} [exception expired {ended}: {rule.reason}]",
        expired_exception=rule,
    )
