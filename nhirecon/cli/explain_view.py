"""The text ``nhirecon explain`` prints: the correlation trail and the findings."""

from __future__ import annotations

from nhirecon.core.correlate import LinkStatus, Probe
from nhirecon.core.model import Record
from nhirecon.core.text import inert
from nhirecon.core.values import format_datetime
from nhirecon.pipeline import Explanation

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
