"""Correlation: which identity, if any, owns each account (SPEC §4).

Rules are tried in order. A rule that finds exactly one identity links the account; one
that finds several makes it ambiguous; one that finds none passes to the next. Empty values
never match. The identity side is indexed once per (field, comparison mode), so each account
costs one dictionary look-up per rule tried.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from nhirecon.core.model import Record
from nhirecon.core.policy import CorrelationRule
from nhirecon.core.values import key_for

_MANY = -1


class LinkStatus(StrEnum):
    LINKED = "linked"
    AMBIGUOUS = "ambiguous"
    UNMATCHED = "unmatched"


@dataclass(frozen=True, slots=True)
class Step:
    """One rule tried on one account, for ``explain``."""

    rule: CorrelationRule
    value: str | None
    """The account's raw value of the rule's field."""
    key: str | None
    """The value after normalisation (``None``: empty, so it cannot match)."""
    matches: tuple[Record, ...]


@dataclass(frozen=True, slots=True)
class Link:
    status: LinkStatus
    identity: Record | None = None
    rule: CorrelationRule | None = None
    """The rule that decided (linked or ambiguous)."""
    candidates: tuple[Record, ...] = ()
    """The identities an ambiguous rule matched."""


UNMATCHED = Link(LinkStatus.UNMATCHED)


class IdentityIndex:
    """Look-up tables over the source's identities, built on first use per field."""

    def __init__(self, identities: Sequence[Record]) -> None:
        self.identities = identities
        self._tables: dict[tuple[str, str], tuple[dict[str, int], dict[str, list[int]]]] = {}

    def find(self, field: str, mode: str, key: str) -> tuple[Record, ...]:
        unique, shared = self._table(field, mode)
        position = unique.get(key)
        if position is None:
            return ()
        if position == _MANY:
            return tuple(self.identities[index] for index in shared[key])
        return (self.identities[position],)

    def _table(self, field: str, mode: str) -> tuple[dict[str, int], dict[str, list[int]]]:
        table = self._tables.get((field, mode))
        if table is None:
            unique: dict[str, int] = {}
            shared: dict[str, list[int]] = {}
            for position, identity in enumerate(self.identities):
                key = key_for(_text(identity.value(field)), mode)
                if key is None:
                    continue
                seen = unique.get(key)
                if seen is None:
                    unique[key] = position
                elif seen == _MANY:
                    shared[key].append(position)
                else:
                    unique[key] = _MANY
                    shared[key] = [seen, position]
            for positions in shared.values():  # candidates by id, whatever the input order
                positions.sort(key=lambda position: self.identities[position].id)
            table = self._tables[(field, mode)] = (unique, shared)
        return table


class Correlator:
    """Links the accounts of one target with its rules."""

    def __init__(self, index: IdentityIndex, rules: Sequence[CorrelationRule]) -> None:
        self.index = index
        self.rules = [(rule, rule.mode) for rule in rules]

    def link(self, account: Record, trail: list[Step] | None = None) -> Link:
        """The account's link; with ``trail``, also record every rule tried."""
        for rule, mode in self.rules:
            value = _text(account.value(rule.account))
            key = key_for(value, mode)
            matches = self.index.find(rule.identity, mode, key) if key is not None else ()
            if trail is not None:
                trail.append(Step(rule, value, key, matches))
            if len(matches) == 1:
                return Link(LinkStatus.LINKED, matches[0], rule)
            if matches:
                return Link(LinkStatus.AMBIGUOUS, None, rule, matches)
        return UNMATCHED


def _text(value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return str(value)
