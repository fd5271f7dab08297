"""Correlation: which identity, if any, owns each account (SPEC §4).

Rules are tried in order. A rule that finds exactly one identity links the account; one
that finds several makes it ambiguous; one that finds none passes to the next. Empty values
never match. A multi-valued field is tried with every one of its values, on either side:
the distinct identities they find together decide, so no value is ever picked by its place
in a list. The identity side is indexed once per (field, comparison mode), so each account
costs one dictionary look-up per value tried.

Normalisation folds Unicode compatibility forms (NFKC), so ``ａlice@example.com`` (full
width) and ``ⓐlice@example.com`` find ``alice@example.com``. Such a link is kept, as SPEC §4
says, but flagged as a :class:`Lookalike`: the values are equal only once folded, which is
what an attacker who registers a look-alike name relies on.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from nhirecon.core.model import Record
from nhirecon.core.policy import CorrelationRule
from nhirecon.core.values import key_for, lower_case


class LinkStatus(StrEnum):
    LINKED = "linked"
    AMBIGUOUS = "ambiguous"
    UNMATCHED = "unmatched"


@dataclass(frozen=True, slots=True)
class Probe:
    """One value of the account's field looked up among the identities."""

    value: str | None
    """The account's raw value."""
    key: str | None
    """The value after normalisation (``None``: empty, so it cannot match)."""
    matches: tuple[Record, ...]
    """The identities this value finds, by id."""


@dataclass(frozen=True, slots=True)
class Step:
    """One rule tried on one account, for ``explain``."""

    rule: CorrelationRule
    probes: tuple[Probe, ...]
    """Each value of the account's field that was tried: one for a single-valued field
    (possibly empty), every value of a multi-valued one in the order read."""
    matches: tuple[Record, ...]
    """The distinct identities all the values found together, by id: they decide."""


@dataclass(frozen=True, slots=True)
class Lookalike:
    """A link made only by compatibility folding: the account's value and the identity's
    differ even after canonical composition (NFC) and case folding."""

    field: str
    """The account's field the deciding rule compared."""
    account_value: str
    identity_value: str

    def as_detail(self) -> dict[str, str]:
        return {
            "field": self.field,
            "account_value": self.account_value,
            "identity_value": self.identity_value,
        }


@dataclass(frozen=True, slots=True)
class Link:
    status: LinkStatus
    identity: Record | None = None
    rule: CorrelationRule | None = None
    """The rule that decided (linked or ambiguous)."""
    candidates: tuple[Record, ...] = ()
    """The identities an ambiguous rule matched, by id."""
    lookalike: Lookalike | None = None
    """For a link: set when the values are equal only after compatibility folding."""


UNMATCHED = Link(LinkStatus.UNMATCHED)


class IdentityIndex:
    """Look-up tables over the source's identities, built on first use per field.

    An identity with several values of a field (several emails) is found under each of
    them, once. A key that one identity holds maps to it; a key that several hold, to
    them all, by id.
    """

    def __init__(self, identities: Sequence[Record]) -> None:
        self.identities = identities
        self._tables: dict[tuple[str, str], tuple[dict[str, Record], dict[str, list[Record]]]]
        self._tables = {}

    def find(self, field: str, mode: str, key: str) -> tuple[Record, ...]:
        unique, shared = self._table(field, mode)
        found = unique.get(key)
        if found is not None:
            return (found,)
        several = shared.get(key)
        return () if several is None else tuple(several)

    def _table(self, field: str, mode: str) -> tuple[dict[str, Record], dict[str, list[Record]]]:
        table = self._tables.get((field, mode))
        if table is None:
            unique: dict[str, Record] = {}
            shared: dict[str, list[Record]] = {}
            for identity in self.identities:
                several = identity.multi_values.get(field) if identity.multi_values else None
                if several is None:
                    key = key_for(_text(identity.value(field)), mode)
                    if key is not None:
                        _add(unique, shared, key, identity)
                    continue
                for value in several:
                    key = key_for(value, mode)
                    if key is not None:
                        _add(unique, shared, key, identity)
            for candidates in shared.values():  # by id, whatever the input order
                candidates.sort(key=lambda identity: identity.id)
            table = self._tables[(field, mode)] = (unique, shared)
        return table


def _add(
    unique: dict[str, Record], shared: dict[str, list[Record]], key: str, identity: Record
) -> None:
    """Index ``identity`` under ``key``; identities arrive in order, so one that holds two
    values with the same key is seen last in the list and counted once."""
    seen = unique.get(key)
    if seen is None:
        several = shared.get(key)
        if several is None:
            unique[key] = identity
        elif several[-1] is not identity:
            several.append(identity)
    elif seen is not identity:
        del unique[key]
        shared[key] = [seen, identity]


class Correlator:
    """Links the accounts of one target with its rules."""

    def __init__(self, index: IdentityIndex, rules: Sequence[CorrelationRule]) -> None:
        self.index = index
        self.rules = [(rule, rule.mode) for rule in rules]

    def link(self, account: Record, trail: list[Step] | None = None) -> Link:
        """The account's link; with ``trail``, also record every rule tried."""
        if trail is not None or account.multi_values:
            return self._link_every_value(account, trail)
        find = self.index.find
        for rule, mode in self.rules:  # the common case: one value per field, no trail
            key = key_for(_text(account.value(rule.account)), mode)
            if key is None:
                continue
            matches = find(rule.identity, mode, key)
            if len(matches) == 1:
                return _linked(rule, mode, (account.value(rule.account),), matches[0])
            if matches:
                return Link(LinkStatus.AMBIGUOUS, None, rule, matches)
        return UNMATCHED

    def decided(self, account: Record, rule: int, identity: Record) -> Link:
        """The link :meth:`link` makes when the rule at index ``rule`` is the first under
        which the account's key finds identities, and it finds ``identity`` alone: for a
        caller that has made that decision already (the columnar engine's joins). An
        account with several values of a field is linked by :meth:`link`."""
        if account.multi_values:
            return self.link(account)
        decider, mode = self.rules[rule]
        return _linked(decider, mode, (account.value(decider.account),), identity)

    def _link_every_value(self, account: Record, trail: list[Step] | None) -> Link:
        multi = account.multi_values
        for rule, mode in self.rules:
            several = multi.get(rule.account)
            if trail is not None:
                values = (account.value(rule.account),) if several is None else several
                probes = tuple(self._probe(rule, mode, value) for value in values)
                matches = _together(probe.matches for probe in probes)
                trail.append(Step(rule, probes, matches))
            elif several is None:
                key = key_for(_text(account.value(rule.account)), mode)
                matches = self.index.find(rule.identity, mode, key) if key is not None else ()
            else:
                matches = _together(
                    self.index.find(rule.identity, mode, key)
                    for key in (key_for(value, mode) for value in several)
                    if key is not None
                )
            if len(matches) == 1:
                values = (account.value(rule.account),) if several is None else several
                return _linked(rule, mode, values, matches[0])
            if matches:
                return Link(LinkStatus.AMBIGUOUS, None, rule, matches)
        return UNMATCHED

    def _probe(self, rule: CorrelationRule, mode: str, raw: object) -> Probe:
        value = _text(raw)
        key = key_for(value, mode)
        matches = self.index.find(rule.identity, mode, key) if key is not None else ()
        return Probe(value, key, matches)


def _linked(rule: CorrelationRule, mode: str, values: Sequence[object], identity: Record) -> Link:
    return Link(
        LinkStatus.LINKED, identity, rule, lookalike=_lookalike(rule, mode, values, identity)
    )


def _plain(value: str, mode: str) -> tuple[str, str]:
    """A value as a person would compare it: canonical composition (NFC), and where the
    field is compared case-insensitively, :func:`~nhirecon.core.values.lower_case`; no
    compatibility folding, and not the full case folding of the key, so ``ﬁnance@…``
    does not pass for ``finance@…`` as a change of case. With it, the symbols of
    :data:`SIGNS` it holds: two values are plainly equal only with the same."""
    value = value.strip()
    signs = "".join(character for character in value if character in SIGNS)
    value = unicodedata.normalize("NFC", value)
    return (lower_case(value) if mode == "casefold" else value), signs


SIGNS: Final = frozenset(
    "\u03f4\u2126\u212a\u212b"  # ϴ, and the Ohm, Kelvin and Angstrom signs
    "\u0340\u0341\u0343\u037e\u0387\u1fee\u1fef\u1ffd\u2000\u2001\u2329\u232a"
    "\u0374\u1fbe"  # the Greek numeral sign and prosgegrammeni, letters of another kind
)
"""Characters that become another on the way to a plain value, which would hide them:

- symbols that look like a letter: the Greek capital theta symbol ``ϴ``, which
  lower-cases to ``θ``, and the Ohm, Kelvin and Angstrom signs, which NFC itself replaces
  by ``Ω``, ``K`` and ``Å`` (the characters NFKC changes and whose lower case it does
  not);
- the other characters that NFC replaces by another (UAX #15's singletons): the Greek
  question mark ``;`` by ``;``, the Greek varia by a backtick, the ano teleia by a middle
  dot, the en and em quads by spaces, the prosgegrammeni by ``ι``, the Greek numeral
  sign by a modifier prime, and a few marks and brackets;

but not the CJK compatibility ideographs or the Greek letters with the oxia accent, the
singletons that are the same text as what NFC makes of them, as legacy character sets and
keyboards write names. A test derives the set from Python's Unicode data."""


def _lookalike(
    rule: CorrelationRule, mode: str, values: Sequence[object], identity: Record
) -> Lookalike | None:
    """The pair of values that linked only by compatibility folding, or ``None`` when some
    pair is equal without it (or the rule compares ids exactly)."""
    if mode == "exact":
        return None
    theirs = identity.values(rule.identity)
    if len(values) == 1 and len(theirs) == 1:  # the common case, without the lists
        ours = values[0]
        if isinstance(ours, str) and ours.isascii() and theirs[0].isascii():
            return None
    texts = [text for text in map(_text, values) if text is not None]
    if all(text.isascii() for text in texts) and all(value.isascii() for value in theirs):
        return None  # NFKC leaves ASCII alone: nothing can be a look-alike
    folded = None
    for text in texts:
        key = key_for(text, mode)
        if key is None:
            continue
        for value in theirs:
            if key_for(value, mode) != key:
                continue
            if _plain(text, mode) == _plain(value, mode):
                return None
            folded = folded or Lookalike(rule.account, text, value)
    return folded


def _together(found: Iterable[tuple[Record, ...]]) -> tuple[Record, ...]:
    """The distinct identities several values found, by id: one identity found through
    two values is one identity."""
    first: tuple[Record, ...] = ()
    distinct: dict[int, Record] | None = None
    for matches in found:
        if not matches:
            continue
        if not first:
            first = matches  # from the index: distinct already, and by id
            continue
        if distinct is None:
            distinct = {id(identity): identity for identity in first}
        for identity in matches:
            distinct.setdefault(id(identity), identity)
    if distinct is None or len(distinct) == len(first):
        return first
    return tuple(sorted(distinct.values(), key=lambda identity: identity.id))


def _text(value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return str(value)
