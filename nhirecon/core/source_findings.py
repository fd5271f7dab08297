"""The findings about the source itself (SPEC §5): non-human identities that are
ownerless, expired while still active, or used like a person."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from nhirecon.core.findings import Clock, ago, day, human_use, is_active, make, subject_keys
from nhirecon.core.model import Finding, FindingKind, Record, Remediation
from nhirecon.core.values import format_datetime, key_for


def source_findings(
    source: str, identities: Sequence[Record], active_status: frozenset[str], clock: Clock
) -> list[Finding]:
    """Findings about the source itself: ownerless and expired non-human identities."""
    owners = _owners(identities, active_status)
    manual = (Remediation.MANUAL, f"fix in {source}")
    found = []
    for identity in identities:
        if identity.is_human or not is_active(identity, active_status):
            continue
        name = identity.label
        problem = _owner_problem(identity, owners, active_status, source)
        if problem is not None:
            message, detail = problem
            found.append(
                make(
                    FindingKind.OWNERLESS,
                    source,
                    None,
                    identity,
                    f"{identity.kind} {name}: {message}",
                    detail,
                    manual,
                )
            )
        used = human_use(identity, None, clock)
        if used is not None:
            found.append(
                make(
                    FindingKind.HUMAN_USE,
                    source,
                    None,
                    identity,
                    f"{identity.kind} {name}: {used[0].split(' ', 1)[1]}",
                    used[1],
                    manual,
                )
            )
        expires = identity.expires_at
        if expires is not None and expires < clock.now:
            found.append(
                make(
                    FindingKind.EXPIRED,
                    source,
                    None,
                    identity,
                    f"{identity.kind} {name}: still active in {source} past its expiry on "
                    f"{day(expires)} ({ago(clock.days_since(expires))})",
                    {"expired": "identity", "expires_at": format_datetime(expires)},
                    manual,
                )
            )
    return found


def _owners(identities: Sequence[Record], active_status: frozenset[str]) -> dict[str, list[Record]]:
    """The identities each owner named by an active non-human identity can mean, by the
    owner's normalised name. Only those names are indexed: the index holds the few
    thousand owners asked for, not every name of every identity."""
    owners: dict[str, list[Record]] = {}
    for identity in identities:
        if not identity.is_human and is_active(identity, active_status):
            key = key_for(identity.owner, "casefold")
            if key is not None:
                owners[key] = []
    if owners:
        for identity in identities:
            for key in subject_keys(identity):
                matches = owners.get(key)
                if matches is not None:
                    matches.append(identity)
    return owners


def _owner_problem(
    identity: Record,
    owners: Mapping[str, Sequence[Record]],
    active_status: frozenset[str],
    source: str,
) -> tuple[str, dict[str, Any]] | None:
    owner = identity.owner
    key = key_for(owner, "casefold")
    if owner is None or key is None:
        return "has no owner", {"owner": None, "problem": "missing"}
    named = owners.get(key, ())
    matches = sorted((found for found in named if found is not identity), key=lambda r: r.id)
    if not matches and any(found is identity for found in named):
        return (f"owner {owner!r} is the identity itself", {"owner": owner, "problem": "self"})
    if not matches:
        return (f"owner {owner!r} is unknown in {source}", {"owner": owner, "problem": "unknown"})
    if len(matches) > 1:  # as in correlation: never guess which one is meant
        ids = [found.id for found in matches]
        return (
            f"owner {owner!r} matches {len(ids)} identities in {source} ({', '.join(ids)})",
            {"owner": owner, "problem": "ambiguous", "candidates": ids},
        )
    [found] = matches
    if not is_active(found, active_status):
        return (
            f"owner {owner!r} is not active in {source} (status {found.status!r})",
            {"owner": owner, "problem": "inactive", "owner_status": found.status},
        )
    return None
