"""JSON exports: an array of objects, JSON Lines, a saved SCIM ListResponse, or an API
response that holds its records under one key (``key: value`` for Microsoft Graph).

A response that is one page of several (it carries a next-page marker such as
``@odata.nextLink``) is refused: read as it is, it would pass for the whole estate.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Final

from nhirecon.connectors import documents, files, paths, scim_manager, scim_schema
from nhirecon.connectors.base import Connector, ConnectorContext, Lookup, RawRow
from nhirecon.connectors.context import Has
from nhirecon.connectors.json_lines_of import Elements, locate
from nhirecon.core import strict_json
from nhirecon.core.model import Origin
from nhirecon.core.nesting import MAX_DEPTH, TOO_DEEP, too_deep
from nhirecon.errors import DataError


def dotted_lookup(item: Mapping[str, Any]) -> Lookup:
    """Reads ``name`` or, failing that, the path ``a.b.c`` of nested objects, with list
    items chosen by ``[n]`` or ``[key=value]`` (see :mod:`nhirecon.connectors.paths`)."""

    def lookup(path: str) -> object:
        if path in item:
            return item[path]
        parts = paths.compile_path(path)
        return None if parts is None else paths.walk(item, parts)

    return lookup


def dotted_has(item: Mapping[str, Any]) -> Has:
    """Whether ``item`` holds the name or path at all, even as ``null`` (``"lastLogin":
    null`` is a field that exists and is empty, SPEC §3.2)."""

    def has(path: str) -> bool:
        if path in item:
            return True
        parts = paths.compile_path(path)
        if parts is None:
            return False
        kind, key, _ = parts[-1]
        if kind != paths.NAME:
            return paths.walk(item, parts) not in (None, [])
        node = paths.walk(item, parts[:-1]) if len(parts) > 1 else item
        if isinstance(node, dict):
            return key in node
        return isinstance(node, list) and any(isinstance(i, dict) and key in i for i in node)

    return has


def row(where: str, item: Mapping[str, Any]) -> RawRow:
    """A record of a schema-less export (JSON, YAML) as a raw row."""
    return RawRow(where, dotted_lookup(item), dotted_has(item))


class JsonConnector(Connector):
    name = "json"
    description = (
        "A JSON array of objects, JSON Lines, a saved SCIM ListResponse, or the list under"
        " `key:` of a JSON object (a Graph `value`); one page of several is refused."
    )

    def __init__(
        self,
        *,
        context: ConnectorContext,
        path: str,
        key: str | None = None,
        encoding: str = files.DEFAULT_ENCODING,
    ) -> None:
        super().__init__(context=context)
        self.path: Path = context.resolve(path)
        self.key = documents.check_key(key, context)
        self.encoding = files.check_encoding(encoding, files.option_key(context, "encoding"))
        self.is_scim = False

    def defaults(self) -> Mapping[str, str]:
        return scim_schema.DEFAULT_MAP if self.is_scim else self.default_map

    def default_origin(self, external_id: str | None) -> Origin:
        return scim_schema.scim_origin(external_id) if self.is_scim else Origin.UNKNOWN

    def rows(self) -> Iterator[RawRow]:
        path = self.path
        whole = files.regular_file(path).st_size <= files.MAX_DOCUMENT_BYTES
        longest = files.MAX_DOCUMENT_BYTES if whole else files.MAX_LINE_BYTES  # JSON Lines
        with files.reading(path, self.encoding, max_line=longest) as handle:
            newlines, tail, head = 0, 0, handle.read(1)
            while head and head in JSON_WHITESPACE:  # counted: lines count from the top
                newlines, tail = (newlines + 1, 0) if head == "\n" else (newlines, tail + 1)
                head = handle.read(1)
            # what the parser needs of it to give the same lines and columns; a file too
            # large to be one document is refused as such, and gets none
            blank = "\n" * newlines + " " * tail if whole else ""
            if not head:
                raise DataError(f"{path}: empty file")
            if head == "[" and self.key is None:
                yield from self._array(files.read_document(path, handle, blank + head))
                return
            first_line = head + handle.readline()
            if self.key is None and _is_record_line(first_line.strip()):
                yield from self._lines(first_line, handle, 1 + newlines)
            else:
                yield from self._document(files.read_document(path, handle, blank + first_line))

    def _parse(self, text: str, where: str) -> Any:
        """Parse JSON text; ``where`` names a JSON Lines line, else the error's line is used."""
        try:
            return strict_json.loads(text)
        except json.JSONDecodeError as exc:
            at = where or f":{exc.lineno}"
            raise DataError(
                f"{self.path}{at}: invalid JSON: {exc.msg} (column {exc.colno})"
            ) from None
        except ValueError as exc:  # a number Python will not convert (over 4,300 digits)
            raise DataError(f"{self.path}{where}: unreadable JSON: {exc}") from None
        except RecursionError:
            raise DataError(f"{self.path}{where}: {TOO_DEEP}") from None

    def _array(self, text: str) -> Iterator[RawRow]:
        items = self._parse(text, "")
        yield from self._objects(items, "", locate(text, (), len(items)))

    def _objects(self, items: list[Any], prefix: str, found: Elements | None) -> Iterator[RawRow]:
        """Each record, located by its line when known, else by its place in the list. A
        record whose text opens more brackets than the nesting limit, or whose text was
        not found, is walked to see whether it nests too deeply."""
        lines, opened = found if found else ([], [])
        managers: Mapping[str, str | None] = {}
        if self.is_scim and scim_manager.wanted(self.context, scim_schema.DEFAULT_MAP):
            managers = scim_manager.addresses(items)  # ids of users outside it stay ids
        for index, item in enumerate(items):
            where = f"{self.path}:{lines[index]}" if lines else f"{self.path}{prefix}[{index}]"
            if not isinstance(item, dict):
                raise DataError(f"{where}: expected an object, got {type(item).__name__}")
            if (not opened or opened[index] > MAX_DEPTH) and too_deep(item):
                raise DataError(f"{where}: {TOO_DEEP}")
            if self.is_scim:
                yield RawRow(where, scim_schema.lookup(scim_manager.resolved(item, managers)))
            else:
                yield row(where, item)

    def _document(self, text: str) -> Iterator[RawRow]:
        document = self._parse(text, "")
        key = self.key
        if key is not None and not (key == "Resources" and _is_list_response(document)):
            items = documents.records_under(self.path, document, key)
            members = (key,) if isinstance(document, dict) and key in document else key.split(".")
            yield from self._objects(items, f".{key}", locate(text, members, len(items)))
            return
        if not isinstance(document, dict):
            raise DataError(f"{self.path}: expected an array, JSON Lines or a ListResponse")
        documents.refuse_page(self.path, document)
        if not _is_list_response(document):
            lists = [name for name, value in document.items() if isinstance(value, list)]
            named = f" (here: `key: {lists[0]}`)" if len(lists) == 1 else ""
            raise DataError(
                f"{self.path}: a single object that is not a SCIM ListResponse; expected an"
                " array, JSON Lines or a ListResponse, or set the connector's `key` option to"
                f" the member of the object that holds the records{named}"
            )
        self.is_scim = True
        resources = document.get("Resources")
        total = document.get("totalResults")
        if resources is None:
            if total in (0, None):
                return
            raise DataError(f"{self.path}: ListResponse has totalResults {total} but no Resources")
        if not isinstance(resources, list):
            raise DataError(f"{self.path}: ListResponse Resources is not an array")
        if isinstance(total, int) and total != len(resources):
            raise DataError(
                f"{self.path}: ListResponse holds {len(resources)} resources but totalResults "
                f"says {total} (a single page of a larger listing?)"
            )
        found = locate(text, ("Resources",), len(resources))
        yield from self._objects(resources, ".Resources", found)

    def _lines(self, first_line: str, rest: Iterator[str], first: int) -> Iterator[RawRow]:
        """JSON Lines, ``first_line`` being line ``first`` of the file."""
        for number, line in enumerate(_chain(first_line, rest), start=first):
            if not line.strip():
                continue
            item = self._parse(line, f":{number}")
            if not isinstance(item, dict):
                raise DataError(f"{self.path}:{number}: expected an object on each line")
            if too_deep(item):
                raise DataError(f"{self.path}:{number}: {TOO_DEEP}")
            yield row(f"{self.path}:{number}", item)


def _is_record_line(line: str) -> bool:
    """Whether a first line is a whole record object (so the file is JSON Lines), not a
    whole document on one line (a ListResponse, a page of an API listing, or an OData
    answer such as Microsoft Graph's, which says so in ``@odata.context``)."""
    if not (line.startswith("{") and line.endswith("}")):
        return False
    try:  # the shape only: the values are read, strictly, when the lines are
        item = json.loads(line)
    except (ValueError, RecursionError):  # JSONDecodeError is a ValueError
        return False
    return (
        isinstance(item, dict)
        and not _is_list_response(item)
        and "@odata.context" not in item
        and documents.page_marker(item) is None
    )


def _is_list_response(document: object) -> bool:
    if not isinstance(document, dict):
        return False
    schemas = document.get("schemas")
    listed = isinstance(schemas, list) and scim_schema.LIST_RESPONSE in schemas
    return listed or "Resources" in document


JSON_WHITESPACE: Final = frozenset(" \t\n\r")
"""What JSON allows around a value (RFC 8259, section 2): other spaces are not JSON."""


def _chain(first: Any, rest: Iterator[Any]) -> Iterator[Any]:
    yield first
    yield from rest
