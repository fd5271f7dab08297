"""What ``nhirecon explain`` prints: the correlation trail and the findings, as text for
people or as JSON for machines."""

from __future__ import annotations

import json
from typing import Any

from nhirecon.core.correlate import LinkStatus, Probe, Step
from nhirecon.core.model import Record
from nhirecon.core.text import inert
from nhirecon.core.values import format_datetime
from nhirecon.explain import Explanation
from nhirecon.reporters import serialize

_EMPTY = "empty value, cannot match"


def render(result: Explanation) -> str:
    account = result.account
    lines = [
        f"account {account.id} in {result.target} (read from {account.location})",
        f"  {_field(account, 'username')}, {_field(account, 'email')}, "
        f"origin {account.origin.value}, {'active' if account.active else 'disabled'}",
    ]
    if account.created_at:
        lines.append(f"  created {format_datetime(account.created_at)}")
    if account.last_login_at:
        lines.append(f"  last sign-in {format_datetime(account.last_login_at)}")
    lines.append("correlation:")
    for number, step in enumerate(result.trail, start=1):
        heading = f"  {number}. {step.rule} ({step.rule.mode})"
        if len(step.probes) == 1:
            [probe] = step.probes
            outcome = _outcome(step.matches, decides=True) if probe.key else _EMPTY
            lines.append(f"{heading}: {_probe(probe)}: {outcome}")
            continue
        lines.append(f"{heading}: {len(step.probes)} values, each tried:")
        lines.extend(
            f"     - {_probe(probe)}: "
            + (_outcome(probe.matches, decides=False) if probe.key else _EMPTY)
            for probe in step.probes
        )
        lines.append(f"     together: {_outcome(step.matches, decides=True)}")
    link = result.link
    if link.status is LinkStatus.LINKED and link.identity is not None:
        identity = link.identity
        lines.append(
            f"result: linked to {identity.id} ({identity.label}, status "
            f"{identity.status or '-'}) by {link.rule}"
        )
    elif link.status is LinkStatus.AMBIGUOUS:
        lines.append(f"result: ambiguous by {link.rule}; no action will be taken on it")
    else:
        lines.append("result: unmatched (no rule linked it)")
    lines.append("findings:" if result.findings else "findings: none")
    for finding in result.findings:
        lines.append(
            f"  - {finding.severity.value} {finding.kind.value}: {finding.message} "
            f"[remediation: {finding.remediation.value}"
            f"{'; ' + finding.remediation_reason if finding.remediation_reason else ''}]"
        )
    for finding, rule in result.excepted:
        lines.append(
            f"  - excepted {finding.kind.value}: {rule.reason} (owner {rule.owner}, "
            f"until {rule.expires.isoformat()})"
        )
    for kind in result.not_replayed:
        lines.append(
            f"not replayed: {kind.value} (credential {account.credential_id} is compared"
            " with the source and every target: see the audit's report)"
        )
    return "\n".join(inert(line) for line in lines) + "\n"


def _field(account: Record, name: str) -> str:
    """``email a@x`` or, for a field with several values, ``emails a@x, b@x``."""
    values = account.values(name)
    if not values:
        return f"{name} -"
    label = f"{name}s" if len(values) > 1 else name
    return f"{label} {', '.join(values)}"


def _probe(probe: Probe) -> str:
    return f"value {probe.value!r} normalised {probe.key!r}"


def _outcome(matches: tuple[Record, ...], *, decides: bool) -> str:
    """What identities were found; ``decides``: the rule's verdict on them follows."""
    if not matches:
        return "no identity"
    ids = ", ".join(match.id for match in matches)
    if len(matches) == 1:
        return f"1 identity: {ids}" + (" -> linked" if decides else "")
    return f"{len(matches)} identities: {ids}" + (" -> ambiguous" if decides else "")


def render_json(result: Explanation) -> str:
    """The explanation as one JSON document: the account, each rule tried with each value
    and its normalised form, the result, and the findings as the audit's JSON has them."""
    link = result.link
    document = {
        "target": result.target,
        "account": {
            **(serialize.record(result.account, serialize.ACCOUNT_FIELDS) or {}),
            "location": result.account.location,
        },
        "trail": [_step(step) for step in result.trail],
        "result": {
            "status": link.status.value,
            "rule": str(link.rule) if link.rule else None,
            "identity": serialize.record(link.identity, serialize.IDENTITY_FIELDS),
            "candidates": [candidate.id for candidate in link.candidates],
            "lookalike": link.lookalike.as_detail() if link.lookalike else None,
        },
        "findings": [serialize.finding(finding) for finding in result.findings],
        "excepted": [
            {**serialize.finding(finding), "exception": serialize.exception(rule)}
            for finding, rule in result.excepted
        ],
        "not_replayed": [kind.value for kind in result.not_replayed],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _step(step: Step) -> dict[str, Any]:
    return {
        "rule": str(step.rule),
        "account_field": step.rule.account,
        "identity_field": step.rule.identity,
        "mode": step.rule.mode,
        "values": [
            {
                "value": probe.value,
                "normalised": probe.key,
                "matches": [match.id for match in probe.matches],
            }
            for probe in step.probes
        ],
        "matches": [match.id for match in step.matches],
    }
