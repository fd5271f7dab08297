"""The CI gate: ``--fail-on`` expressions and their evaluation."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from nhirecon.core.model import (
    SEVERITY_ORDER,
    Finding,
    FindingKind,
    GateOutcome,
    GateResult,
    GateRule,
    Severity,
)

_RULE = re.compile(r"^\s*(?P<selector>[^<>=]+?)\s*(?P<op>>=|>)\s*(?P<n>[0-9]+)\s*$")
_KINDS = {kind.value: kind for kind in FindingKind}


def parse_rule(text: str) -> GateRule:
    """Parse ``SELECTOR OP N``; raise ``ValueError`` with a readable reason."""
    match = _RULE.match(text)
    if not match:
        raise ValueError(
            f"gate rule {text!r} is not SELECTOR OP N (for example `orphan,jit-orphan>0`,"
            " `severity:high>=5`, `any>0`)"
        )
    selector = match["selector"].strip()
    min_severity = None
    kinds = frozenset(FindingKind)
    if selector.startswith("severity:"):
        level = selector.removeprefix("severity:").strip()
        try:
            min_severity = Severity(level)
        except ValueError:
            names = ", ".join(severity.value for severity in SEVERITY_ORDER)
            raise ValueError(f"unknown severity {level!r} in {text!r} (one of {names})") from None
    elif selector != "any":
        chosen = set()
        for name in (part.strip() for part in selector.split(",")):
            if name not in _KINDS:
                raise ValueError(
                    f"unknown finding kind {name!r} in {text!r} (kinds: {', '.join(_KINDS)})"
                )
            chosen.add(_KINDS[name])
        kinds = frozenset(chosen)
    canonical = f"{selector}{match['op']}{int(match['n'])}"
    return GateRule(
        text=canonical,
        kinds=kinds,
        min_severity=min_severity,
        inclusive=match["op"] == ">=",
        threshold=int(match["n"]),
    )


def count(rule: GateRule, findings: Iterable[Finding]) -> int:
    if rule.min_severity is not None:
        limit = rule.min_severity.rank
        return sum(1 for finding in findings if finding.severity.rank <= limit)
    return sum(1 for finding in findings if finding.kind in rule.kinds)


def evaluate(rules: Sequence[GateRule], findings: Sequence[Finding]) -> GateResult:
    """Each rule fails when its count crosses the threshold; no rules means pass."""
    outcomes = []
    for rule in rules:
        found = count(rule, findings)
        crossed = found >= rule.threshold if rule.inclusive else found > rule.threshold
        outcomes.append(GateOutcome(rule, found, passed=not crossed))
    return GateResult(tuple(outcomes))
