"""JSON and YAML documents that hold their records somewhere inside: the ``key`` option
that says where, and the next-page markers that show a file is one page of several
(SPEC §3.1)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from nhirecon.connectors.context import ConnectorContext
from nhirecon.connectors.files import option_key
from nhirecon.errors import ConfigError, DataError


def _set(value: Any) -> bool:
    return value not in (None, "", False, [], {})


def _is(flag: bool) -> Callable[[Any], bool]:
    """A flag's value, as JSON writes it, or as a YAML export reads it (as written)."""
    word = "true" if flag else "false"
    return lambda value: value is flag or (isinstance(value, str) and value.casefold() == word)


PAGE_MARKERS: tuple[tuple[str, Callable[[Any], bool], str], ...] = (
    ("@odata.nextLink", _set, "is set"),  # Microsoft Graph (OData 4)
    ("odata.nextLink", _set, "is set"),  # Azure AD Graph (OData 3)
    ("nextLink", _set, "is set"),  # Azure Resource Manager
    ("next", _set, "is set"),
    ("links.next", _set, "is set"),  # JSON:API
    ("_links.next", _set, "is set"),  # Confluence, HAL
    ("nextPageToken", _set, "is set"),  # Google
    ("NextToken", _set, "is set"),  # AWS
    ("IsTruncated", _is(True), "is true"),  # AWS IAM (with `Marker`)
    ("isLast", _is(False), "is false"),  # Jira, Atlassian
    ("pageInfo.hasNextPage", _is(True), "is true"),  # GraphQL connections (GitHub)
    ("response_metadata.next_cursor", _set, "is set"),  # Slack
)
"""Where an API response says that more pages follow: the member (or a path ``a.b`` of
members, found in any case), what its value says when it does, and how a message says so.
A file holding one is one page of several."""


def check_key(key: str | None, context: ConnectorContext) -> str | None:
    """The ``key`` option: ``None``, or a name or a dotted path ``a.b``."""
    if key is not None and (not key.strip() or any(not part for part in key.split("."))):
        raise ConfigError(
            f"expected the name of a member, or a path such as `data.users`; got {key!r}",
            key=option_key(context, "key"),
        )
    return key


def page_marker(node: object) -> str | None:
    """How ``node`` (an object of a document) says that more pages follow (``isLast`` is
    false), by :data:`PAGE_MARKERS`; ``None`` when it does not."""
    if not isinstance(node, Mapping):
        return None
    members = _by_name(node)
    for marker, more, said in PAGE_MARKERS:
        value: Any = members.get(marker.casefold())
        if value is None and "." in marker:
            outer, inner = marker.split(".", 1)
            holder = members.get(outer.casefold())
            value = _by_name(holder).get(inner.casefold()) if isinstance(holder, Mapping) else None
        if more(value):
            return f"`{marker}` {said}"
    return None


def _by_name(node: Mapping[Any, Any]) -> dict[str, Any]:
    """The members of ``node`` by their name in any case (the first of names alike)."""
    members: dict[str, Any] = {}
    for name, value in node.items():
        if isinstance(name, str):
            members.setdefault(name.casefold(), value)
    return members


def refuse_page(path: Path, node: object) -> None:
    """Refuse a document that is one page of a listing (SPEC §3.1)."""
    marker = page_marker(node)
    if marker is not None:
        raise DataError(
            f"{path}: holds one page of several ({marker}), not the whole listing;"
            " follow it to the last page and save every page's records together (one"
            " JSON array, or one list under `key`)"
        )


def records_under(path: Path, document: object, key: str) -> list[Any]:
    """The list at ``key`` in ``document``: the member named ``key`` itself, or the path
    ``a.b`` of nested objects; a missing key or a value that is not a list is an error.
    An object on the way that carries a next-page marker is refused."""
    refuse_page(path, document)
    if isinstance(document, Mapping) and key in document:
        found = document[key]
    else:
        found, walked = document, ""
        for part in key.split("."):
            if not isinstance(found, Mapping):
                raise DataError(
                    f"{path}: key {key!r}: {walked or 'the document'} is {_a(found)},"
                    f" not an object with {part!r} in it"
                )
            refuse_page(path, found)
            if part not in found:
                raise DataError(f"{path}: key {key!r}: {walked or 'the document'} has no {part!r}")
            found = found[part]
            walked = f"{walked}.{part}" if walked else part
    if not isinstance(found, list):
        raise DataError(f"{path}: key {key!r} holds {_a(found)}, not a list of records")
    return found


def _a(value: object) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return f"a string ({value[:40]!r})"
    if isinstance(value, bool):
        return f"{str(value).lower()}"
    return (
        f"a number ({value!r})" if isinstance(value, int | float) else f"a {type(value).__name__}"
    )
