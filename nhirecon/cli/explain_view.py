"""The text ``nhirecon explain`` prints: the correlation trail and the findings."""

from __future__ import annotations

from nhirecon.core.correlate import LinkStatus
from nhirecon.core.values import format_datetime
from nhirecon.pipeline import Explanation


def render(result: Explanation) -> str:
    account = result.account
    lines = [
        f"account {account.id} in {result.target} (read from {account.location})",
        f"  username {account.username or '-'}, email {account.email or '-'}, "
        f"origin {account.origin.value}, {'active' if account.active else 'disabled'}",
    ]
    if account.created_at:
        lines.append(f"  created {format_datetime(account.created_at)}")
    if account.last_login_at:
        lines.append(f"  last sign-in {format_datetime(account.last_login_at)}")
    lines.append("correlation:")
    for number, step in enumerate(result.trail, start=1):
        if step.key is None:
            outcome = "empty value, cannot match"
        elif not step.matches:
            outcome = "no identity"
        elif len(step.matches) == 1:
            outcome = f"1 identity: {step.matches[0].id} -> linked"
        else:
            ids = ", ".join(match.id for match in step.matches)
            outcome = f"{len(step.matches)} identities: {ids} -> ambiguous"
        lines.append(
            f"  {number}. {step.rule} ({step.rule.mode}): value {step.value!r} "
            f"normalised {step.key!r}: {outcome}"
        )
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
    return "\n".join(lines) + "\n"
