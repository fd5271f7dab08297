"""Each mapped field of an export as two SQL expressions over its cell: whether the cell
is *plain*, and its value when it is.

A plain cell is one whose canonical value the engine knows exactly without Python: empty,
a ``null_values`` word, or printable ASCII without surrounding spaces in the form the
field's reader (:mod:`nhirecon.connectors.parsers`, :mod:`nhirecon.connectors.dates`)
takes as it is. Any other cell (non-ASCII text, a value a reader would trim, refuse or
convert) is not plain, and its row is read the usual way. Plain ASCII needs no Unicode
normalisation: NFKC leaves it as it is and case folding is ``lower()``.

A date's value here is its calendar day as written, which is within a day of the instant
the reader gives (its zone, or the input's ``timezone``): the engine only uses it with a
day to spare on either side (see :mod:`nhirecon.columnar.decide`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Final

from nhirecon.connectors.context import ConnectorContext
from nhirecon.core.model import DATE_FIELDS, Origin
from nhirecon.core.values import FALSE_WORDS, KINDS, TRUE_WORDS

ASCII_LINE: Final = "[ -~]*"
"""RE2: a line of printable ASCII; its row's ``ascii`` column says whether it is one."""
DAY: Final = "[0-9]{4}-[0-9]{2}-[0-9]{2}"
TIME: Final = r"[T ]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,6})?"
OFFSET: Final = "(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])?"
ISO: Final = f"{DAY}|{DAY}{TIME}{OFFSET}"
"""The ISO 8601 spellings read as plain: a date, or a date and time to the second (with
up to six decimals) and an optional zone, each of which ``datetime.fromisoformat`` takes
(a property test checks it)."""
FIRST_YEAR: Final = "1971"
LAST_YEAR: Final = "9998"
"""Years read as plain: far from the "never" sentinels (``0001-01-01``, the FILETIME
epoch 1601, the Unix epoch 1970, which a zone's offset may write as 1969) and from the
end of the calendar, which a zone's offset could pass."""
TEXT: Final = "text"
"""The kind of a field whose value is its text (see :attr:`Field.kind`)."""


@dataclass(frozen=True)
class Field:
    """One mapped field of an export, in SQL."""

    name: str
    index: int
    """The column it is read from (1-based)."""
    cell: str
    """The raw cell: ``coalesce(cells[i], '')``."""
    plain: str
    """True when the cell is plain for this field."""
    value: str
    """The canonical value of a plain cell (``NULL``: no value)."""
    kind: str
    """``text`` (a string value that correlation and ``compare`` may use), or the reader's
    kind (``active``, ``kind``, ``origin``, ``date``, ``groups``...)."""


def cell_sql(index: int, table: str = "") -> str:
    """SQL: the raw cell of column ``index`` (1-based) of ``cells``, of ``table`` if given."""
    prefix = f"{table}." if table else ""
    return f"coalesce({prefix}cells[{index}], '')"


def plain_text(cell: str) -> str:
    """SQL: the cell is printable ASCII (its line is) with no space at either end."""
    return (
        f"(ascii AND {cell} <> '' AND NOT starts_with({cell}, ' ') AND NOT ends_with({cell}, ' '))"
    )


def literal(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def one_of(expression: str, words: Iterable[str]) -> str:
    listed = sorted(set(words))
    if not listed:
        return "false"
    return f"{expression} IN ({', '.join(map(literal, listed))})"


def compared(value: str) -> str:
    """SQL: a plain text value as ``compare`` compares it (see
    :func:`nhirecon.core.compare.drift`): runs of spaces as one space, in lower case (plain
    text is printable ASCII, whose only space is " ", and which NFKC leaves as it is)."""
    return f"lower(regexp_replace({value}, ' +', ' ', 'g'))"


def _day(moment: date) -> str:
    return f"DATE '{moment.isoformat()}'"


def day_after(moment: date, days: int) -> str:
    """The day ``days`` after ``moment`` (before it when negative) as a DATE literal, held
    to the calendar's first or last day: every limit it gives is compared with ``<=`` or
    ``>=``, so a limit held at an end keeps more rows, never fewer."""
    try:
        return _day(moment + timedelta(days=days))
    except OverflowError:
        return _day(date.max if days > 0 else date.min)


def field_sql(name: str, index: int, context: ConnectorContext, form: str | None = None) -> Field:
    """The SQL of field ``name`` read from column ``index`` (1-based) of ``cells``;
    ``form`` is the date format of a date field."""
    options = context.value_options
    cell = cell_sql(index)
    plain = plain_text(cell)
    lower = f"lower({cell})"
    null = f"({cell} = '' OR ({plain} AND {one_of(lower, options.null_values)}))"
    if name == "version":  # read, but not a field a record holds: never correlated on
        value = f"CASE WHEN {null} THEN NULL ELSE {cell} END"
        return Field(name, index, cell, f"({null} OR {plain})", value, "version")
    if name == "id":
        plain_id = f"({plain} AND NOT {one_of(lower, options.null_values)})"
        return Field(name, index, cell, plain_id, cell, "id")
    if name in DATE_FIELDS:
        if form != "iso":
            return Field(name, index, cell, null, "NULL::DATE", "date")
        dated = (
            f"(regexp_full_match({cell}, '{ISO}') AND left({cell}, 4) BETWEEN '{FIRST_YEAR}'"
            f" AND '{LAST_YEAR}' AND TRY_CAST(left({cell}, 10) AS DATE) IS NOT NULL)"
        )
        value = f"CASE WHEN {null} THEN NULL ELSE TRY_CAST(left({cell}, 10) AS DATE) END"
        return Field(name, index, cell, f"({null} OR {dated})", value, "date")
    if name in ("active", "password_enabled"):
        words: Mapping[str, bool] = (
            options.active_values
            if name == "active" and options.active_values is not None
            else {**dict.fromkeys(TRUE_WORDS, True), **dict.fromkeys(FALSE_WORDS, False)}
        )
        return _closed(name, index, null, {w: str(on).lower() for w, on in words.items()}, name)
    if name == "kind":
        table = {**{kind: kind for kind in KINDS}, **(options.kind_values or {})}
        return _closed(name, index, null, {w: literal(k) for w, k in table.items()}, "kind")
    if name == "origin":
        origins = {**{origin.value: origin for origin in Origin}, **context.origin_values}
        words_of = {word: literal(origin.value) for word, origin in origins.items()}
        return _closed(name, index, null, words_of, "origin")
    if name == "groups":
        items = (
            f"len(list_filter(string_split({cell}, CASE WHEN contains({cell}, ';') THEN ';'"
            f" WHEN contains({cell}, '|') THEN '|' ELSE ',' END), lambda item: trim(item) <> ''"
            f" AND NOT {one_of('lower(trim(item))', options.null_values)})) > 0"
        )
        whole = one_of(lower, options.null_values)
        value = f"CASE WHEN {cell} <> '' AND NOT {whole} AND {items} THEN {cell} END"
        return Field(name, index, cell, f"({cell} = '' OR {plain})", value, "groups")
    value = f"CASE WHEN {null} THEN NULL ELSE {cell} END"
    return Field(name, index, cell, f"({null} OR {plain})", value, TEXT)


def _closed(name: str, index: int, null: str, table: Mapping[str, str], kind: str) -> Field:
    """A field that takes only the words of ``table`` (case-folded) → their SQL values;
    ``null`` says when its cell is no value."""
    cell = cell_sql(index)
    lower = f"lower({cell})"
    ascii_words = {word: value for word, value in table.items() if word.isascii()}
    cases = " ".join(
        f"WHEN {lower} = {literal(w)} THEN {v}" for w, v in sorted(ascii_words.items())
    )
    known = one_of(lower, ascii_words)
    plain = f"({null} OR ({plain_text(cell)} AND {known}))"
    value = f"CASE WHEN {null} THEN NULL {cases} END" if cases else "NULL"
    return Field(name, index, cell, plain, value, kind)
