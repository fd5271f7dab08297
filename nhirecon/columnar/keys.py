"""What the columnar engine knows of each export, and the key columns correlation joins on."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from nhirecon.columnar.export import Export
from nhirecon.columnar.values import Field
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
    sought: frozenset[str] = frozenset()
    """Keys of accounts asked for by name (``explain``): when there are any, the target
    keeps every account whose id, username or email has one of them, case-folded, and
    the rows the correlation of those depends on (look-alikes, allowlist entries, the
    other accounts of an identity), not the rows the finding rules need."""


def column(prefix: str, name: str) -> str:
    """The SQL name of a field's column. A field may be any name the config maps, and
    DuckDB compares names without case (``Email`` would be ``email``): the name is spelt
    in hexadecimal."""
    return f'"{prefix}:{name.encode("utf-8").hex()}"'


class Keys:
    """Key columns (a field's values under a comparison mode): each one wanted is made with
    its input's ``{table}_v`` (see :meth:`columns`), the plain cells keyed in SQL, the rest
    by :func:`key_for` in Python, once per distinct cell."""

    def __init__(self) -> None:
        self._wanted: dict[str, dict[tuple[str, str], None]] = {}

    def want(self, one: Input, name: str, mode: str) -> None:
        """Asks for the key column of ``name`` under ``mode`` (nothing if not mapped)."""
        if name in one.fields:
            self._wanted.setdefault(one.table, {})[(name, mode)] = None

    def columns(
        self, con: duckdb.DuckDBPyConnection, one: Input, values: str
    ) -> tuple[list[str], str]:
        """SQL for the key columns of ``one`` over ``values`` (a relation with each field's
        ``p:`` and ``v:`` columns and its raw ``c:`` cell): the select list, and the joins
        it needs (a table of the keys Python made for the cells that are not plain, made
        here on ``con``)."""
        selected: list[str] = []
        joins: list[str] = []
        for number, (name, mode) in enumerate(self._wanted.get(one.table, {})):
            field = one.fields[name]
            value = f"{values}.{column('v', name)}"
            plain = f"lower({value})" if mode == "casefold" else value
            cells = con.execute(
                f"SELECT DISTINCT {field.cell} FROM {one.table} WHERE NOT ({field.plain})"
            ).fetchall()
            read = python_key(one.nulls, mode)
            pairs = [(cell, read(cell)) for (cell,) in cells]
            other = "NULL"
            if pairs:
                made = f"{one.table}_pk{number}"
                con.execute(
                    f"CREATE TABLE {made} AS SELECT unnest($cells) AS cell, unnest($keys) AS key",
                    {"cells": [cell for cell, _ in pairs], "keys": [found for _, found in pairs]},
                )
                joins.append(
                    f"LEFT JOIN {made} ON NOT {values}.{column('p', name)}"
                    f" AND {made}.cell = {values}.{column('c', name)}"
                )
                other = f"{made}.key"
            selected.append(
                f"CASE WHEN {values}.{column('p', name)} THEN {plain} ELSE {other} END"
                f" AS {column('k', f'{name}:{mode}')}"
            )
        return selected, " ".join(joins)

    def key(self, one: Input, name: str, mode: str) -> str:
        """The SQL name of a wanted key column (``NULL`` when the field is not mapped)."""
        if name not in one.fields:
            return "NULL::VARCHAR"
        assert (name, mode) in self._wanted.get(one.table, {}), f"key {name}:{mode} not wanted"
        return f"{one.table}_v.{column('k', f'{name}:{mode}')}"


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
