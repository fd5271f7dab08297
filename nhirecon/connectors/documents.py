"""JSON and YAML documents that hold their records somewhere inside: the ``key`` option
that says where, and the next-page markers that show a file is one page of several
(SPEC §3.1)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from nhirecon.connectors.context import ConnectorContext
from nhirecon.connectors.files import option_key
from nhirecon.errors import ConfigError, DataError

PAGE_MARKERS = (
    "@odata.nextLink",
    "nextLink",
    "next",
    "links.next",
    "nextPageToken",
    "NextToken",
    "response_metadata.next_cursor",
)
"""Where an API response says that more pages follow (Microsoft Graph, JSON:API and
others, Google, AWS, Slack): a file holding one is one page of several."""


def check_key(key: str | None, context: ConnectorContext) -> str | None:
    """The ``key`` option: ``None``, or a name or a dotted path ``a.b``."""
    if key is not None and (not key.strip() or any(not part for part in key.split("."))):
        raise ConfigError(
            f"expected the name of a member, or a path such as `data.users`; got {key!r}",
            key=option_key(context, "key"),
        )
    return key


def page_marker(node: object) -> str | None:
    """The next-page marker ``node`` (an object of a document) carries with a value."""
    if not isinstance(node, Mapping):
        return None
    for marker in PAGE_MARKERS:
        value: Any = node.get(marker)
        if value is None and "." in marker:
            outer, inner = marker.split(".", 1)
            holder = node.get(outer)
            value = holder.get(inner) if isinstance(holder, Mapping) else None
        if value not in (None, "", False, [], {}):
            return marker
    return None


def refuse_page(path: Path, node: object) -> None:
    """Refuse a document that is one page of a listing (SPEC §3.1)."""
    marker = page_marker(node)
    if marker is not None:
        raise DataError(
            f"{path}: holds one page of several (`{marker}` is set), not the whole listing;"
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
