"""JSON exports: an array of objects, JSON Lines, or a saved SCIM ListResponse."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from nhirecon.connectors import paths, scim_schema
from nhirecon.connectors.base import Connector, ConnectorContext, Lookup, RawRow
from nhirecon.connectors.files import DEFAULT_ENCODING, decode_error, open_text
from nhirecon.core.model import Origin
from nhirecon.core.nesting import TOO_DEEP, too_deep
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


class JsonConnector(Connector):
    name = "json"
    description = "A JSON array of objects, JSON Lines, or a saved SCIM ListResponse."

    def __init__(
        self, *, context: ConnectorContext, path: str, encoding: str = DEFAULT_ENCODING
    ) -> None:
        super().__init__(context=context)
        self.path: Path = context.resolve(path)
        self.encoding = encoding
        self.is_scim = False

    def defaults(self) -> Mapping[str, str]:
        return scim_schema.DEFAULT_MAP if self.is_scim else self.default_map

    def default_origin(self, external_id: str | None) -> Origin:
        return scim_schema.scim_origin(external_id) if self.is_scim else Origin.UNKNOWN

    def rows(self) -> Iterator[RawRow]:
        path = self.path
        with open_text(path, self.encoding) as handle:
            try:
                head = handle.read(1)
                while head and head.isspace():
                    head = handle.read(1)
                if not head:
                    raise DataError(f"{path}: empty file")
                if head == "[":
                    yield from self._array(head + handle.read())
                    return
                first_line = head + handle.readline()
                if _is_record_line(first_line.strip()):
                    yield from self._lines(first_line, handle)
                else:
                    yield from self._document(first_line + handle.read())
            except UnicodeDecodeError as exc:
                raise decode_error(path, exc, self.encoding) from None

    def _parse(self, text: str, where: str) -> Any:
        """Parse JSON text; ``where`` names a JSON Lines line, else the error's line is used."""
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            at = where or f":{exc.lineno}"
            raise DataError(
                f"{self.path}{at}: invalid JSON: {exc.msg} (column {exc.colno})"
            ) from None
        except RecursionError:
            raise DataError(f"{self.path}{where}: {TOO_DEEP}") from None

    def _array(self, text: str) -> Iterator[RawRow]:
        items = self._parse(text, "")
        yield from self._objects(items, "")

    def _objects(self, items: list[Any], prefix: str) -> Iterator[RawRow]:
        for index, item in enumerate(items):
            where = f"{self.path}{prefix}[{index}]"
            if not isinstance(item, dict):
                raise DataError(f"{where}: expected an object, got {type(item).__name__}")
            if too_deep(item):
                raise DataError(f"{where}: {TOO_DEEP}")
            yield RawRow(where, scim_schema.lookup(item) if self.is_scim else dotted_lookup(item))

    def _document(self, text: str) -> Iterator[RawRow]:
        document = self._parse(text, "")
        if not isinstance(document, dict):
            raise DataError(f"{self.path}: expected an array, JSON Lines or a ListResponse")
        if not _is_list_response(document):
            raise DataError(
                f"{self.path}: a single object that is not a SCIM ListResponse; "
                "expected an array, JSON Lines or a ListResponse"
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
        yield from self._objects(resources, ".Resources")

    def _lines(self, first_line: str, rest: Iterator[str]) -> Iterator[RawRow]:
        for number, line in enumerate(_chain(first_line, rest), start=1):
            if not line.strip():
                continue
            item = self._parse(line, f":{number}")
            if not isinstance(item, dict):
                raise DataError(f"{self.path}:{number}: expected an object on each line")
            if too_deep(item):
                raise DataError(f"{self.path}:{number}: {TOO_DEEP}")
            yield RawRow(f"{self.path}:{number}", dotted_lookup(item))


def _is_record_line(line: str) -> bool:
    """Whether a first line is a whole record object (so the file is JSON Lines)."""
    if not (line.startswith("{") and line.endswith("}")):
        return False
    try:
        item = json.loads(line)
    except (json.JSONDecodeError, RecursionError):
        return False
    return isinstance(item, dict) and not _is_list_response(item)


def _is_list_response(document: dict[str, Any]) -> bool:
    schemas = document.get("schemas")
    listed = isinstance(schemas, list) and scim_schema.LIST_RESPONSE in schemas
    return listed or "Resources" in document


def _chain(first: Any, rest: Iterator[Any]) -> Iterator[Any]:
    yield first
    yield from rest
