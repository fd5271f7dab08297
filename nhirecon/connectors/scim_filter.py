"""SCIM filters (RFC 7644 §3.4.2.2), parsed once and evaluated on JSON resources.

A listing sent with a ``filter`` must hold only resources that match it; a service that
ignores the filter returns every resource instead. :func:`compile_filter` parses the
configured filter (a :class:`FilterError` when it cannot be checked here), and
:meth:`ScimFilter.matches` tells whether one returned resource satisfies it, so that a
resource outside the filter fails the pull rather than being reported or acted on.

What is evaluated: ``eq ne co sw ew gt ge lt le pr``, ``and``, ``or``, ``not ( … )``,
grouping, value filters ``emails[type eq "work"]`` and schema-qualified paths
(``urn:…:enterprise:2.0:User:department``). Attribute names are case-insensitive; string
values are compared case-insensitively except for the attributes RFC 7643 makes
``caseExact`` (``id``, ``externalId``, ``meta.version``). Two strings that both read as
ISO-8601 instants compare chronologically. A multi-valued attribute matches when any of its
values does (``ne``: when none is equal); a comparison on a multi-valued complex attribute
without a sub-attribute compares its ``value`` sub-attribute.
"""

from __future__ import annotations

import json
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from nhirecon.connectors.scim_schema import attribute

CORE_SCHEMAS: Final = frozenset(
    {
        "urn:ietf:params:scim:schemas:core:2.0:user",
        "urn:ietf:params:scim:schemas:core:2.0:group",
    }
)
"""A path qualified by a core schema names a top-level attribute."""
OPERATORS: Final = frozenset({"eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"})
ORDERING: Final = frozenset({"gt", "ge", "lt", "le"})
SUBSTRING: Final = frozenset({"co", "sw", "ew"})
CASE_EXACT: Final = frozenset({"id", "externalid", "meta.version"})
"""Attributes (``name`` or ``name.sub``, folded) whose values RFC 7643 compares exactly."""
NEVER_RETURNED: Final = frozenset({"password"})
"""Attributes a service never returns (RFC 7643 §4.1.1): no returned resource can show them."""
MAX_DEPTH: Final = 32
"""Nested groups and negations allowed in one filter."""

_TOKEN: Final = re.compile(
    r"""\s*(?:
      (?P<punct>[()\[\]])
    | (?P<string>"(?:[^"\\]|\\.)*")
    | (?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)(?![\w$:.-])
    | (?P<word>[A-Za-z_$][\w$:.-]*)
    )""",
    re.VERBOSE,
)
_NAME: Final = re.compile(r"[A-Za-z_$][\w$-]*")
_INSTANT: Final = re.compile(r"\d{4}-\d{2}-\d{2}T")


class FilterError(ValueError):
    """A filter that cannot be parsed, or cannot be checked on the resources returned."""


@dataclass(frozen=True)
class AttrPath:
    """``[schema:]name[.sub]``, as written."""

    schema: str | None
    name: str
    sub: str | None
    text: str

    @property
    def key(self) -> str:
        """``name`` or ``name.sub``, folded: how :data:`CASE_EXACT` names it."""
        return f"{self.name}.{self.sub}".casefold() if self.sub else self.name.casefold()


@dataclass(frozen=True)
class Compare:
    path: AttrPath
    op: str
    value: str | int | float | bool | None


@dataclass(frozen=True)
class Present:
    path: AttrPath


@dataclass(frozen=True)
class Not:
    expr: Node


@dataclass(frozen=True)
class Logical:
    op: str
    """``and`` or ``or``."""
    terms: tuple[Node, ...]


@dataclass(frozen=True)
class ValuePath:
    """``attr[filter]``: some value of ``attr`` satisfies the inner filter."""

    path: AttrPath
    inner: Node


Node = Compare | Present | Not | Logical | ValuePath


@dataclass(frozen=True)
class ScimFilter:
    """A parsed filter, evaluated on JSON resources."""

    text: str
    node: Node

    def matches(self, resource: Mapping[str, Any]) -> bool:
        return _eval(self.node, resource)


def compile_filter(text: str) -> ScimFilter:
    """Parse ``text``; :class:`FilterError` says why it cannot be checked locally."""
    parser = _Parser(_tokens(text))
    node = parser.filter(in_brackets=False, depth=0)
    if parser.peek() is not None:
        raise FilterError(f"unexpected {parser.peek()!r} after a complete filter")
    return ScimFilter(text, node)


# --- parsing ------------------------------------------------------------------------------


def _tokens(text: str) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    position = 0
    text = text.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise FilterError(f"cannot read the filter at {text[position:][:20]!r}")
        kind = match.lastgroup
        assert kind is not None
        found.append((kind, match.group(kind)))
        position = match.end()
    if not found:
        raise FilterError("the filter is empty")
    return found


class _Parser:
    """Recursive descent over the ABNF of RFC 7644 §3.4.2.2 (``not`` > ``and`` > ``or``)."""

    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens = tokens
        self.index = 0

    def peek(self) -> str | None:
        return self.tokens[self.index][1] if self.index < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        if self.index >= len(self.tokens):
            raise FilterError("the filter ends too early")
        token = self.tokens[self.index]
        self.index += 1
        return token

    def expect(self, text: str) -> None:
        _kind, value = self.take()
        if value != text:
            raise FilterError(f"expected {text!r}, found {value!r}")

    def keyword(self, *words: str) -> str | None:
        value = self.peek()
        if value is not None and self.tokens[self.index][0] == "word":
            folded = value.casefold()
            if folded in words:
                return folded
        return None

    def filter(self, *, in_brackets: bool, depth: int) -> Node:
        if depth > MAX_DEPTH:
            raise FilterError(f"more than {MAX_DEPTH} nested groups")
        terms = [self.conjunction(in_brackets=in_brackets, depth=depth)]
        while self.keyword("or"):
            self.index += 1
            terms.append(self.conjunction(in_brackets=in_brackets, depth=depth))
        return terms[0] if len(terms) == 1 else Logical("or", tuple(terms))

    def conjunction(self, *, in_brackets: bool, depth: int) -> Node:
        terms = [self.unary(in_brackets=in_brackets, depth=depth)]
        while self.keyword("and"):
            self.index += 1
            terms.append(self.unary(in_brackets=in_brackets, depth=depth))
        return terms[0] if len(terms) == 1 else Logical("and", tuple(terms))

    def unary(self, *, in_brackets: bool, depth: int) -> Node:
        following = self.tokens[self.index + 1][1] if self.index + 1 < len(self.tokens) else None
        if self.keyword("not") and following == "(":
            self.index += 2
            inner = self.filter(in_brackets=in_brackets, depth=depth + 1)
            self.expect(")")
            return Not(inner)
        kind, value = self.take()
        if value == "(":
            inner = self.filter(in_brackets=in_brackets, depth=depth + 1)
            self.expect(")")
            return inner
        if kind != "word":
            raise FilterError(f"expected an attribute, found {value!r}")
        path = _attr_path(value)
        if self.peek() == "[":
            if in_brackets or path.sub:
                raise FilterError(f"{value}[…]: a value filter cannot be nested or follow .sub")
            self.index += 1
            inner = self.filter(in_brackets=True, depth=depth + 1)
            self.expect("]")
            return ValuePath(path, inner)
        op_kind, op = self.take()
        op = op.casefold()
        if op_kind == "word" and op == "pr":
            return Present(path)
        if op_kind != "word" or op not in OPERATORS:
            raise FilterError(f"expected an operator after {value}, found {op!r}")
        literal = _literal(*self.take())
        _check_operands(path, op, literal)
        return Compare(path, op, literal)


def _attr_path(text: str) -> AttrPath:
    schema = None
    rest = text
    if ":" in text:
        schema, _, rest = text.rpartition(":")
    name, _, sub = rest.partition(".")
    for part in (name, sub) if sub else (name,):
        if not _NAME.fullmatch(part):
            raise FilterError(f"{text!r} is not an attribute path")
    if name.casefold() in NEVER_RETURNED:
        raise FilterError(
            f"{text}: the service never returns this attribute (RFC 7643), so the resources"
            " it returns cannot be checked against the filter"
        )
    return AttrPath(schema, name, sub or None, text)


def _literal(kind: str, value: str) -> str | int | float | bool | None:
    if kind in ("string", "number"):
        try:
            parsed = json.loads(value)
        except ValueError:
            raise FilterError(f"{value} is not a valid {kind}") from None
        assert isinstance(parsed, str | int | float)
        return parsed
    literals: dict[str, bool | None] = {"true": True, "false": False, "null": None}
    if kind == "word" and value.casefold() in literals:
        return literals[value.casefold()]
    raise FilterError(f"expected a value (a string, number, true, false or null), found {value!r}")


def _check_operands(path: AttrPath, op: str, value: object) -> None:
    if op in ORDERING and (value is None or isinstance(value, bool)):
        raise FilterError(f"{path.text} {op} {json.dumps(value)}: {op} cannot order that value")
    if op in SUBSTRING and not isinstance(value, str):
        raise FilterError(f"{path.text} {op} {json.dumps(value)}: {op} needs a string")


# --- evaluation ---------------------------------------------------------------------------


def _holder(resource: Mapping[str, Any], path: AttrPath) -> Any:
    """The object the path's attribute is read from: the resource, or an extension's."""
    if path.schema is None or path.schema.casefold() in CORE_SCHEMAS:
        return resource
    return attribute(resource, path.schema)


def _flat(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list):
        return [item for item in value if item is not None]
    return [value]


def _values(resource: Mapping[str, Any], path: AttrPath) -> list[Any]:
    top = attribute(_holder(resource, path), path.name)
    if path.sub is None:
        return _flat(top)
    sub = path.sub
    return [value for item in _flat(top) for value in _flat(attribute(item, sub))]


def _present(value: Any) -> bool:
    if isinstance(value, str):
        return bool(value)
    if isinstance(value, Mapping):
        return any(_present(item) for item in value.values())
    if isinstance(value, list):
        return any(_present(item) for item in value)
    return value is not None


def _instant(text: str) -> datetime | None:
    if not _INSTANT.match(text):
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


_ORDER: Final[Mapping[str, Callable[[Any, Any], bool]]] = dict(
    eq=operator.eq, ne=operator.ne, gt=operator.gt, ge=operator.ge, lt=operator.lt, le=operator.le
)


def _compare(actual: Any, op: str, expected: Any, exact: bool) -> bool:
    """One value against the filter's value; values of different types never match."""
    if isinstance(expected, bool) or isinstance(actual, bool):
        same = isinstance(expected, bool) and isinstance(actual, bool) and actual is expected
        return same if op == "eq" else (not same if op == "ne" else False)
    if isinstance(expected, int | float):
        if not isinstance(actual, int | float):
            return op == "ne"
        return _ORDER[op](actual, expected) if op in _ORDER else False
    if not isinstance(actual, str) or not isinstance(expected, str):
        return op == "ne"
    if op not in SUBSTRING:
        moments = _instant(actual), _instant(expected)
        if moments[0] is not None and moments[1] is not None:
            return _ORDER[op](moments[0], moments[1])
    left, right = (actual, expected) if exact else (actual.casefold(), expected.casefold())
    if op == "co":
        return right in left
    if op == "sw":
        return left.startswith(right)
    if op == "ew":
        return left.endswith(right)
    return _ORDER[op](left, right)


def _eval(node: Node, resource: Mapping[str, Any]) -> bool:
    if isinstance(node, Logical):
        results = (_eval(term, resource) for term in node.terms)
        return all(results) if node.op == "and" else any(results)
    if isinstance(node, Not):
        return not _eval(node.expr, resource)
    if isinstance(node, Present):
        return any(_present(value) for value in _values(resource, node.path))
    if isinstance(node, ValuePath):
        items = _flat(attribute(_holder(resource, node.path), node.path.name))
        return any(
            _eval(node.inner, item if isinstance(item, Mapping) else {"value": item})
            for item in items
        )
    values = [
        attribute(value, "value") if isinstance(value, Mapping) else value
        for value in _values(resource, node.path)
    ]
    values = [value for value in values if value is not None]
    if node.value is None:  # eq null: no value; ne null: some value
        return (not values) if node.op == "eq" else (bool(values) if node.op == "ne" else False)
    exact = node.path.key in CASE_EXACT
    if node.op == "ne":
        return all(_compare(value, "ne", node.value, exact) for value in values)
    return any(_compare(value, node.op, node.value, exact) for value in values)
