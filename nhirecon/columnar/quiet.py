"""What the rows the rules do not see add to a run's counts: the columnar engine reads
them only to count them (see :mod:`nhirecon.columnar.decide`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from nhirecon.columnar.keys import Input, TargetInput, column

if TYPE_CHECKING:
    import duckdb


@dataclass(frozen=True)
class Quiet:
    """What the quiet accounts of a target add to its counts."""

    accounts: int = 0
    linked: int = 0
    unmatched: int = 0
    ambiguous: int = 0
    inactive: int = 0


def quiet_accounts(con: duckdb.DuckDBPyConnection, target: TargetInput) -> Quiet:
    """What the quiet accounts of ``target`` add to its counts (``{table}_kept`` made)."""
    table = target.input.table
    inactive = (
        f"count(*) FILTER (WHERE v.{column('v', 'active')} = false)"
        if "active" in target.input.fields
        else "0"
    )
    row: Any = con.execute(
        f"""
        SELECT count(*), count(*) FILTER (WHERE l.status = 'linked'),
               count(*) FILTER (WHERE l.status = 'unmatched'),
               count(*) FILTER (WHERE l.status = 'ambiguous'), {inactive}
        FROM {table}_v AS v JOIN {table}_link AS l USING (n)
        WHERE n NOT IN (SELECT n FROM {table}_kept)
        """
    ).fetchone()
    return Quiet(*row)


def quiet_values(con: duckdb.DuckDBPyConnection, one: Input) -> Mapping[str, int]:
    """How many quiet rows of ``one`` have a value for each field, by field."""
    names = list(one.fields)
    if not names:
        return {}
    row: Any = con.execute(
        "SELECT "
        + ", ".join(f"count({column('v', name)})" for name in names)
        + f" FROM {one.table}_v WHERE n NOT IN (SELECT n FROM {one.table}_kept)"
    ).fetchone()
    return dict(zip(names, row, strict=True))
