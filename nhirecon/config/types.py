"""The value types of the config's keys: how each is checked, worded and shown in the
JSON Schema.

Each is an ``Annotated`` type for the pydantic models of :mod:`.shape`. Where pydantic's
own checks fit (a string, a list, a mapping) they are used in strict mode: a YAML number
is not a string, binary data is not text. Where the config takes one of several shapes
(a word or a list of words), or words its message its own way (numbers, choices), a plain
validator checks it, raising :func:`~.problems.problem`, and ``WithJsonSchema`` says what
it takes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Annotated, Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    PlainValidator,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    WrapValidator,
)
from pydantic_core.core_schema import ValidatorFunctionWrapHandler

from nhirecon.config.problems import describe, problem
from nhirecon.connectors.dates import DATE_FORMS, pattern_problem
from nhirecon.core.gate import parse_rule
from nhirecon.core.model import CANONICAL_FIELDS, DATE_FIELDS, MULTI_VALUED_FIELDS

TEXT_SCHEMA: Final = {"type": "string", "minLength": 1, "pattern": r"\S"}


def _filled(value: str) -> str:
    if not value.strip():
        raise problem(f"expected a non-empty string, got {describe(value)}")
    return value.strip()


Text = Annotated[str, AfterValidator(_filled), WithJsonSchema(TEXT_SCHEMA)]
"""A non-empty string, trimmed."""


def _whole(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise problem(f"expected a whole number, got {describe(value)}")
    if value < 0:
        raise problem(f"must not be negative, got {value}")
    return value


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise problem(f"expected a number, got {describe(value)}")
    if value < 0:
        raise problem(f"must not be negative, got {value}")
    return float(value)


def _percent(value: Any) -> float:
    number = _number(value)
    if number > 100:
        raise problem("a percentage must be at most 100")
    return number


Count = Annotated[int, PlainValidator(_whole), WithJsonSchema({"type": "integer", "minimum": 0})]
"""A whole number, zero or more (actions)."""
MAX_DAYS = 36_500
"""A hundred years: the most any day limit may be (a larger one cannot be a date span)."""


def _days(value: Any) -> int:
    days = _whole(value)
    if days > MAX_DAYS:
        raise problem(f"at most {MAX_DAYS} days (a hundred years), got {days}")
    return days


Days = Annotated[
    int,
    PlainValidator(_days),
    WithJsonSchema({"type": "integer", "minimum": 0, "maximum": MAX_DAYS}),
]
"""A number of days, from 0 to :data:`MAX_DAYS`."""
Seconds = Annotated[
    float, PlainValidator(_number), WithJsonSchema({"type": "number", "minimum": 0})
]
"""A number, zero or more."""
Percent = Annotated[
    float,
    PlainValidator(_percent),
    WithJsonSchema({"type": "number", "minimum": 0, "maximum": 100}),
]
"""A percentage, 0 to 100."""


def one_of(values: Sequence[str], message: Callable[[Any], str]) -> PlainValidator:
    """A check that a value is one of the strings ``values``; anything else (``null``
    too) is refused with ``message(value)``. Its schema: ``WithJsonSchema(enum(values))``."""

    def check(value: Any) -> str:
        if not isinstance(value, str) or value not in values:
            raise problem(message(value))
        return value

    return PlainValidator(check)


def enum(values: Sequence[str]) -> WithJsonSchema:
    return WithJsonSchema({"enum": list(values)})


def _version(value: Any) -> int:
    if isinstance(value, bool) or value != 1:
        raise problem(f"unsupported config version {value!r} (expected 1)")
    return 1


Version = Annotated[int, PlainValidator(_version), WithJsonSchema({"const": 1})]


# Columns of ``map`` ------------------------------------------------------------------------


def _columns(value: Any, info: ValidationInfo) -> str | tuple[str, ...]:
    """One column, or several (distinct, in order) where the field may hold several."""
    if not isinstance(value, list):
        if not isinstance(value, str) or not value.strip():
            raise problem(f"expected a non-empty string, got {describe(value)}")
        return value.strip()
    name = info.field_name
    if name is not None and name in ONE_COLUMN_FIELDS:
        raise problem(one_column(name))
    if not value:
        raise problem("names no column")
    columns = []
    for index, item in enumerate(value):
        if not isinstance(item, str) or not item.strip():
            raise problem(f"expected a non-empty string, got {describe(item)}", f"[{index}]")
        columns.append(item.strip())
    distinct = tuple(dict.fromkeys(columns))
    return distinct[0] if len(distinct) == 1 else distinct


def one_column(name: str) -> str:
    return (
        f"{name!r} reads one column; several columns are for fields that can hold several"
        f" values ({', '.join(sorted(MULTI_VALUED_FIELDS))} and custom attributes) and for"
        " dates (the latest of them is taken)"
    )


ONE_COLUMN_FIELDS: Final = (
    frozenset({*CANONICAL_FIELDS, "version"}) - MULTI_VALUED_FIELDS - {*DATE_FIELDS}
)
"""Fields whose ``map`` entry names exactly one column (a date may name several: the
latest of them is the field's value)."""
COLUMN_SCHEMA: Final = {"type": "string", "minLength": 1}
ONE_COLUMN = WithJsonSchema(COLUMN_SCHEMA)
SEVERAL_COLUMNS = WithJsonSchema(
    {"anyOf": [COLUMN_SCHEMA, {"type": "array", "items": COLUMN_SCHEMA, "minItems": 1}]}
)
Column = Annotated[str | tuple[str, ...] | None, PlainValidator(_columns), ONE_COLUMN]
"""The column (or path) of a field that holds one value; ``null`` is refused."""
Columns = Annotated[str | tuple[str, ...] | None, PlainValidator(_columns), SEVERAL_COLUMNS]
"""The column of a field, or several columns where it may hold several values."""


# Words: the raw values of an export -----------------------------------------------------


def _word(strict: bool) -> Callable[[Any], str]:
    def check(item: Any) -> str:
        if isinstance(item, bool) and strict:
            raise problem(
                f"got the YAML boolean {str(item).lower()}: quote the word as the export"
                " writes it ('no', 'off', 'true' ...)"
            )
        if isinstance(item, date):
            item = item.isoformat()
        if not isinstance(item, str | int | float):
            raise problem(f"expected a value, got {describe(item)}")
        return str(item).strip().casefold()

    return check


def _one_or_many(value: Any, handler: ValidatorFunctionWrapHandler) -> list[str]:
    """A list of words, or one word (whose problem is then named at its own key)."""
    if value is None:
        return []
    if isinstance(value, list):
        words: list[str] = handler(value)
    else:
        try:
            words = handler([value])
        except ValidationError as exc:
            raise problem(str(exc.errors()[0]["msg"])) from None
    return [word for word in words if word]


def _listed(words: list[str]) -> list[str]:
    if not words:
        raise problem("lists no value")
    return words


WORD_SCHEMA: Final = {"type": ["string", "number"]}
LOOSE_WORD_SCHEMA: Final = {"type": ["string", "number", "boolean"]}
WORDS_SCHEMA: Final = {"anyOf": [WORD_SCHEMA, {"type": "array", "items": WORD_SCHEMA}]}
Word = Annotated[str, PlainValidator(_word(strict=True))]
LooseWord = Annotated[str, PlainValidator(_word(strict=False))]
Words = Annotated[list[Word], WrapValidator(_one_or_many), WithJsonSchema(WORDS_SCHEMA)]
"""Raw values (one, or a list), trimmed and case-folded; a YAML boolean is refused, as
the word the export holds cannot be told back from it."""
LooseWords = Annotated[
    list[LooseWord],
    WrapValidator(_one_or_many),
    WithJsonSchema({"anyOf": [LOOSE_WORD_SCHEMA, {"type": "array", "items": LOOSE_WORD_SCHEMA}]}),
]
"""Raw values where a YAML boolean means its own word (``origin_values``)."""
ListedWords = Annotated[
    Words,
    AfterValidator(_listed),
    WithJsonSchema(
        {"anyOf": [WORD_SCHEMA, {"type": "array", "items": WORD_SCHEMA, "minItems": 1}]}
    ),
]
"""Words, at least one."""


# Dates and times ------------------------------------------------------------------------


def _date_format(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise problem(f"expected a non-empty string, got {describe(value)}")
    form = value.strip()
    if form in DATE_FORMS:
        return form
    reason = pattern_problem(form)
    if reason:
        raise problem(
            f"expected {', '.join(DATE_FORMS)} or a strptime pattern such as '%d.%m.%Y',"
            f" got {form!r} ({reason})"
        )
    return form


DATE_FORMAT_SCHEMA: Final = {
    "anyOf": [{"enum": list(DATE_FORMS)}, {"type": "string", "pattern": "%"}]
}
DateFormat = Annotated[str, PlainValidator(_date_format), WithJsonSchema(DATE_FORMAT_SCHEMA)]
"""``iso``, ``epoch``, ``epoch_ms``, ``filetime`` or a strptime pattern."""
FieldDateFormat = Annotated[
    str | None, PlainValidator(_date_format), WithJsonSchema(DATE_FORMAT_SCHEMA)
]
"""A date format where ``null`` is refused too."""


def _timezone(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise problem(f"expected a non-empty string, got {describe(value)}")
    name = value.strip()
    if name.upper() == "UTC":
        return "UTC"
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise problem(
            f"unknown time zone {name!r} (an IANA name such as Europe/Berlin, or UTC)"
        ) from None
    return name


TimeZone = Annotated[str, PlainValidator(_timezone), WithJsonSchema(TEXT_SCHEMA)]
"""An IANA time zone name, or UTC."""


def _expiry(value: Any) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise problem(f"expected a date like 2027-01-31, got {value!r}")


Expiry = Annotated[
    date, PlainValidator(_expiry), WithJsonSchema({"type": "string", "format": "date"})
]
"""A date (``2027-01-31``)."""


def _gate_rule(text: str) -> str:
    try:
        parse_rule(text)
    except ValueError as exc:
        raise problem(str(exc)) from None
    return text


GateText = Annotated[Text, AfterValidator(_gate_rule)]
"""A gate rule, ``SELECTOR OP N``."""


def at_least_one(message: str) -> Callable[[list[Any]], list[Any]]:
    """A check that a list holds something, refused with ``message``."""

    def check(items: list[Any]) -> list[Any]:
        if not items:
            raise problem(message)
        return items

    return check
