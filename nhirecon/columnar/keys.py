"""What the columnar engine knows of each export, and the key columns correlation joins on."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from nhirecon.columnar.export import Export
from nhirecon.columnar.values import Field, cell_sql
from nhirecon.core.allowlist import entry_key
from nhirecon.core.policy import CorrelationRule
from nhirecon.core.values import key_for

if TYPE_CHECKING:
    import duckdb

KeyReader = Callable[[str], str | None]
"""A raw cell → its key, in Python (for the cells that are not plain)."""


@dataclass(frozen=True)
class Input:
    """One export and its mapped fields."""

    export: Export
    fields: Mapping[str, Field]
    nulls: frozenset[str]
    """Its ``null_values`` words, for the keys made in Python (see :func:`python_key`)."""

    @property
    def table(self) -> str:
        return self.export.table


@dataclass(frozen=True)
class TargetInput:
    input: Input
    correlate: Sequence[CorrelationRule]
    compare: Sequence[str]
    named: frozenset[str]
    """The keys of the allowlist entries (exceptions and protected) for this target."""


def column(prefix: str, name: str) -> str:
    """The SQL name of a field's column. A field may be any name the config maps, and
    DuckDB compares names without case (``Email`` would be ``email``): the name is spelt
    in hexadecimal."""
    return f'"{prefix}:{name.encode("utf-8").hex()}"'


class Keys:
    """Key columns (a field's values under a comparison mode), added to ``{table}_v`` on
    first use: the plain cells keyed in SQL, the rest by :func:`key_for` in Python."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self._made: set[tuple[str, str, str]] = set()

    def key(self, one: Input, name: str, mode: str) -> str:
        """The SQL name of the key column (``NULL`` when the field is not mapped)."""
        field = one.fields.get(name)
        if field is None:
            return "NULL::VARCHAR"
        key = column("k", f"{name}:{mode}")
        if (one.table, name, mode) in self._made:
            return f"{one.table}_v.{key}"
        self._made.add((one.table, name, mode))
        value = column("v", name)
        plain_key = f"lower({value})" if mode == "casefold" else value
        cells = self.con.execute(
            f"SELECT DISTINCT {field.cell} FROM {one.table} WHERE NOT ({field.plain})"
        ).fetchall()
        read = python_key(one.nulls, mode)
        pairs = [(cell, read(cell)) for (cell,) in cells]
        self.con.execute(f"ALTER TABLE {one.table}_v ADD COLUMN {key} VARCHAR")
        self.con.execute(f"UPDATE {one.table}_v SET {key} = {plain_key} WHERE {column('p', name)}")
        if pairs:
            self.con.execute(
                f"""
                UPDATE {one.table}_v SET {key} = k.key
                FROM (SELECT unnest($cells) AS cell, unnest($keys) AS key) AS k, {one.table} AS t
                WHERE t.n = {one.table}_v.n AND NOT {one.table}_v.{column("p", name)}
                  AND k.cell = {cell_sql(field.index, "t")}
                """,
                {"cells": [cell for cell, _ in pairs], "keys": [found for _, found in pairs]},
            )
        return f"{one.table}_v.{key}"


def python_key(nulls: frozenset[str], mode: str) -> KeyReader:
    """The key of a raw text cell as the mapping and correlation make it: trimmed, a
    ``null_values`` word is no value, then :func:`key_for`."""

    def key(cell: str) -> str | None:
        value = cell.strip()
        if not value or value.casefold() in nulls:
            return None
        return key_for(value, mode)

    return key


def entry_keys(entries: Iterable[str]) -> frozenset[str]:
    return frozenset(key for key in map(entry_key, entries) if key is not None)
