"""How dates are read, by the input's ``date_format``, ``date_formats`` and ``timezone``.

A reader is built once per format and input and remembers the raw values it has already
read (exports repeat dates a lot). Every reader gives aware UTC datetimes; the "no value"
sentinels of Microsoft and Active Directory exports read as no value in any format, and so
does the Unix epoch as a date of last use (Google's ``lastLoginTime`` of a user who never
signed in, Admin SDK Directory API)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Final
from zoneinfo import ZoneInfo

from nhirecon.connectors.parsers import Reader, null, single
from nhirecon.core.values import ValueError_, text

DATE_FORMS: Final = ("iso", "epoch", "epoch_ms", "filetime")
"""The named date formats; anything else is a strptime pattern."""
NEVER: Final = frozenset({"0", "9223372036854775807", "1601-01-01T00:00:00Z"})
"""Raw dates that mean "never" in any format: FILETIME 0 and its largest value (Active
Directory), and FILETIME 0 written as a date."""
FILETIME_EPOCH: Final = datetime(1601, 1, 1, tzinfo=UTC)
UNIX_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
FIRST_DAY: Final = date(1, 1, 1)
"""``0001-01-01``, at any time of day, is .NET's and Microsoft Graph's "never"."""
CACHE_SIZE: Final = 4096
"""How many distinct raw values a date reader remembers."""
_NUMBER = re.compile(r"[+-]?\d+(?:\.\d+)?")
_MISSING: Final = object()
_ZERO: Final = timedelta(0)


def date_reader(
    form: str, zone: tzinfo, nulls: frozenset[str] = frozenset(), *, used: bool = False
) -> Reader:
    """Reads dates written in ``form`` (see ``DATE_FORMS``) as aware UTC datetimes; a
    date-time or date without a zone is in ``zone``. The ``null_values`` words and the
    "never" sentinels read as no value; for a date of last use (``used``), so does the
    Unix epoch (Google's ``lastLoginTime`` of a user who never signed in): as an expiry or
    a rotation it stays a date, long past, so that nothing is left unreported."""
    convert = _CONVERTERS.get(form) or _pattern(form)
    cache: dict[str, datetime | None] = {}
    never = (FILETIME_EPOCH, UNIX_EPOCH) if used else (FILETIME_EPOCH,)

    def settle(moment: datetime, shown: str) -> datetime | None:
        if moment.tzinfo is None:
            if moment.date() == FIRST_DAY:
                return None
            moment = moment.replace(tzinfo=zone)
        elif moment.date() == FIRST_DAY and moment.utcoffset() <= _ZERO:  # type: ignore[operator]
            return None
        try:
            moment = moment.astimezone(UTC)
        except OverflowError:  # 0001-01-01T00:00+01:00 is before the first UTC instant
            raise ValueError_(f"{shown!r} is out of range in UTC") from None
        return None if moment in never else moment

    def from_text(value: str) -> datetime | None:
        if not value or value in NEVER or (nulls and value.casefold() in nulls):
            return None
        try:
            moment = convert(value)
        except ValueError_:
            if value.startswith("0001-01-01"):  # "never" in ISO spelling, in another format
                return None
            raise
        return settle(moment, value)

    def read(raw: object) -> datetime | None:
        if type(raw) is str:
            found = cache.get(raw, _MISSING)
            if found is not _MISSING:
                return found  # type: ignore[return-value]
            moment = from_text(raw.strip())
            if len(cache) < CACHE_SIZE:
                cache[raw] = moment
            return moment
        if raw is None:
            return None
        if isinstance(raw, datetime):  # YAML timestamps
            return settle(raw, raw.isoformat())
        if isinstance(raw, date):
            return settle(datetime.combine(raw, time()), raw.isoformat())
        if isinstance(raw, dict | list | tuple):
            value = single([item for item in raw if not null(item, nulls)] if nulls else raw)
            return None if value is None else read(value)
        value = text(raw)  # a JSON number (epoch, FILETIME), a boolean
        return None if value is None else from_text(value)

    return read


def time_zone(name: str) -> tzinfo:
    """The zone named in ``timezone`` (checked when the config is read)."""
    return UTC if name.upper() == "UTC" else ZoneInfo(name)


def _iso(value: str) -> datetime:
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), time())
        return datetime.fromisoformat(value)
    except ValueError:
        raise ValueError_(
            f"{value!r} is not an ISO-8601 date or datetime (set `date_format` for other spellings)"
        ) from None


def _since(epoch: datetime, unit: str, per_second: int) -> Callable[[str], datetime]:
    def convert(value: str) -> datetime:
        if not _NUMBER.fullmatch(value):
            raise ValueError_(f"{value!r} is not a number of {unit} since {epoch.date()}")
        try:  # int() refuses more than 4,300 digits (sys.set_int_max_str_digits)
            number: int | float = int(value) if "." not in value else float(value)
            return epoch + timedelta(seconds=number / per_second)
        except (OverflowError, ValueError):
            raise ValueError_(f"{value!r} is out of range as {unit} since {epoch.date()}") from None

    return convert


def _filetime(value: str) -> datetime:
    if not value.isdecimal():  # isdigit() also takes "²" and "①", which int() refuses
        raise ValueError_(f"{value!r} is not a FILETIME (100-nanosecond intervals since 1601)")
    try:  # int() refuses more than 4,300 digits (sys.set_int_max_str_digits)
        return FILETIME_EPOCH + timedelta(microseconds=int(value) // 10)
    except (OverflowError, ValueError):
        raise ValueError_(f"{value!r} is out of range as a FILETIME") from None


def _pattern(pattern: str) -> Callable[[str], datetime]:
    def convert(value: str) -> datetime:
        try:
            return datetime.strptime(value, pattern)
        except ValueError:
            raise ValueError_(f"{value!r} does not match the date format {pattern!r}") from None

    return convert


_CONVERTERS: Final[dict[str, Callable[[str], datetime]]] = {
    "iso": _iso,
    "epoch": _since(UNIX_EPOCH, "seconds", 1),
    "epoch_ms": _since(UNIX_EPOCH, "milliseconds", 1000),
    "filetime": _filetime,
}


def pattern_problem(pattern: str) -> str | None:
    """Why ``pattern`` cannot be a strptime date format, or ``None`` when it can."""
    if "%" not in pattern:
        return "has no % directive"
    if "Z" in re.findall("%(.)", pattern, re.DOTALL):  # %% is a literal %, read as one
        return (
            "%Z reads a zone's name (UTC, GMT or this machine's own) but keeps no zone from"
            " it, so the value would be read in `timezone` whatever zone it names, and"
            " would read or fail by the machine's zone: use %z for an offset (+0100), or"
            " leave the zone out of the pattern and set `timezone`"
        )
    try:
        datetime.strptime("", pattern)
    except ValueError as exc:
        if "does not match format" not in str(exc):
            return str(exc)
    return None
