"""YAML inventories, such as a list of non-human identities kept in Git."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from nhirecon import yamlsafe
from nhirecon.connectors import documents, files
from nhirecon.connectors.base import Connector, ConnectorContext, RawRow
from nhirecon.connectors.json import row
from nhirecon.errors import DataError


class YamlConnector(Connector):
    name = "yaml"
    description = (
        "A YAML list of records, at the top level or under one key (`key:` names it,"
        " or a path `a.b`)."
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

    def rows(self) -> Iterator[RawRow]:
        with files.reading(self.path, self.encoding, max_line=files.MAX_DOCUMENT_BYTES) as handle:
            text = files.read_document(self.path, handle)
        try:
            document = yamlsafe.load(text, as_written=True)
        except yamlsafe.YamlError as exc:
            line = f":{exc.line}" if exc.line else ""
            raise DataError(f"{self.path}{line}: invalid YAML: {exc}") from None
        items, prefix = self._items(document.data)
        for index, item in enumerate(items):
            item_path = f"{prefix}[{index}]"
            line_number = document.lines.get(item_path)
            where = f"{self.path}:{line_number}" if line_number else f"{self.path}{item_path}"
            if not isinstance(item, dict):
                raise DataError(f"{where}: expected a mapping, got {type(item).__name__}")
            yield row(where, item)

    def _items(self, data: Any) -> tuple[list[Any], str]:
        if data is None:
            return [], ""
        if self.key is not None:
            return documents.records_under(self.path, data, self.key), self.key
        if isinstance(data, list):
            return data, ""
        if isinstance(data, dict):
            documents.refuse_page(self.path, data)
            lists = [name for name, value in data.items() if isinstance(value, list)]
            if len(lists) == 1:
                return data[lists[0]], str(lists[0])
        raise DataError(
            f"{self.path}: expected a list of records, or a mapping with one list"
            " (set the connector's `key` option to choose it)"
        )
