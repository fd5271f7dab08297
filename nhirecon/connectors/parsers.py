"""How one field's raw values become canonical values, by the input's value options.

Each reader is built once per input (when the mapping binds), so the options are resolved
once and the per-value work is a dictionary look-up (dates: :mod:`.dates`). A reader
raises :class:`ValueError_` with the raw value; the mapping adds the row, the field and
the column.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from nhirecon.core.model import Origin
from nhirecon.core.values import KINDS, ValueError_, parse_bool, text

Reader = Callable[[object], Any]
"""Raw value → canonical value, or ``None`` for no value."""

GROUP_SEPARATORS = (";", "|", ",")


class Several(tuple[str, ...]):
    """Two or more distinct values read for one field, the one to show first."""


def listed(raw: list[Any] | tuple[Any, ...]) -> tuple[str, ...]:
    """The distinct values of a list, as text: bare values as they are, objects by their
    ``value`` (SCIM ``emails``), mixed freely. The one item flagged ``primary`` comes first
    (it is the value shown to people); the rest keep the order read."""
    flagged: list[str] = []
    values: list[str] = []
    for item in raw:
        primary = False
        if isinstance(item, dict):
            if "value" not in item:
                raise ValueError_("expected values, got an object without `value` in a list")
            primary = item.get("primary") is True
            item = item["value"]
        if isinstance(item, dict | list | tuple):
            shape = "an object" if isinstance(item, dict) else "a list"
            raise ValueError_(f"expected values, got {shape} inside a list")
        value = text(item)
        if value is not None:
            values.append(value)
            if primary:
                flagged.append(value)
    if len(flagged) == 1:
        values.insert(0, flagged[0])
    return tuple(dict.fromkeys(values))


def single(raw: object) -> str | None:
    """The text of one value; an object, or a list that holds several values, where one
    value belongs is an error (a ``map`` entry that names a nested object rather than a
    field inside it, or a field that cannot hold several values)."""
    if type(raw) is str:
        return raw.strip() or None
    if isinstance(raw, list | tuple):
        values = listed(raw)
        if len(values) > 1:
            raise ValueError_(f"expected a single value, got a list of {len(values)} values")
        return values[0] if values else None
    if isinstance(raw, dict):
        raise ValueError_("expected a single value, got an object")
    return text(raw)


def identifier(raw: object) -> str | None:
    """An id exactly as read: surrounding whitespace is kept, so that an id is never taken
    for another that differs from it only by whitespace (a write addresses the account by
    it); a blank one is no value."""
    if type(raw) is str:
        return raw if raw.strip() else None
    return single(raw)


def one_or_several(raw: object) -> str | Several | None:
    """The text of a field that may hold several values (see ``MULTI_VALUED_FIELDS``)."""
    if type(raw) is str:
        return raw.strip() or None
    if isinstance(raw, list | tuple):
        values = listed(raw)
        if len(values) > 1:
            return Several(values)
        return values[0] if values else None
    if isinstance(raw, dict):
        raise ValueError_("expected a single value, got an object")
    return text(raw)


def groups(raw: object) -> tuple[str, ...] | None:
    """The group names of a value, sorted; ``None`` when there are none."""
    if raw is None:
        return None
    if isinstance(raw, list | tuple):
        items: list[Any] = list(raw)
    else:
        value = str(raw)
        separator = next((sep for sep in GROUP_SEPARATORS if sep in value), None)
        items = value.split(separator) if separator else [value]
    names = []
    for item in items:
        if isinstance(item, dict):
            item = item.get("display") or item.get("value")
        name = text(item)
        if name:
            names.append(name)
    return tuple(sorted(set(names))) or None


# "No value" words ------------------------------------------------------------------------


def without_nulls(reader: Reader, nulls: frozenset[str]) -> Reader:
    """``reader``, reading the ``null_values`` words (and list items) as no value."""
    if not nulls:
        return reader

    def read(raw: object) -> Any:
        if type(raw) is str:
            if raw.strip().casefold() in nulls:
                return None
        elif isinstance(raw, list | tuple):
            raw = [item for item in raw if not null(item, nulls)]
        value = reader(raw)
        if type(value) is str and value.casefold() in nulls:
            return None  # a number or a one-item list that spells a null word
        if type(value) is tuple:  # groups
            return tuple(item for item in value if item.casefold() not in nulls) or None
        return value

    return read


def null(item: object, nulls: frozenset[str]) -> bool:
    if isinstance(item, dict):
        item = item.get("value")
    value = None if isinstance(item, dict | list | tuple) else text(item)
    return value is not None and value.casefold() in nulls


def several_without_nulls(value: str | Several | None, nulls: frozenset[str]) -> Any:
    """A multi-valued field's value without the ``null_values`` words."""
    if value is None or not nulls:
        return value
    if isinstance(value, Several):
        kept = tuple(item for item in value if item.casefold() not in nulls)
        if len(kept) > 1:
            return Several(kept)
        return kept[0] if kept else None
    return None if value.casefold() in nulls else value


# Closed value maps -----------------------------------------------------------------------


def yes_no(raw: object) -> bool | None:
    """A yes/no field other than ``active`` (``password_enabled``): the usual words only,
    since ``active_values`` is about ``active`` alone."""
    try:
        return parse_bool(raw)
    except ValueError_:
        raise ValueError_(
            f"{raw!r} is not a yes/no value (true/false, yes/no, 1/0, enabled/disabled,"
            " active/inactive)"
        ) from None


def active_reader(words: Mapping[str, bool] | None) -> Reader:
    """``active``: the words of SPEC §3, or exactly the words of ``active_values``."""
    if words is None:
        return parse_bool
    listing = _listing(
        {
            "active": [w for w, on in words.items() if on],
            "inactive": [w for w, on in words.items() if not on],
        }
    )

    def read(raw: object) -> bool | None:
        value = single(raw)
        if value is None:
            return None
        found = words.get(value.casefold())
        if found is None:
            raise ValueError_(f"{value!r} is not listed in active_values ({listing})")
        return found

    return read


def _closed(table: Mapping[str, Any], what: str, names: str, option: str, listed: bool) -> Reader:
    """A reader that takes only the words of ``table`` (case-folded); any other word is an
    error naming the value and the option that would map it."""
    hint = (
        f"not {what} ({names}) nor listed in {option}"
        if listed
        else f"not {what} ({names}); list it under `{option}` to map it"
    )

    def read(raw: object) -> Any:
        value = single(raw)
        if value is None:
            return None
        found = table.get(value.casefold())
        if found is None:
            raise ValueError_(f"{value!r} is {hint}")
        return found

    return read


def kind_reader(words: Mapping[str, str] | None) -> Reader:
    """``kind``: a canonical kind, or a word that ``kind_values`` lists."""
    table = {**{kind: kind for kind in KINDS}, **(words or {})}
    return _closed(table, "a kind", ", ".join(KINDS), "kind_values", bool(words))


def origin_reader(words: Mapping[str, Origin]) -> Reader:
    """``origin``: a word that ``origin_values`` lists, or an origin's own name."""
    table = {**{origin.value: origin for origin in Origin}, **words}
    names = ", ".join(origin.value for origin in Origin)
    return _closed(table, "an origin", names, "origin_values", bool(words))


def _listing(groups: Mapping[str, list[str]]) -> str:
    return "; ".join(f"{name}: {', '.join(words)}" for name, words in groups.items() if words)
