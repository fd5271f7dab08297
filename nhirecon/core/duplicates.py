"""Several active accounts of one target that link to the same identity (SPEC §5,
``duplicate-account``).

A second account for a person is how a look-alike (``ａlice`` beside ``alice``) or a
forgotten JIT account hides: each account alone looks owned. Every one of the accounts gets
a finding, so each can be excepted or fixed on its own; none gets an action, since which one
is legitimate is a person's call.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from nhirecon.core.correlate import Link, LinkStatus
from nhirecon.core.findings import TargetRules, lookalike_note, make, remedy
from nhirecon.core.model import Finding, FindingKind, Record


@dataclass
class Duplicates:
    """Collects, over one pass of a target, the active linked accounts of each identity.

    The first account of every linked identity is held until the pass ends (alone: its
    link is the next account's, unless it was a look-alike); later ones only when they
    are duplicates."""

    _first: dict[str, Record | tuple[Record, Link]] = field(default_factory=dict)
    _more: dict[str, list[tuple[Record, Link]]] = field(default_factory=dict)

    def see(self, account: Record, link: Link) -> None:
        if not account.active or link.status is not LinkStatus.LINKED or link.identity is None:
            return
        key = link.identity.id
        entry = account if link.lookalike is None else (account, link)
        first = self._first.setdefault(key, entry)
        if first is entry:
            return
        more = self._more.get(key)
        if more is None:
            plain = Link(LinkStatus.LINKED, link.identity)  # all the finding reads of it
            more = self._more[key] = [first if isinstance(first, tuple) else (first, plain)]
        more.append((account, link))

    def findings(self, target: TargetRules) -> list[Finding]:
        """One ``duplicate-account`` finding per account of each identity with several."""
        found = []
        for pairs in self._more.values():
            accounts = sorted(pairs, key=lambda pair: pair[0].id)
            ids = [account.id for account, _ in accounts]
            for account, link in accounts:
                identity = link.identity
                assert identity is not None
                message = (
                    f"{account.label}: one of {len(ids)} active accounts in {target.name}"
                    f" linked to {identity.label} ({', '.join(ids)})"
                )
                detail: dict[str, object] = {"identity": identity.id, "accounts": ids}
                if link.lookalike is not None:
                    lookalike = link.lookalike.as_detail()
                    message = f"{message} {lookalike_note(lookalike)}"
                    detail["lookalike"] = lookalike
                found.append(
                    make(
                        FindingKind.DUPLICATE_ACCOUNT,
                        target.name,
                        account,
                        identity,
                        message,
                        detail,
                        remedy(FindingKind.DUPLICATE_ACCOUNT, target, account),
                    )
                )
        return found
