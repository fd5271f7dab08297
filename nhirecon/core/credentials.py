"""One credential in several places (SPEC §5 ``shared-credential``, OWASP NHI9:2025).

A key id read on two identities of the source, on two accounts, or in two targets is one
secret that several parties hold: none of them can rotate or revoke it alone, and a leak
cannot be traced to one of them. Every record that holds it gets a finding naming the
others; none gets an action (which holder keeps the key is a person's call).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from nhirecon.core.findings import make
from nhirecon.core.model import Finding, FindingKind, Record, Remediation

MANUAL = (Remediation.MANUAL, "rotate the credential and give each holder its own")


@dataclass
class SharedCredentials:
    """Collects, over the source and every target, the records that hold a credential id.

    Only records with a ``credential_id`` are held, so memory grows with the credentials
    read, not with every account."""

    source: str
    _holders: dict[str, list[tuple[str, Record, Record | None]]] = field(default_factory=dict)

    def see(self, place: str, record: Record, identity: Record | None = None) -> None:
        """Note ``record`` of ``place`` (the source's name or a target's) if it holds a
        credential; a disabled account holds nothing that can be used. ``identity``: the
        one an account is linked to, named by its finding."""
        key = record.credential_id.strip() if record.credential_id else ""
        if key and record.active:
            self._holders.setdefault(key, []).append((place, record, identity))

    def findings(self) -> list[Finding]:
        """One finding per holder of each credential id held in more than one place."""
        found = []
        for key, holders in sorted(self._holders.items()):
            if len(holders) < 2:
                continue
            places = [f"{place}/{record.id}" for place, record, _ in holders]
            for place, record, identity in holders:
                others = [where for where in places if where != f"{place}/{record.id}"]
                on_source = place == self.source
                found.append(
                    make(
                        FindingKind.SHARED_CREDENTIAL,
                        place,
                        None if on_source else record,
                        record if on_source else identity,
                        f"{record.label}: credential {key} is also held by {', '.join(others)}",
                        {"credential_id": key, "holders": places},
                        MANUAL,
                    )
                )
        return found
