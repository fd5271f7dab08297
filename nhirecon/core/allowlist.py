"""Which accounts an exception or a ``protected`` entry names (SPEC §5).

An entry matches an account's id, username or email case-insensitively but otherwise
exactly (a change of case, not full case folding: ``straße`` is not ``strasse``): there
is no Unicode compatibility folding, so ``ｂｒｅａｋｇｌａｓｓ`` (full width) or
``ⓑreakglass`` is not ``breakglass``. Case folding itself maps a few compatibility characters
onto ASCII (the Kelvin sign ``K`` to ``k``, the long ``ſ`` to ``s``), so a value that holds
any (one that Unicode NFKC would change) is compared exactly, without case folding. An
email is only compared with an entry that is an address (holds an ``@``), so an account
whose email field says ``breakglass`` is not the ``breakglass`` account. Allowlists are
where an attacker gains most from a near miss, so they are stricter than correlation
(SPEC §4), which folds compatibility forms and flags it.

An entry that names several accounts of one target is reported: an exception then
suppresses none of them (it cannot say which one it accepts), a ``protected`` entry
protects all of them (a write is never the safe side of doubt). So is an entry that names
no account of its target: a misspelt ``protected`` entry protects nothing, and an
exception for an account that is gone is left over.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from nhirecon.core.model import Record
from nhirecon.core.values import lower_case

EXACT = "\x00"
"""Marks the key of a value compared exactly, so it never equals a case-folded key."""


def entry_key(value: str | None) -> str | None:
    """The form an allowlist entry or an account's name is compared in: trimmed, composed
    (NFC: ``é`` typed as ``e`` and a combining accent is the same text, canonically
    equivalent in Unicode's own terms, UAX #15; a character NFC would replace on its own by
    another, such as the Kelvin sign, keeps the value exact) and lower-cased
    (:func:`~nhirecon.core.values.lower_case`: a change of case, not the full case folding
    that makes ``straße`` of ``strasse``) when it is then in NFKC normal form, else marked
    as exact: a compatibility look-alike (``ａｄｍｉｎ``) never matches; ``None`` when
    empty."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    if value.isascii():
        return value.lower()
    if any(_singleton(char) for char in value):
        return EXACT + value  # such as the Kelvin sign: never the plain letter
    value = unicodedata.normalize("NFC", value)  # composes accents, changes no letter
    if unicodedata.is_normalized("NFKC", value):
        return lower_case(value)
    return EXACT + value


def _singleton(char: str) -> bool:
    """Whether NFC replaces ``char`` on its own by another single character (the Kelvin
    sign by ``K``, the Ohm sign by ``Ω``): a look-alike kept apart, where composing an
    accent with its letter, or keeping apart a character excluded from composition
    (``क़``), is only another spelling of the same text."""
    composed = unicodedata.normalize("NFC", char)
    return composed != char and len(composed) == 1


def names(record: Record) -> frozenset[str]:
    """The keys an entry can use for ``record``: its id, every username, and every email
    that is an address."""
    if record.multi_values:
        usernames: Iterable[str | None] = record.values("username")
        emails: Iterable[str | None] = record.values("email")
    else:
        usernames, emails = (record.username,), (record.email,)
    keys = {entry_key(record.id), *map(entry_key, usernames)}
    keys.update(key for key in map(entry_key, emails) if key is not None and "@" in key)
    keys.discard(None)
    return frozenset(key for key in keys if key is not None)


class ListName(StrEnum):
    """The config list an entry comes from."""

    EXCEPTIONS = "exceptions"
    PROTECTED = "protected"


EFFECT = {
    ListName.EXCEPTIONS: "suppresses none of them",
    ListName.PROTECTED: "protects all of them",
}
"""What an entry that names several accounts does (SPEC §5)."""
IDLE_EFFECT = {
    ListName.EXCEPTIONS: "suppresses nothing",
    ListName.PROTECTED: "protects nothing",
}
"""What an entry that names no account does."""


@dataclass(frozen=True, slots=True)
class BroadEntry:
    """An allowlist entry that names more than one account of a target, or none."""

    list: ListName
    target: str
    entry: str
    """The entry as written in the config."""
    accounts: tuple[str, ...]
    """The ids of the accounts it names, sorted; empty when it names none."""

    @property
    def effect(self) -> str:
        return (EFFECT if self.accounts else IDLE_EFFECT)[self.list]

    @property
    def message(self) -> str:
        if not self.accounts:
            return (
                f"{self.list.value} entry {self.entry!r} on {self.target} names no account:"
                f" {self.effect}"
            )
        return (
            f"{self.list.value} entry {self.entry!r} on {self.target} names "
            f"{len(self.accounts)} accounts ({', '.join(self.accounts)}): {self.effect}"
        )


class Tally:
    """Counts, over one pass of a target's records, the accounts each entry names.

    ``entries`` are (list, entry as written) pairs for this target. Only records that an
    entry names are remembered, by id, so the pass stays streaming."""

    def __init__(self, target: str, entries: Iterable[tuple[ListName, str]]) -> None:
        self.target = target
        self._entries: dict[str, list[tuple[ListName, str]]] = {}
        for list_name, entry in entries:
            key = entry_key(entry)
            if key is not None:
                self._entries.setdefault(key, []).append((list_name, entry))
        self._named: dict[str, set[str]] = {}

    def see(self, record: Record) -> None:
        if not self._entries:
            return
        for key in names(record) & self._entries.keys():
            self._named.setdefault(key, set()).add(record.id)

    def broad(self) -> list[BroadEntry]:
        """The entries that named several records, in config order per key."""
        found = []
        for key, ids in sorted(self._named.items()):
            if len(ids) < 2:
                continue
            accounts = tuple(sorted(ids))
            for list_name, entry in self._entries[key]:
                found.append(BroadEntry(list_name, self.target, entry, accounts))
        return found

    def idle(self) -> list[BroadEntry]:
        """The entries that named no record, in config order; call it once every record of
        the target has been seen."""
        return [
            BroadEntry(list_name, self.target, entry, ())
            for key, entries in self._entries.items()
            if key not in self._named
            for list_name, entry in entries
        ]
