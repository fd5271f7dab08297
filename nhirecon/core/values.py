"""Parsing of raw export values and normalisation for comparison."""

from __future__ import annotations

import unicodedata
from datetime import UTC, date, datetime, time
from typing import Final

import orjson

from nhirecon.core.model import CASEFOLD_FIELDS, HUMAN, ID_FIELDS

TRUE_WORDS: Final = frozenset({"true", "yes", "1", "enabled", "active"})
FALSE_WORDS: Final = frozenset({"false", "no", "0", "disabled", "inactive"})
"""The words ``active`` accepts without ``active_values`` (SPEC §3), compared case-folded."""
KINDS: Final = (HUMAN, "service_account", "api_key", "bot", "agent", "workload")
"""The canonical kinds of identity; any other raw ``kind`` needs ``kind_values``."""


class ValueError_(ValueError):
    """A raw value that does not parse; the caller adds file and row."""


def text(raw: object) -> str | None:
    """A trimmed string, or ``None`` for empty values."""
    if type(raw) is str:  # the common case, first
        return raw.strip() or None
    if raw is None:
        return None
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, datetime):
        return format_datetime(as_utc(raw))
    value = str(raw).strip()
    return value or None


class Flag(str):
    """Text that its format reads as a yes/no (YAML 1.1: ``on``, ``off``, ``y``, ``no``...),
    kept as written: a text field reads the text (``owner: on`` is the name ``on``), a
    yes/no field its :attr:`truth` (``active: on`` is active)."""

    truth: bool

    def __new__(cls, written: str, truth: bool) -> Flag:
        made = super().__new__(cls, written)
        made.truth = truth
        return made


def parse_bool(raw: object) -> bool | None:
    """True/false from booleans, a :class:`Flag`, and the usual words, any case; ``None``
    when empty."""
    if raw is None:
        return None
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, Flag):
        return raw.truth
    if isinstance(raw, int) and raw in (0, 1):
        return bool(raw)
    word = str(raw).strip().casefold()
    if not word:
        return None
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError_(
        f"{raw!r} is not a yes/no value (true/false, yes/no, 1/0, enabled/disabled,"
        " active/inactive; set `active_values` for other words)"
    )


def as_utc(moment: datetime) -> datetime:
    """An aware UTC datetime; naive values are taken as UTC."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def parse_datetime(raw: object) -> datetime | None:
    """An ISO-8601 date or datetime as aware UTC; ``None`` when empty."""
    if raw is None:
        return None
    if isinstance(raw, datetime):
        try:
            return as_utc(raw)
        except OverflowError:
            raise ValueError_(f"{raw.isoformat()!r} is out of range in UTC") from None
    if isinstance(raw, date):
        return datetime.combine(raw, time(), tzinfo=UTC)
    value = str(raw).strip()
    if not value:
        return None
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), time(), tzinfo=UTC)
        return as_utc(datetime.fromisoformat(value))
    except ValueError:
        raise ValueError_(f"{value!r} is not an ISO-8601 date or datetime") from None
    except OverflowError:  # 0001-01-01T00:00+01:00 is before the first UTC instant
        raise ValueError_(f"{value!r} is out of range in UTC") from None


SECONDS_Z: Final = orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC | orjson.OPT_OMIT_MICROSECONDS
"""orjson's options for :func:`format_datetime`: with them, orjson writes an instant of
type ``datetime`` in UTC (or naive) as :func:`format_datetime` spells it, within quotes."""


def format_datetime(moment: datetime) -> str:
    """ISO-8601 in UTC with a ``Z``, to the second (a naive instant is taken as UTC).

    orjson writes it, in C (RFC 3339, its ``OPT_UTC_Z``, ``OPT_NAIVE_UTC`` and
    ``OPT_OMIT_MICROSECONDS``: four digits of year, the fraction cut, not rounded); a
    subclass of ``datetime`` is spelt out here, the same way."""
    zone = moment.tzinfo
    if zone is not UTC and zone is not None:
        moment = moment.astimezone(UTC)
    if type(moment) is datetime:
        return orjson.dumps(moment, option=SECONDS_Z)[1:-1].decode()
    return "%04d-%02d-%02dT%02d:%02d:%02dZ" % (  # noqa: UP031 (the fastest here)
        moment.year,
        moment.month,
        moment.day,
        moment.hour,
        moment.minute,
        moment.second,
    )


def normalise(value: str, *, casefold: bool) -> str:
    """Trim, Unicode NFKC and, for emails and usernames, case-fold.

    Case folding is Unicode's compatibility caseless match (The Unicode Standard, 3.13,
    D145: ``NFKD(casefold(NFKD(casefold(NFD(x)))))``, composed here as NFKC), so that
    the key is the same for every spelling that folds alike: folding ``ΐ`` alone gives
    a decomposed letter, which its capital ``Ϊ́`` folds to only once composed."""
    value = value.strip()
    if value.isascii():  # NFKC leaves ASCII as it is, and case-folds it as lower() does
        if not casefold or value.islower():
            return value  # the same string, not a copy: indexes hold millions of keys
        return value.lower()
    if not casefold:
        return unicodedata.normalize("NFKC", value)
    folded = unicodedata.normalize("NFD", value).casefold()
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKD", folded).casefold())


def lower_case(value: str) -> str:
    """``value`` as it reads after a change of case and nothing more: Unicode's lower-case
    mapping (``str.lower``), composed (NFC) before and after, since the capital of ``ǰ``
    has no composed form and lower-cases to ``j`` and a combining mark, with the final
    ``ς`` read as ``σ`` (which of the two ``lower`` writes depends on the letters around
    it). Not full case folding, which also turns ``ß`` into ``ss``, the long ``ſ`` into
    ``s`` and the ligature ``ﬁ`` into ``fi`` (Unicode's CaseFolding.txt): no one reads
    those as a change of case."""
    lowered = unicodedata.normalize("NFC", value).lower()
    return unicodedata.normalize("NFC", lowered).replace("ς", "σ")


def telltales(value: str, other: str) -> tuple[str, ...]:
    """The characters that make ``value`` and ``other`` one key without being a change of
    case, each once, in order of appearance, as ``U+212A KELVIN SIGN`` (its code point and
    Unicode name): the characters of either that the other lacks and that NFKC or full case
    folding changes (full-width and circled letters, ligatures, ``ß``, the long ``ſ``, the
    Kelvin sign). Two values that look the same on a screen are told apart by these.
    Empty when there are none, as for two spellings of one accent."""
    found: dict[str, None] = {}
    for one, against in ((value, other), (other, value)):
        for character in one:
            if character.isascii() or character in against or character in found:
                continue
            folded = character.casefold() != character.lower()
            if folded or unicodedata.normalize("NFKC", character) != character:
                found[character] = None
    return tuple(
        f"U+{ord(character):04X} {unicodedata.name(character, '')}".rstrip() for character in found
    )


def comparison_mode(*fields: str) -> str:
    """How two fields are compared: ``exact`` for ids, ``casefold`` or ``nfkc`` otherwise."""
    if all(name in ID_FIELDS for name in fields):
        return "exact"
    if any(name in CASEFOLD_FIELDS for name in fields):
        return "casefold"
    return "nfkc"


def key_for(value: str | None, mode: str) -> str | None:
    """The normalised form of a value under a comparison mode; ``None`` never matches."""
    if value is None:
        return None
    if mode == "exact":
        return value.strip() or None
    return normalise(value, casefold=mode == "casefold") or None
