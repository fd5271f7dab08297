"""Accepted risk: the config's ``exceptions`` suppress matching findings until they expire.

An exception names an account as :mod:`nhirecon.core.allowlist` says (case-insensitive,
otherwise exact). One that names several accounts of its target suppresses none of them,
and each of their findings says so (SPEC §5).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Iterable, Sequence
from datetime import datetime

from nhirecon.core.allowlist import BroadEntry, ListName, entry_key, names
from nhirecon.core.model import ExceptionRule, Finding


class Exceptions:
    """Matches findings against exceptions, as of one instant.

    ``broad`` lists the entries found to name several accounts; those exceptions suppress
    nothing."""

    def __init__(
        self,
        rules: Sequence[ExceptionRule],
        now: datetime,
        broad: Collection[BroadEntry] = (),
    ) -> None:
        self.now = now
        self.by_target: dict[tuple[str, str], list[ExceptionRule]] = {}
        for rule in rules:
            key = entry_key(rule.account)
            if key is not None:
                self.by_target.setdefault((rule.target, key), []).append(rule)
        self.broad = {
            (entry.target, entry_key(entry.entry)): entry
            for entry in broad
            if entry.list is ListName.EXCEPTIONS
        }

    def _matching(self, finding: Finding) -> list[tuple[ExceptionRule, BroadEntry | None]]:
        subject = finding.account or finding.identity
        if subject is None or not self.by_target:
            return []
        return [
            (rule, self.broad.get((finding.target, key)))
            for key in sorted(names(subject))
            for rule in self.by_target.get((finding.target, key), ())
            if rule.kind is None or rule.kind is finding.kind
        ]

    def split(
        self, findings: Iterable[Finding]
    ) -> tuple[list[Finding], list[tuple[Finding, ExceptionRule]]]:
        """(findings that count, findings suppressed with their exception)."""
        if not self.by_target:  # no exception names anything: every finding counts
            return list(findings), []
        counted: list[Finding] = []
        excepted: list[tuple[Finding, ExceptionRule]] = []
        for finding in findings:
            matching = self._matching(finding)
            broad = [entry for _, entry in matching if entry is not None]
            rules = [rule for rule, entry in matching if entry is None]
            active = [rule for rule in rules if self.now < rule.ends]
            if active:
                excepted.append((finding, active[0]))
                continue
            if rules:
                finding = _with_expired(finding, max(rules, key=lambda rule: rule.expires))
            if broad:
                finding = _with_broad(finding, broad[0])
            counted.append(finding)
        return counted, excepted


def _with_expired(finding: Finding, rule: ExceptionRule) -> Finding:
    ended = rule.expires.isoformat()
    return dataclasses.replace(
        finding,
        message=f"{finding.message} [exception expired {ended}: {rule.reason}]",
        expired_exception=rule,
    )


def _with_broad(finding: Finding, entry: BroadEntry) -> Finding:
    count = len(entry.accounts)
    return dataclasses.replace(
        finding,
        message=f"{finding.message} [exception {entry.entry!r} names {count} accounts:"
        " it suppresses none of them]",
        detail={**finding.detail, "exception_names_several": list(entry.accounts)},
    )
