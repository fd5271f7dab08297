"""Web links in ``Link`` headers (RFC 8288): where the next page of a listing is.

Services that page by an opaque cursor (Okta, GitHub and others) announce the next page as
``Link: <https://…?after=…>; rel="next"``, in one header or several, often beside a
``rel="self"`` link. The listing ends where no ``next`` link comes. A header that cannot be
read is an error, never "no next page": read wrongly, one page would pass for the whole
estate.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final
from urllib.parse import urljoin

NEXT: Final = "next"
_SEPARATORS: Final = frozenset(";,")


class LinkError(ValueError):
    """A ``Link`` header that does not follow RFC 8288, or that points two ways at once."""


@dataclass(frozen=True)
class Link:
    """One link-value of a ``Link`` header."""

    target: str
    """The URI reference between ``<`` and ``>``, as written (maybe relative)."""
    rels: frozenset[str] = frozenset()
    """The relation types of its ``rel`` parameter, lower-cased (``rel="next last"``
    names two)."""
    params: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    """Its parameters by lower-cased name; only the first of a repeated name counts."""


def parse(value: str) -> list[Link]:
    """The links of one ``Link`` header value (several comma-separated link-values, as a
    header repeated and folded into one also reads); :class:`LinkError` when malformed."""
    links: list[Link] = []
    position, end = 0, len(value)
    while True:
        position = _skip(value, position, " \t,")
        if position >= end:
            return links
        if value[position] != "<":
            raise LinkError(f"expected '<' at character {position + 1}")
        close = value.find(">", position + 1)
        if close < 0:
            raise LinkError("a '<' is never closed by '>'")
        target = value[position + 1 : close].strip()
        params: dict[str, str] = {}
        position = _skip(value, close + 1, " \t")
        while position < end and value[position] == ";":
            name, found, position = _param(value, position + 1)
            params.setdefault(name, found)
            position = _skip(value, position, " \t")
        if position < end and value[position] != ",":
            raise LinkError(f"expected ';' or ',' at character {position + 1}")
        rels = frozenset(params.get("rel", "").casefold().split())
        links.append(Link(target, rels, MappingProxyType(params)))


def header_values(headers: Mapping[str, str], name: str = "Link") -> list[str]:
    """Every value of a header, however the mapping holds repeated headers: urllib3's
    ``HTTPHeaderDict`` lists them apart; a plain mapping holds them folded into one."""
    getlist = getattr(headers, "getlist", None)
    if callable(getlist):
        return [str(item) for item in getlist(name)]
    folded = name.casefold()
    return [value for key, value in headers.items() if key.casefold() == folded]


def targets(values: Iterable[str], rel: str) -> list[str]:
    """The targets of every link with relation type ``rel``, in order."""
    wanted = rel.casefold()
    return [link.target for value in values for link in parse(value) if wanted in link.rels]


def next_url(headers: Mapping[str, str], base: str) -> str | None:
    """The absolute URL of the next page, resolved against ``base`` (the page's own URL);
    ``None`` at the end of a listing. Links that point to two different next pages are a
    :class:`LinkError`: which of them to follow would be a guess."""
    found = list(dict.fromkeys(urljoin(base, t) for t in targets(header_values(headers), NEXT)))
    if len(found) > 1:
        raise LinkError(f'{len(found)} different rel="next" links')
    return found[0] if found else None


def _skip(value: str, position: int, characters: str) -> int:
    while position < len(value) and value[position] in characters:
        position += 1
    return position


def _param(value: str, position: int) -> tuple[str, str, int]:
    """One ``name[=value]`` link parameter from ``position``: (lower-cased name, value,
    where it ends)."""
    position = _skip(value, position, " \t")
    start = position
    while position < len(value) and value[position] not in _SEPARATORS | {"=", " ", "\t"}:
        position += 1
    name = value[start:position].casefold()
    if not name:
        raise LinkError(f"a parameter without a name at character {start + 1}")
    position = _skip(value, position, " \t")
    if position >= len(value) or value[position] != "=":
        return name, "", position
    position = _skip(value, position + 1, " \t")
    if position < len(value) and value[position] == '"':
        return (name, *_quoted(value, position + 1))
    start = position
    while position < len(value) and value[position] not in _SEPARATORS:
        position += 1
    return name, value[start:position].strip(), position


def _quoted(value: str, position: int) -> tuple[str, int]:
    """A quoted-string's content from just after its opening quote, and where it ends."""
    out: list[str] = []
    while position < len(value):
        char = value[position]
        if char == "\\" and position + 1 < len(value):
            out.append(value[position + 1])
            position += 2
        elif char == '"':
            return "".join(out), position + 1
        else:
            out.append(char)
            position += 1
    raise LinkError("a quoted parameter value is never closed")
